"""Operations endpoints and behaviour (issue 19): /healthz, /readyz, /metrics, request ids, and the answer
while the database is unreachable (503 with Retry-After and the API's error body; an HTML page for people).

Composition only: it reads the features' tables through their repositories for the figures /metrics
computes at scrape time (figures that hold across processes: the notifier queue, the escalated tasks, the
lag of the oldest due timer), and the process-local instruments of `core.http.metrics`.
"""

from __future__ import annotations

import html
import math
import socket
from collections.abc import Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from kotapintar import __version__
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.errors import error_body
from kotapintar.core.http.logs import RequestIdMiddleware
from kotapintar.core.http.metrics import DB_UNAVAILABLE, RequestMetrics
from kotapintar.core.i18n import negotiate_locale, translate
from kotapintar.core.settings import Settings

_MACHINE_PREFIXES = ("/api/", "/open311/", "/ngsi-ld/", "/channels/", "/metrics", "/readyz", "/healthz")
UNREACHABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError)


@lru_cache(maxsize=1)
def _head_revision() -> str:
    """The newest migration shipped with this code (read once per process)."""
    from alembic.script import ScriptDirectory

    from kotapintar.core.db.migrate import MIGRATIONS_DIR, alembic_config

    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert MIGRATIONS_DIR.exists()
    return ",".join(sorted(script.get_heads()))


def check_database(db: Database, head: str) -> dict[str, str]:
    """The database check of /readyz: reachable, and its schema at the code's newest migration."""
    try:
        with db.reading() as uow:
            rows = uow.session.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception as exc:  # unreachable, or not migrated at all
        return {"database": f"unavailable: {type(exc).__name__}"}
    current = ",".join(sorted(rows))
    return {
        "database": "ok",
        "migrations": "ok" if current == head else f"at {current or 'none'}, code at {head}",
    }


def check_broker(url: str | None, timeout_s: float = 1.0) -> dict[str, str]:
    """The broker check of /readyz: a TCP connection to the MQTT broker when one is configured."""
    if not url:
        return {}
    from kotapintar.sensors.runtime import broker_address

    host, port, _user, _password = broker_address(url)
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return {"broker": "ok"}
    except OSError as exc:
        return {"broker": f"unavailable: {exc.strerror or type(exc).__name__}"}


class DatabaseFigures(Collector):
    """Gauges computed from the database at scrape time: true across all processes of the deployment."""

    def __init__(self, db: Database, ingestors: list[Any]) -> None:
        self.db, self.ingestors = db, ingestors

    def collect(self) -> Iterator[Metric]:
        """The figures; nothing (rather than an error) while the database is unreachable."""
        yield from _ingest_figures(self.ingestors)
        yield from _replica_figures(self.db)
        try:
            now = utcnow()
            with self.db.reading() as uow:
                queue = uow.session.scalar(
                    text("SELECT count(*) FROM channel_notifications WHERE sent_at IS NULL AND due_at <= :n"),
                    {"n": now},
                )
                escalated = uow.session.scalar(text("SELECT count(*) FROM tasks WHERE status = 'escalated'"))
                oldest = uow.session.scalar(
                    text("SELECT min(due_at) FROM timers WHERE due_at <= :n"), {"n": now}
                )
        except Exception:  # the outage shows in kotapintar_up-style probes (/readyz), not as a scrape error
            return
        yield GaugeMetricFamily(
            "kotapintar_notifier_queue",
            "Status messages to reporters due and not sent yet.",
            value=queue or 0,
        )
        yield GaugeMetricFamily(
            "kotapintar_sop_escalated_tasks", "SOP tasks escalated and still open.", value=escalated or 0
        )
        lag = 0.0
        if isinstance(oldest, datetime):
            lag = max(
                0.0, (now - (oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo))).total_seconds()
            )
        yield GaugeMetricFamily(
            "kotapintar_sop_oldest_due_timer_seconds",
            "How long the oldest due SOP timer has waited (0 when none is due): the workers' backlog.",
            value=lag,
        )


def _replica_figures(db: Database) -> Iterator[Metric]:
    """The read replica as this process last measured it, and where its replica-eligible reads went."""
    if db.replica is None:
        return
    status = db.replica.status()
    yield GaugeMetricFamily(
        "kotapintar_read_replica_up",
        "1 while reads may go to the read replica (reachable, lag in bounds).",
        value=1 if status.state == "ok" else 0,
    )
    lag = status.lag_s if status.lag_s is not None and not math.isinf(status.lag_s) else float("nan")
    yield GaugeMetricFamily(
        "kotapintar_read_replica_lag_seconds",
        "How far the read replica is behind the primary (NaN: unknown).",
        value=lag,
    )
    reads = CounterMetricFamily(
        "kotapintar_replica_eligible_reads",
        "Read sessions of replica-eligible requests in this process, by the database that served them.",
        labels=("source",),
    )
    for source, count in db.replica.reads.items():
        reads.add_metric((source,), count)
    yield reads


