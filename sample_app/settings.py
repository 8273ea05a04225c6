"""The app's configuration, read from the environment once per process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    links_table: str = "links"
    # Set when running against DynamoDB Local; absent in AWS, where botocore picks the regional endpoint.
    dynamodb_endpoint_url: str | None = None
    aws_region: str = "us-east-1"
    # The SQS queue that GET /r/{code} publishes clicks to, for the queue's handler to count; unset (the local
    # default), the redirect counts the click itself.
    clicks_queue_url: str | None = None
    # Set when running against a local SQS-compatible endpoint; absent in AWS.
    sqs_endpoint_url: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        return cls(
            links_table=environ.get("LINKS_TABLE") or cls.links_table,
            dynamodb_endpoint_url=environ.get("DYNAMODB_ENDPOINT_URL") or None,
            # Lambda sets AWS_REGION; AWS_DEFAULT_REGION is what the AWS CLI's users tend to have set locally.
            aws_region=environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or cls.aws_region,
            clicks_queue_url=environ.get("CLICKS_QUEUE_URL") or None,
            sqs_endpoint_url=environ.get("SQS_ENDPOINT_URL") or None,
        )

    @property
    def dynamodb_endpoint(self) -> str:
        """Where DynamoDB requests go, for error messages."""
        return self.dynamodb_endpoint_url or f"https://dynamodb.{self.aws_region}.amazonaws.com"
