"""The shared application (see `tests.migration.apps`) in FastAPI."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request
from fastapi.responses import RedirectResponse, Response

from tests.migration.apps import PAYLOAD, REDIRECT_ITEM_ID, SET_COOKIES

app = FastAPI(title="Migration matrix")


@app.get("/items/{item_id}", name="item")
async def item(item_id: str, tag: Annotated[list[str], Query()] = [], q: str | None = None) -> dict[str, Any]:  # noqa: B006
    return {"item_id": item_id, "tags": tag, "q": q}


@app.post("/echo")
async def echo(payload: Annotated[dict[str, Any], Body()]) -> dict[str, Any]:
    return {"received": payload}


@app.get("/cookies")
async def cookies(request: Request, response: Response) -> dict[str, Any]:
    for name, value in SET_COOKIES.items():
        response.set_cookie(name, value)
    return {"cookies": dict(request.cookies)}


@app.get("/go")
async def go(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("item", item_id=REDIRECT_ITEM_ID), status_code=302)


@app.get("/download")
async def download() -> Response:
    return Response(PAYLOAD, media_type="application/octet-stream")
