"""The route template of a request (`/links/{code}`, not `/links/abc`), read after the application routed it.

Traces and access logs group requests by route; the concrete path would make one group per link code.
Starlette's router stores the matched route in `scope["route"]` on the scope it was given, which is the
same dict the middleware passed down (Starlette middlewares and routers update the scope in place; see
`Router.app` in starlette/routing.py). A `Mount` runs a router of its own that overwrites `scope["route"]`
with the inner route and extends `scope["root_path"]`, so when the root path changed on the way down the
template is composed by matching the request again from the outermost router (`scope["router"]`, which
Starlette sets only once), joining each mount's path to the inner route's.
"""

from __future__ import annotations

from typing import Any

from adapter.types import Scope


def route_template(scope: Scope, root_path: str) -> str | None:
    """The template of the route that handled the request, or None when no route matched.

    `root_path` is `scope["root_path"]` as it was before the application ran.
    """
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return None
    if scope.get("root_path", "") == root_path:
        return path
    return _composed_template(scope, root_path)


def _composed_template(scope: Scope, root_path: str) -> str | None:
    # Imported here: only applications routed by Starlette (or FastAPI) ever get this far.
    from starlette.routing import Match, Mount

    router = scope.get("router")
    routes: list[Any] = list(getattr(router, "routes", ()))
    probe = dict(scope, root_path=root_path, path_params={})
    prefix = ""
    while True:
        chosen: Any = None
        chosen_scope: dict[str, Any] = {}
        for candidate in routes:
            match, child_scope = candidate.matches(probe)
            if match is Match.FULL:
                chosen, chosen_scope = candidate, child_scope
                break
            if match is Match.PARTIAL and chosen is None:
                chosen, chosen_scope = candidate, child_scope
        if chosen is None:
            return None
        if not isinstance(chosen, Mount):
            return prefix + str(chosen.path)
        prefix += chosen.path
        routes = list(chosen.routes)
        if not routes:
            # A mounted application that is not a router (static files, another framework).
            return prefix + "/{path}"
        probe.update(chosen_scope)
