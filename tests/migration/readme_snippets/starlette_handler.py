from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from adapter import LambdaAdapter


async def hello(request: Request) -> JSONResponse:
    return JSONResponse({"hello": request.query_params.get("name", "world")})


app = Starlette(routes=[Route("/hello", hello)])

# Built once, at import: every warm invocation reuses its event loop and what the lifespan startup set up.
handler = LambdaAdapter(app)
