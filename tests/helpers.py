"""Small helpers the tests share: actors of the demo users, a valid report, a logged-in web client, waiting."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from kotapintar.cases.schemas import ReportIn
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import actor_for
from kotapintar.core.db.database import Database

# A point inside Kecamatan Selat (Kuala Kapuas town) in the demo city.
KUALA_KAPUAS = (114.39, -3.0)


def actor(db: Database, username: str) -> Actor:
    """The actor of a demo user."""
    with db.reading() as uow:
        user = uow.users.by_username(username)
        assert user is not None, f"demo user {username} missing"
        return actor_for(user)


def report(**overrides: Any) -> ReportIn:
    """A valid report in Kuala Kapuas, with fields overridden."""
    data: dict[str, Any] = {
        "service_code": "jalan_rusak",
        "description": "Jalan berlubang besar di depan SDN 2 Selat, bahaya untuk motor.",
        "lon": KUALA_KAPUAS[0],
        "lat": KUALA_KAPUAS[1],
        "channel": "api",
        "reporter": {"name": "Budi Santoso", "phone": "+6281234567890", "email": "budi@example.org"},
    }
    data.update(overrides)
    return ReportIn.model_validate(data)


def spot(n: int) -> dict[str, float]:
    """The n-th of 24 points in Kuala Kapuas about 330 m apart: reports there are separate incidents.

    Triage merges a report into an open case of the same service nearby; tests that need several cases
    of one service put them at different spots.
    """
    return {"lon": KUALA_KAPUAS[0] + 0.003 * (n % 6), "lat": KUALA_KAPUAS[1] + 0.003 * (n // 6 % 4)}


DEMO_PASSWORD = "kotapintar-demo"
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def web_client(app: Any, username: str | None = None) -> TestClient:
    """A browser-like client, logged in through the login form when `username` is given."""
    c = TestClient(app)
    if username:
        token = CSRF_TOKEN.search(c.get("/masuk").text)
        assert token, "the login form carries a CSRF token"
        r = c.post(
            "/masuk",
            data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token.group(1)},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text[:500]
    return c


def wait_for(check: Callable[[], object], seconds: float = 60) -> bool:
    """Poll `check` until it is truthy or `seconds` pass; True when it became truthy."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def assert_invariants(db: Any) -> None:
    """`kotapintar check` over the test database: fails naming every offending row."""
    from kotapintar.app.integrity import check_database

    problems = check_database(db)
    assert not problems, "\n".join(p.line() for p in problems)
