import os

from a2wsgi import WSGIMiddleware
from django.core.wsgi import get_wsgi_application

from adapter import LambdaAdapter

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

handler = LambdaAdapter(WSGIMiddleware(get_wsgi_application()))
