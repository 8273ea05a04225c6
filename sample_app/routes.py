"""The HTTP routes: each reads its input, makes one LinkStore call in a worker thread, and shapes the answer.

PynamoDB blocks on network I/O, so its calls run through `run_in_threadpool` (anyio's worker threads)
rather than on the event loop, where they would stall every other request.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs

from starlette.concurrency import run_in_threadpool
from starlette.endpoints import HTTPEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from sample_app import inputs
from sample_app.clicks import ClickQueue
from sample_app.links import (
    CodeTaken,
    IdempotencyKeyBusy,
    IdempotencyKeyReused,
    LinkNotFound,
    LinkStore,
    VersionMismatch,
)
from sample_app.models import Link
from sample_app.problems import Problem

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")

HTML_PAGE_SIZE = 50
# The live click feed: how long one response follows a link at most (a browser's EventSource then reconnects,
# after the `retry` the feed names), and how often it reads the count.
CLICK_FEED_SECONDS = 25
CLICK_FEED_POLL_SECONDS = 1.0


def store(request: Request) -> LinkStore:
    """The LinkStore that the lifespan startup made for this process."""
    return cast(LinkStore, request.state.store)


def link_json(request: Request, link: Link) -> dict[str, Any]:
    return {
        "code": link.code,
        "url": link.url,
        "short_url": str(request.url_for("follow_link", code=link.code)),
        "clicks": int(link.clicks),
        "version": int(link.version),
        "created_at": link.created_at.isoformat(),
        "expires_at": None if link.expires_at is None else link.expires_at.isoformat(),
    }


def link_response(request: Request, link: Link, status_code: int = 200, **headers: str) -> JSONResponse:
    return JSONResponse(
        link_json(request, link), status_code=status_code, headers={"ETag": inputs.etag(link.version), **headers}
    )


def not_found(code: str) -> Problem:
    return Problem(404, f"There is no link with the code {code!r}.")


def path_code(request: Request) -> str:
    """The {code} path parameter; one that no link could have is simply not found, with no DynamoDB call."""
    code: str = request.path_params["code"]
    if not inputs.is_code(code):
        raise not_found(code)
    return code


def precondition_failed(error: VersionMismatch) -> Problem:
    current = error.current
    return Problem(
        412,
        f"The link {current.code!r} is at version {current.version}, which If-Match does not name: it changed since"
        " you read it. GET it again, then retry with its ETag.",
        headers={"ETag": inputs.etag(current.version)},
    )


# ---- JSON API ---------------------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    links = store(request)
    status = await run_in_threadpool(links.table_status)
    return JSONResponse({"status": "ok", "table": {"name": links.models.settings.links_table, "status": status}})


class Links(HTTPEndpoint):
    """/links: the collection. One endpoint per path, so that a 405 lists every method the path allows."""

    async def post(self, request: Request) -> Response:
        key = inputs.idempotency_key(request.headers.get("Idempotency-Key"))
        new = inputs.new_link(inputs.parse_json_object(await inputs.read_body(request)))
        try:
            created = await run_in_threadpool(store(request).create, new.url, new.code, key)
        except CodeTaken:
            raise Problem(
                409, f"The code {new.code!r} is taken: choose another, or leave it out for a random one."
            ) from None
        except IdempotencyKeyReused:
            raise Problem(
                422, "This Idempotency-Key was first used with a different request: send a new key for a new link."
            ) from None
        except IdempotencyKeyBusy:
            raise Problem(
                409,
                "Another request with this Idempotency-Key is in progress: retry shortly.",
                headers={"Retry-After": "1"},
            ) from None
        headers = {"Location": str(request.url_for("link", code=created.link.code))}
        if created.replayed:
            # Says that this is the stored result of an earlier request, as Stripe does.
            headers["Idempotent-Replayed"] = "true"
        return link_response(request, created.link, 201, **headers)

    async def get(self, request: Request) -> Response:
        limit = inputs.page_size(request.query_params.get("limit"))
        after = inputs.decode_cursor(request.query_params.get("cursor"))
        page = await run_in_threadpool(store(request).page, limit, after)
        return JSONResponse(
            {
                "links": [link_json(request, link) for link in page.links],
                "next_cursor": None if page.after is None else inputs.encode_cursor(page.after),
            }
        )


class LinkItem(HTTPEndpoint):
    """/links/{code}: one link."""

    async def get(self, request: Request) -> Response:
        code = path_code(request)
        try:
            link = await run_in_threadpool(store(request).get, code)
        except LinkNotFound:
            raise not_found(code) from None
        return link_response(request, link)

    async def patch(self, request: Request) -> Response:
        code = path_code(request)
        if_match = request.headers.get("If-Match")
        if if_match is None:
            # Without a version, a PATCH could undo a change its sender never saw (RFC 6585, 3).
            raise Problem(428, 'PATCH needs an If-Match header with the link\'s ETag (such as "3"), from a GET.')
        versions = inputs.if_match_versions(if_match)
        url = inputs.link_patch(inputs.parse_json_object(await inputs.read_body(request)))
        try:
            link = await run_in_threadpool(store(request).update_url, code, url, versions)
        except LinkNotFound:
            raise not_found(code) from None
        except VersionMismatch as error:
            raise precondition_failed(error) from None
        return link_response(request, link)

    async def delete(self, request: Request) -> Response:
        code = path_code(request)
        if_match = request.headers.get("If-Match")
        versions = None if if_match is None else inputs.if_match_versions(if_match)
        try:
            await run_in_threadpool(store(request).delete, code, versions)
        except LinkNotFound:
            raise not_found(code) from None
        except VersionMismatch as error:
            raise precondition_failed(error) from None
        return Response(status_code=204)


async def follow_link(request: Request) -> Response:
    code = path_code(request)
    clicks: ClickQueue | None = request.state.clicks
    try:
        if clicks is None:
            url = await run_in_threadpool(store(request).click, code)
        else:
            # The queue's handler counts the click (sample_app/triggers.py); the redirect only reads the link.
            url = (await run_in_threadpool(store(request).get, code)).url
            await run_in_threadpool(clicks.publish, code)
    except LinkNotFound:
        raise not_found(code) from None
    # 307 rather than 302 or 301: browsers do not cache it, so every visit comes back and is counted.
    return RedirectResponse(url, status_code=307)


async def click_feed(request: Request) -> Response:
    """/links/{code}/clicks: server-sent events, a `clicks` event with the count at once and another each time it
    changes, for `?seconds=` (1 to 25, default 25); a `gone` event if the link is deleted meanwhile.

    Behind a Function URL in RESPONSE_STREAM mode (template.yaml's LinksStreamFunction, which runs adapter.runtime
    with streaming on) each event reaches the client as it is sent; behind a buffered front door they would all
    arrive together when the feed ends, so the page and the docs point at the streaming URL.
    """
    code = path_code(request)
    seconds = request.query_params.get("seconds", str(CLICK_FEED_SECONDS))
    if not seconds.isdigit() or not 1 <= int(seconds) <= CLICK_FEED_SECONDS:
        raise Problem(400, f"seconds must be a whole number from 1 to {CLICK_FEED_SECONDS}, not {seconds[:20]!r}.")
    links = store(request)
    try:
        link = await run_in_threadpool(links.get, code)
    except LinkNotFound:
        raise not_found(code) from None

    def event(count: int) -> str:
        return f"event: clicks\ndata: {json.dumps({'code': code, 'clicks': count})}\n\n"

    async def events() -> AsyncIterator[str]:
        last = int(link.clicks)
        yield f"retry: {int(CLICK_FEED_POLL_SECONDS * 1000)}\n" + event(last)
        end = time.monotonic() + int(seconds)
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(CLICK_FEED_POLL_SECONDS, left))
            try:
                current = int((await run_in_threadpool(links.get, code)).clicks)
            except LinkNotFound:
                yield "event: gone\ndata: {}\n\n"
                return
            if current != last:
                last = current
                yield event(current)

    # no-cache: proxies and browsers must not keep a feed; X-Accel-Buffering: the nginx convention for "do not
    # buffer this response", which some proxies in front of local servers honour.
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


# ---- HTML page --------------------------------------------------------------------------------------------


class Index(HTTPEndpoint):
    """/: the HTML page, and its form."""

    async def get(self, request: Request) -> Response:
        return await render_index(request)

    async def post(self, request: Request) -> Response:
        """Create, then redirect back to the page (POST/redirect/GET), or show the page with the error and what
        was typed."""
        content_type = request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/x-www-form-urlencoded":
            raise Problem(415, "The form must be sent as application/x-www-form-urlencoded.")
        # A plain form needs no multipart parser: the standard library reads it.
        body = (await inputs.read_body(request)).decode(errors="replace")
        form = {name: values[-1] for name, values in parse_qs(body).items()}
        url, code = form.get("url", "").strip(), form.get("code", "").strip()
        error = inputs.url_error(url)
        if error is not None:
            return await render_index(request, error=f"The URL {error}.", form=form, status_code=422)
        if code and not inputs.is_code(code):
            return await render_index(
                request, error="A code is 1 to 64 letters, digits, '-' or '_'.", form=form, status_code=422
            )
        try:
            await run_in_threadpool(store(request).create, url, code or None, None)
        except CodeTaken:
            return await render_index(request, error=f"The code {code!r} is taken.", form=form, status_code=409)
        # 303: the browser follows with a GET, so reloading the page does not post the form again.
        return RedirectResponse(request.url_for("index"), status_code=303)


async def render_index(
    request: Request, *, error: str | None = None, form: dict[str, str] | None = None, status_code: int = 200
) -> Response:
    after = inputs.decode_cursor(request.query_params.get("cursor"))
    page = await run_in_threadpool(store(request).page, HTML_PAGE_SIZE, after)
    return templates.TemplateResponse(
        request,
        "index.html",
        {
            "links": page.links,
            "next_cursor": None if page.after is None else inputs.encode_cursor(page.after),
            "error": error,
            "form": form or {},
            "code_pattern": inputs.CODE_PATTERN,
        },
        status_code=status_code,
    )


routes = [
    Route("/", Index, name="index"),
    Route("/health", health, methods=["GET"], name="health"),
    Route("/links", Links, name="links"),
    Route("/links/{code}", LinkItem, name="link"),
    Route("/links/{code}/clicks", click_feed, methods=["GET"], name="click_feed"),
    Route("/r/{code}", follow_link, methods=["GET"], name="follow_link"),
]
