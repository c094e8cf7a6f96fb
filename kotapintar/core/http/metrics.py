"""Prometheus metrics of this process (issue 19): the instruments the features update, and the middleware
timing every request by its route template (never the raw path: ids would explode the label set)."""

from __future__ import annotations

import time

from prometheus_client import Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_SECONDS = Histogram(
    "kotapintar_http_request_seconds",
    "Time to answer an HTTP request, by method, route template and status class.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
SSE_CLIENTS = Gauge("kotapintar_sse_clients", "Live event-stream (SSE) clients connected to this process.")
TIMER_LAG_SECONDS = Histogram(
    "kotapintar_sop_timer_lag_seconds",
    "Due time to committed firing of SOP timers fired by this process.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
TIMERS_FIRED = Counter("kotapintar_sop_timers_fired", "SOP timers fired by this process.")
DB_UNAVAILABLE = Counter(
    "kotapintar_db_unavailable_responses", "Requests answered 503 because the database was unreachable."
)


class RequestMetrics:
    """Observe each HTTP request's duration under its matched route template ("unmatched" otherwise)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            if route != "/api/v1/stream":  # a stream lasts as long as the client stays: not a latency
                REQUEST_SECONDS.labels(scope.get("method", ""), route, f"{status[0] // 100}xx").observe(
                    time.perf_counter() - started
                )
