from a2wsgi import WSGIMiddleware
from flask import Flask, request

from adapter import LambdaAdapter

app = Flask(__name__)


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": request.args.get("name", "world")}


# a2wsgi declares the WSGI environ as a TypedDict, which mypy does not match with Flask's annotation; at run time
# they are the same object.
handler = LambdaAdapter(WSGIMiddleware(app))  # type: ignore[arg-type]
