"""The shared application (see `tests.migration.apps`) in Django, served as ASGI through a2wsgi.

Django's settings belong to the process, so they are configured here, once, with this module as the URLconf;
nothing else in the test suite uses Django.
"""

from __future__ import annotations

import json
from typing import Any

import django
from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse

from tests.migration.apps import PAYLOAD, REDIRECT_ITEM_ID, SET_COOKIES

if not settings.configured:
    settings.configure(
        DEBUG=False,
        SECRET_KEY="migration-matrix-only",
        # API Gateway, Function URL and load balancer host names, and the custom domain the tests use.
        ALLOWED_HOSTS=[".amazonaws.com", ".on.aws", "api.example.com"],
        ROOT_URLCONF=__name__,
        INSTALLED_APPS=[],
        MIDDLEWARE=[],
        USE_TZ=True,
    )
    django.setup()


def item(request: HttpRequest, item_id: str) -> JsonResponse:
    return JsonResponse({"item_id": item_id, "tags": request.GET.getlist("tag"), "q": request.GET.get("q")})


def echo(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"received": json.loads(request.body)})


def cookies(request: HttpRequest) -> JsonResponse:
    response = JsonResponse({"cookies": dict(request.COOKIES)})
    for name, value in SET_COOKIES.items():
        response.set_cookie(name, value)
    return response


def go(request: HttpRequest) -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("item", kwargs={"item_id": REDIRECT_ITEM_ID}))


def download(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAYLOAD, content_type="application/octet-stream")


urlpatterns: list[Any] = [
    path("items/<str:item_id>", item, name="item"),
    path("echo", echo),
    path("cookies", cookies),
    path("go", go),
    path("download", download),
]

app = WSGIMiddleware(get_wsgi_application())
