from fastapi import FastAPI

from adapter import LambdaAdapter

app = FastAPI()


@app.get("/hello")
async def hello(name: str = "world") -> dict[str, str]:
    return {"hello": name}


handler = LambdaAdapter(app)
