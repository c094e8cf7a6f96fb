"""Small helpers the tests share: actors of the demo users and a valid report."""

from __future__ import annotations

from typing import Any

from kotapintar.services.actors import Actor
from kotapintar.services.auth import actor_for
from kotapintar.services.schemas import ReportIn
from kotapintar.store.db import Database

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
