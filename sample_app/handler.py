"""The Lambda entry point: `sample_app.handler.handler`, the same app that uvicorn serves."""

from __future__ import annotations

from adapter import LambdaAdapter
from sample_app.app import app
from sample_app.triggers import triggers

# HTTP requests go to the app; SQS clicks, the schedule and import batches to the handlers in triggers.py.
handler = LambdaAdapter(app, triggers=triggers)
# The lifespan startup (binding the models, creating the DynamoDB client) runs now, during the Lambda init
# phase, rather than in the first request: https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html#runtimes-lifecycle-ib
handler.startup()
