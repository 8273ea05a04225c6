import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

from adapter import LambdaAdapter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

# a2wsgi declares the ASGI scope as a TypedDict, which mypy does not match with LambdaAdapter's annotation.
handler = LambdaAdapter(WSGIMiddleware(get_wsgi_application()))  # type: ignore[arg-type]
