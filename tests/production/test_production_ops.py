"""Operations (issue 19): /healthz, /readyz, /metrics, request ids and JSON logs; and a real database
outage — a private PostgreSQL cluster stopped with `-m immediate` — answered with 503 + Retry-After in the
API's error shape, a "database unavailable" page for staff, /healthz alive and /readyz failing."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.reference import load_demo_city
from kotapintar.app.web import create_app
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.http.logs import JsonFormatter, request_id
from kotapintar.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import report, web_client
from tests.production.private_postgres import PrivatePostgres

pytestmark = [pytest.mark.multiprocess]


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    cluster = PrivatePostgres()
    cluster.init()
    cluster.start()
    try:
        yield cluster
    finally:
        try:
            cluster.stop()
        except Exception:  # already stopped by a failing test
            logging.getLogger(__name__).info("private cluster already stopped")
        cluster.remove()


def test_a_database_outage_answers_503_and_a_page_then_recovers(
    private_pg: PrivatePostgres, tmp_path: Path
) -> None:
    db = Database(private_pg.url)
    upgrade(db.engine)
    load_demo_city(db, system_actor("test"))
    settings = make_settings(private_pg.url, tmp_path)
    app = create_app(settings, db=db)
    staff = web_client(app, "operator")
    api = TestClient(app)
    assert api.get("/readyz").json() == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}
    assert staff.get("/operator").status_code == 200

    private_pg.stop("immediate")
    try:
        r = api.get("/api/v1/public/cases")
        assert r.status_code == 503
        assert r.headers["retry-after"] == str(settings.db_retry_after_s)
        assert r.json()["error"]["code"] == "database_unavailable"
        r = api.post("/api/v1/reports", json=report().model_dump(mode="json"))
        assert r.status_code == 503 and r.json()["error"]["code"] == "database_unavailable"
        page = staff.get("/operator", headers={"accept": "text/html"})
        assert page.status_code == 503
        assert "Basis data tidak tersedia" in page.text and page.headers["content-type"].startswith(
            "text/html"
        )
        assert api.get("/healthz").status_code == 200
        ready = api.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("unavailable")
        assert "kotapintar_db_unavailable_responses_total" in api.get("/metrics").text
    finally:
        private_pg.start()
    assert api.get("/api/v1/public/cases").status_code == 200  # back at once: the pool reconnects
    assert staff.get("/operator").status_code == 200
    db.dispose()


def test_healthz_readyz_metrics_and_request_ids_on_sqlite(db: Database, settings: Settings) -> None:
    client = TestClient(create_app(settings, db=db))
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["checks"] == {"database": "ok", "migrations": "ok"}
    r = client.get("/api/v1/public/cases", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    assert len(client.get("/healthz", headers={"X-Request-ID": "bad id\n"}).headers["x-request-id"]) == 32
    text = client.get("/metrics").text
    assert (
        'kotapintar_http_request_seconds_count{method="GET",route="/api/v1/public/cases",status="2xx"}'
        in text
    )
    assert "kotapintar_notifier_queue 0.0" in text
    assert "kotapintar_sop_oldest_due_timer_seconds 0.0" in text


def test_metrics_token_and_switch(db: Database, settings: Settings) -> None:
    guarded = TestClient(create_app(settings.model_copy(update={"metrics_token": "s3cret"}), db=db))
    assert guarded.get("/metrics").status_code == 401
    assert guarded.get("/metrics", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    off = TestClient(create_app(settings.model_copy(update={"metrics_enabled": False}), db=db))
    assert off.get("/metrics").status_code == 404


def test_json_log_lines_carry_the_request_id() -> None:
    token = request_id.set("req-42")
    try:
        record = logging.LogRecord(
            "kotapintar.x", logging.INFO, __file__, 1, "opened %s", ("api_key=abc",), None
        )
        line = json.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["request_id"] == "req-42" and line["level"] == "INFO"
    assert line["message"] == "opened api_key=abc" or "***" in line["message"]