def _ingest_figures(ingestors: list[Any]) -> Iterator[GaugeMetricFamily]:
    """Counters of the MQTT sensor ingestors running in this process."""
    if not ingestors:
        return
    for name, attr, doc in (
        ("kotapintar_ingest_received", "received", "MQTT sensor messages received by this process."),
        ("kotapintar_ingest_stored", "stored", "Sensor readings stored by this process."),
        (
            "kotapintar_ingest_dropped",
            "dropped",
            "MQTT sensor messages dropped (backlog full) by this process.",
        ),
        ("kotapintar_ingest_backlog", "backlog", "MQTT sensor messages waiting for ingest in this process."),
    ):
        yield GaugeMetricFamily(name, doc, value=sum(getattr(i.stats, attr) for i in ingestors))


def scrape(db: Database, ingestors: list[Any]) -> bytes:
    """The Prometheus text of this process's instruments and the database figures."""
    local = CollectorRegistry()
    local.register(DatabaseFigures(db, ingestors))
    return generate_latest(REGISTRY) + generate_latest(local)


def unavailable_response(request: Request, retry_after_s: int) -> Response:
    """503 while the database is unreachable: the API's error body, or a page a person understands."""
    DB_UNAVAILABLE.inc()
    headers = {"Retry-After": str(retry_after_s), "Cache-Control": "no-store"}
    locale = negotiate_locale(request)
    path = request.url.path
    wants_html = "text/html" in request.headers.get("accept", "") and not path.startswith(_MACHINE_PREFIXES)
    if not wants_html:
        message = translate("ops.db_unavailable.api", locale, seconds=retry_after_s)
        return JSONResponse(
            error_body("database_unavailable", message, retry_after_s=retry_after_s),
            status_code=503,
            headers=headers,
        )
    title = html.escape(translate("ops.db_unavailable.title", locale))
    body = html.escape(translate("ops.db_unavailable.body", locale, seconds=retry_after_s))
    page = (
        f'<!doctype html><html lang="{locale}"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{retry_after_s}"><title>{title} — Kotapintar</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        f'<body style="font-family:sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem">'
        f'<h1 role="alert">{title}</h1><p>{body}</p></body></html>'
    )
    return HTMLResponse(page, status_code=503, headers=headers)


def install_ops(app: FastAPI, settings: Settings) -> None:
    """Health, readiness, metrics, request ids and the outage answer."""
    head = _head_revision()

    async def _unreachable(request: Request, _exc: Exception) -> Response:
        return unavailable_response(request, settings.db_retry_after_s)

    for kind in UNREACHABLE:
        app.add_exception_handler(kind, _unreachable)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (it does not touch the database; see /readyz)."""
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["ops"])
    def readyz(request: Request) -> JSONResponse:
        """Readiness: database reachable, schema at the newest migration, broker reachable when configured."""
        db: Database = request.app.state.db
        checks = {**check_database(db, head), **check_broker(settings.mqtt_url)}
        ready = all(value == "ok" for value in checks.values())
        body: dict[str, Any] = {"status": "ready" if ready else "not_ready", "checks": checks}
        if db.replica is not None:  # detail only: without the replica the primary serves every read
            body["read_replica"] = db.replica.status().as_dict()
        return JSONResponse(
            body,
            status_code=200 if ready else 503,
            headers={"Cache-Control": "no-store"}
            if ready
            else {"Retry-After": str(settings.db_retry_after_s)},
        )

    if settings.metrics_enabled:

        @app.get("/metrics", tags=["ops"], response_class=PlainTextResponse)
        def metrics(request: Request) -> Response:
            """Prometheus metrics (text format); with `metrics_token` set, only for its bearer."""
            if (
                settings.metrics_token
                and request.headers.get("authorization") != f"Bearer {settings.metrics_token}"
            ):
                return JSONResponse(
                    error_body("unauthorized", "Token metrik diperlukan / metrics token required."),
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
            body = scrape(request.app.state.db, request.app.state.sensor_ingestors)
            return Response(body, media_type=CONTENT_TYPE_LATEST)

        app.add_middleware(RequestMetrics)
    app.add_middleware(RequestIdMiddleware, header=settings.request_id_header)
