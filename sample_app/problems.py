"""Errors as RFC 9457 problem details (`application/problem+json`): https://www.rfc-editor.org/rfc/rfc9457"""

from __future__ import annotations

import http
import logging
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from sample_app.links import ServiceUnavailable

logger = logging.getLogger("sample_app")

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the client can act on. `extensions` become extra members, e.g. `errors=[...]`."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_JSON


def problem_response(
    status: int, detail: str, *, headers: Mapping[str, str] | None = None, **extensions: Any
) -> Response:
    # "about:blank" says the problem is just its HTTP status, so the title is the status phrase (RFC 9457, 4.2.1).
    body = {"type": "about:blank", "title": http.HTTPStatus(status).phrase, "status": status, "detail": detail}
    return ProblemResponse({**body, **extensions}, status_code=status, headers=headers)


async def on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Problem)
    return problem_response(exc.status, exc.detail, headers=exc.headers, **exc.extensions)


async def on_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no such route, method not allowed, body too large) in the same format."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        detail = f"Nothing here: {request.method} {request.url.path}."
    elif exc.status_code == 405:
        detail = f"{request.url.path} does not accept {request.method}."
    else:
        detail = exc.detail
    return problem_response(exc.status_code, detail, headers=exc.headers)


async def on_dynamodb_unavailable(request: Request, exc: Exception) -> Response:
    """503 while DynamoDB (or the clicks queue) cannot be used; the one log line names the endpoint and the reason."""
    assert isinstance(exc, ServiceUnavailable)
    logger.error("%s", exc)
    # Retry-After: a second is enough for throttling or a restarting endpoint to clear, and keeps retries slow.
    return problem_response(503, exc.public_detail, headers={"Retry-After": "1"})


async def on_server_error(request: Request, exc: Exception) -> Response:
    """The body of a 500; Starlette re-raises the exception afterwards, so the server logs its traceback."""
    return problem_response(500, "The server failed to handle this request; the error is logged.")


EXCEPTION_HANDLERS = {
    Problem: on_problem,
    HTTPException: on_http_exception,
    ServiceUnavailable: on_dynamodb_unavailable,
    Exception: on_server_error,
}
