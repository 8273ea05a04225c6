from a2wsgi import WSGIMiddleware
from flask import Flask, request

from adapter import LambdaAdapter

app = Flask(__name__)


@app.get("/hello")
def hello() -> dict[str, str]:
    return {"hello": request.args.get("name", "world")}


# a2wsgi declares the WSGI environ and the ASGI scope as TypedDicts, which mypy does not match with Flask's and
# LambdaAdapter's annotations; at run time they are the same objects.
handler = LambdaAdapter(WSGIMiddleware(app))  # type: ignore[arg-type]
