"""The shared application (see `tests.migration.apps`) in Flask, served as ASGI through a2wsgi."""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware
from flask import Flask, Response, jsonify, redirect, request, url_for

from tests.migration.apps import PAYLOAD, REDIRECT_ITEM_ID, SET_COOKIES

flask_app = Flask(__name__)


@flask_app.get("/items/<item_id>")
def item(item_id: str) -> dict[str, Any]:
    return {"item_id": item_id, "tags": request.args.getlist("tag"), "q": request.args.get("q")}


@flask_app.post("/echo")
def echo() -> dict[str, Any]:
    return {"received": request.get_json()}


@flask_app.get("/cookies")
def cookies() -> Response:
    response = jsonify(cookies=dict(request.cookies))
    for name, value in SET_COOKIES.items():
        response.set_cookie(name, value)
    return response


@flask_app.get("/go")
def go() -> Any:
    return redirect(url_for("item", item_id=REDIRECT_ITEM_ID))


@flask_app.get("/download")
def download() -> Response:
    return Response(PAYLOAD, mimetype="application/octet-stream")


# a2wsgi declares the WSGI environ as a TypedDict and Flask as dict[str, Any]: the same object at run time.
app = WSGIMiddleware(flask_app)  # type: ignore[arg-type]
