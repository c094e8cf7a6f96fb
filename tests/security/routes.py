"""The application's route table, flattened (FastAPI 0.16x nests included routers)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RouteInfo:
    """One route: its path template, HTTP methods and endpoint function."""

    path: str
    methods: frozenset[str]
    endpoint: Callable[..., Any] | None


def iter_routes(app: Any) -> Iterator[RouteInfo]:
    """Every HTTP route of `app` with the path the client calls (mounts such as /static excluded)."""
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if contexts is not None:
            for ctx in contexts():
                yield RouteInfo(str(ctx.path), frozenset(ctx.methods or ()), ctx.endpoint)
        elif getattr(route, "methods", None):
            yield RouteInfo(str(route.path), frozenset(route.methods), getattr(route, "endpoint", None))
