"""A Lambda context object, with the attributes and method of the one the Python runtime passes.

https://docs.aws.amazon.com/lambda/latest/dg/python-context.html
"""

from __future__ import annotations

import time
from typing import Any


class LocalContext:
    """The context of one local invocation; `get_remaining_time_in_millis()` counts down from the timeout."""

    def __init__(
        self,
        *,
        aws_request_id: str,
        function_name: str,
        memory_limit_in_mb: int,
        timeout: float,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        log_stream_name: str = "",
    ) -> None:
        self.aws_request_id = aws_request_id
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{region}:{account_id}:function:{function_name}"
        self.memory_limit_in_mb = memory_limit_in_mb
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = log_stream_name
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))

    def __repr__(self) -> str:
        return f"LocalContext(aws_request_id={self.aws_request_id!r}, function_name={self.function_name!r})"
