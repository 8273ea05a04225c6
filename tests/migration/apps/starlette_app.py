"""The shared application (see `tests.migration.apps`) in Starlette."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from tests.migration.apps import PAYLOAD, REDIRECT_ITEM_ID, SET_COOKIES


async def item(request: Request) -> JSONResponse:
    return JSONResponse(
        {
            "item_id": request.path_params["item_id"],
            "tags": request.query_params.getlist("tag"),
            "q": request.query_params.get("q"),
        }
    )


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"received": await request.json()})


async def cookies(request: Request) -> JSONResponse:
    response = JSONResponse({"cookies": dict(request.cookies)})
    for name, value in SET_COOKIES.items():
        response.set_cookie(name, value)
    return response


async def go(request: Request) -> RedirectResponse:
    return RedirectResponse(request.url_for("item", item_id=REDIRECT_ITEM_ID), status_code=302)


async def download(request: Request) -> Response:
    return Response(PAYLOAD, media_type="application/octet-stream")


app = Starlette(
    routes=[
        Route("/items/{item_id}", item, name="item"),
        Route("/echo", echo, methods=["POST"]),
        Route("/cookies", cookies),
        Route("/go", go),
        Route("/download", download),
    ]
)
