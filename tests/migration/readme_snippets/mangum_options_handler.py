from fastapi import FastAPI

from adapter import LambdaAdapter

app = FastAPI()


@app.get("/hello")
async def hello() -> dict[str, str]:
    return {"hello": "world"}


handler = LambdaAdapter(
    app,
    lifespan="auto",
    api_gateway_base_path="/v1",
    text_mime_types=["application/vnd.api+json"],
    exclude_headers=["x-powered-by"],
)
