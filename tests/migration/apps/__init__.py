"""One small application written four times (Starlette, FastAPI, Flask, Django), each exposing `app` (ASGI).

Every version answers the same routes the same way, so one set of tests covers all four:

- `GET /items/{item_id}`: `{"item_id": ..., "tags": [every "tag" query value], "q": the "q" query value}`
- `POST /echo`: `{"received": the JSON request body}`
- `GET /cookies`: `{"cookies": {name: value}}` of the request cookies, and sets the cookies in `SET_COOKIES`
- `GET /go`: a redirect to `/items/42`, with the URL built by the framework's own URL building
- `GET /download`: `PAYLOAD` as `application/octet-stream`
"""

from __future__ import annotations

# Every byte value, so that any text decoding or re-encoding on the way out would show.
PAYLOAD = bytes(range(256)) * 4

# Two cookies, so that a response shape that keeps one value per header name would lose one.
SET_COOKIES = {"visited": "yes", "flavour": "oat"}

REDIRECT_ITEM_ID = "42"
