from __future__ import annotations

from sample_app.settings import Settings


def test_defaults_when_the_environment_says_nothing() -> None:
    settings = Settings.from_environ({})

    assert settings == Settings(links_table="links", dynamodb_endpoint_url=None, aws_region="us-east-1")
    assert settings.dynamodb_endpoint == "https://dynamodb.us-east-1.amazonaws.com"


def test_read_from_the_environment() -> None:
    environ = {"LINKS_TABLE": "links-prod", "DYNAMODB_ENDPOINT_URL": "http://127.0.0.1:8001", "AWS_REGION": "eu-west-1"}

    settings = Settings.from_environ(environ)

    assert settings == Settings("links-prod", "http://127.0.0.1:8001", "eu-west-1")
    assert settings.dynamodb_endpoint == "http://127.0.0.1:8001"


def test_aws_default_region_when_aws_region_is_unset() -> None:
    assert Settings.from_environ({"AWS_DEFAULT_REGION": "ap-south-1"}).aws_region == "ap-south-1"
    assert (
        Settings.from_environ({"AWS_REGION": "eu-north-1", "AWS_DEFAULT_REGION": "ap-south-1"}).aws_region
        == "eu-north-1"
    )


def test_empty_values_count_as_unset() -> None:
    assert Settings.from_environ({"LINKS_TABLE": "", "DYNAMODB_ENDPOINT_URL": ""}) == Settings()
