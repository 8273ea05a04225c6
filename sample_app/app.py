"""The Starlette application: `uvicorn sample_app.app:app` locally, `sample_app.handler.handler` in Lambda."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware

from adapter.tracing import XRayMiddleware
from sample_app.clicks import ClickQueue
from sample_app.links import DynamoDBUnavailable, LinkStore
from sample_app.logs import AccessLogMiddleware, configure_logging
from sample_app.models import bind
from sample_app.problems import EXCEPTION_HANDLERS
from sample_app.routes import routes
from sample_app.settings import Settings

logger = logging.getLogger("sample_app")


class State(TypedDict):
    store: LinkStore
    # Where redirects publish clicks; None when they count them themselves.
    clicks: ClickQueue | None


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        # Once per process (per Lambda execution environment): bind the models and create the DynamoDB client,
        # whose first request also opens the connection that later requests reuse.
        store = LinkStore(bind(settings))
        try:
            status = await run_in_threadpool(store.table_status)
            logger.info("DynamoDB table %r is %s", settings.links_table, status)
        except DynamoDBUnavailable as error:
            # Start anyway: /health and every data route answer 503 until DynamoDB is back.
            logger.warning("%s", error)
        clicks = ClickQueue(settings) if settings.clicks_queue_url else None
        try:
            yield {"store": store, "clicks": clicks}
        finally:
            if clicks is not None:
                clicks.close()

    # Outermost first: the access log times the whole request; X-Ray is on in Lambda or with a daemon address.
    middleware: list[Middleware] = [Middleware(AccessLogMiddleware), Middleware(XRayMiddleware, service="links")]
    return Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        # No max_body_size: Starlette's limit answers in text/plain, so routes read bodies through
        # inputs.read_body, whose 413 is a problem like every other error.
        lifespan=lifespan,
    )


configure_logging()
app = create_app(Settings.from_environ())
