"""Rate limits and the login throttle shared between web processes through Redis (`rate_limit_storage_url`).

Two applications stand for two web processes: the counts of one apply to the other. Needs a Redis server
(`KOTAPINTAR_TEST_REDIS_URL`, e.g. redis://127.0.0.1:6379/15) and the `redis` package; skipped otherwise.
"""

from __future__ import annotations

import os
import uuid

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.conftest import skip_or_fail

pytest.importorskip("redis")


def _redis_url() -> str:
    url = os.environ.get("KOTAPINTAR_TEST_REDIS_URL")
    if not url:
        skip_or_fail("KOTAPINTAR_TEST_REDIS_URL is not set: shared rate-limit tests skipped")
    assert url is not None
    return url


def test_two_processes_share_report_limits_and_failed_logins(db: Database, settings: Settings) -> None:
    url = _redis_url()
    from kotapintar.core.access.throttle import login_throttle
    from kotapintar.intake.abuse import limiter

    limiter(url).reset()
    login_throttle(url).reset()
    settings.rate_limit_storage_url = url
    settings.rate_limit_per_ip = "3/minute"
    body = {"service_code": "jalan_rusak", "description": "Jalan berlubang di depan pasar", "lat": -3.0}
    with TestClient(create_app(settings, db=db)) as one, TestClient(create_app(settings, db=db)) as two:
        codes = [
            (one if n % 2 else two)
            .post("/api/v1/reports", json={**body, "lon": 114.39 + n / 100})
            .status_code
            for n in range(4)
        ]
        assert codes == [201, 201, 201, 429]
        user = f"tidakada-{uuid.uuid4().hex[:6]}"
        for n in range(5):
            client = one if n % 2 else two
            assert (
                client.post("/api/v1/auth/token", data={"username": user, "password": "x"}).status_code == 401
            )
        r = one.post("/api/v1/auth/token", data={"username": user, "password": DEMO_PASSWORD})
        assert r.status_code == 429
    limiter(url).reset()
    login_throttle(url).reset()
