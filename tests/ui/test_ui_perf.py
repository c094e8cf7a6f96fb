"""The operator page stays fast with 100,000 cases in the database (SQLite; bulk-inserted setup)."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert

from kotapintar.app.web import create_app
from kotapintar.cases.models import Case
from kotapintar.catalog.repository import RegionRepository, ServiceRepository
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings

TOTAL = 100_000
OPEN_SHARE = 0.1  # 10,000 open cases on the map

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("backend", ["sqlite"])]


def bulk_cases(db: Database, total: int) -> None:
    """Insert `total` cases directly (setup only: the pages under test read them through the services)."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    with db.reading() as uow:
        services = [(s.code, s.agency_code) for s in uow.repo(ServiceRepository).all()]
        kecamatan = [r.code for r in uow.repo(RegionRepository).all(level="kecamatan")]
    open_statuses = ("received", "verified", "assigned", "in_progress")
    rows: list[dict[str, Any]] = []
    for i in range(total):
        code, agency = services[i % len(services)]
        created = now - timedelta(minutes=rng.randint(1, 60 * 24 * 365))
        is_open = rng.random() < OPEN_SHARE
        rows.append(
            {
                "ticket": f"PERF-{i:07d}",
                "service_code": code,
                "priority": f"P{rng.randint(1, 4)}",
                "status": rng.choice(open_statuses)
                if is_open
                else rng.choice(("closed", "resolved", "rejected")),
                "title": f"Kasus uji {i}",
                "description": "uji kinerja",
                "lon": 114.2 + rng.random() * 0.5,
                "lat": -3.3 + rng.random() * 1.5,
                "kecamatan_code": rng.choice(kecamatan) if kecamatan else None,
                "agency_code": agency,
                "channel": "web",
                "confidential": False,
                "created_at": created,
                "updated_at": created,
                "due_at": created + timedelta(hours=rng.randint(1, 72)) if is_open else None,
            }
        )
    with db.transaction() as uow:
        conn = uow.session.connection()
        for start in range(0, total, 10_000):
            conn.execute(insert(Case), rows[start : start + 10_000])


def test_operator_page_first_load_is_fast_with_100k_cases(db: Database, settings: Settings) -> None:
    """Page under 1.5 s (HTML: queue, counts, filters); the 10,000-marker map data, fetched after, under 3 s."""
    bulk_cases(db, TOTAL)
    c = TestClient(create_app(settings, db=db))
    page = c.get("/masuk")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    c.post(
        "/masuk", data={"username": "operator", "password": "kotapintar-demo", "csrf_token": token.group(1)}
    )
    c.get("/operator")  # warm-up: template compilation, catalogue caches
    started = time.perf_counter()
    r = c.get("/operator")
    page_s = time.perf_counter() - started
    assert r.status_code == 200 and r.text.count("data-case-id=") == 100
    started = time.perf_counter()
    m = c.get("/operator/peta.geojson")
    map_s = time.perf_counter() - started
    features = m.json()["features"]
    assert 9_000 < len(features) <= 10_000
    print(f"operator page {page_s * 1000:.0f} ms, map data {map_s * 1000:.0f} ms for {len(features)} markers")
    assert page_s < 1.5, f"operator page took {page_s:.2f} s"
    assert map_s < 3.0, f"map data took {map_s:.2f} s"
