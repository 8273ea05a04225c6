from fastapi import FastAPI

from adapter import LambdaAdapter
from adapter.sources import ALB, HTTPAPIV2

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


# Only HTTP API (and Function URL) and load balancer events; any other event raises UnsupportedEvent.
handler = LambdaAdapter(app, sources=(HTTPAPIV2, ALB))
