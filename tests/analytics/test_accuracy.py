"""Data accuracy through the real services: triage corrections, merges and location sources (issue 15)."""

from __future__ import annotations

import itertools
from typing import Any

from kotapintar.analytics import service as analytics
from kotapintar.app.web import create_app
from kotapintar.cases import service as case_service
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from kotapintar.triage.corrections import correct_triage
from tests.helpers import actor, report
from tests.helpers import web_client as client

_SPREAD = itertools.count()


def _submit(db: Database, **overrides: Any) -> int:
    n = next(_SPREAD)
    overrides.setdefault("lon", 114.30 + 0.02 * n)
    overrides.setdefault("lat", -3.05 + 0.02 * (n % 3))
    overrides.setdefault("description", f"Jalan berlubang dalam nomor {n} di ruas ini, bahaya bagi motor.")
    return submit_report(db, channel_actor("web"), report(**overrides)).case_id


def test_accuracy_figures_and_page(db: Database, settings: Settings) -> None:
    """4 cases: one service change, one priority change → 2 of 4 corrected (50 %); one merge; location
    sources gps (12 m), map, address only, and coordinates without a stated source."""
    operator = actor(db, "operator")
    a = _submit(db, location_source="gps", location_accuracy_m=12.0)
    b = _submit(db, location_source="map")
    c = _submit(db, lon=None, lat=None, address="Jl. Pemuda depan pasar")  # no desa named: address only
    d = _submit(db)
    correct_triage(db, operator, a, service="drainase", reason="genangan, bukan lubang")
    correct_triage(db, operator, b, priority="P2", reason="jalan utama")
    case_service.merge_case(db, operator, d, c, reason="laporan ganda")
    acc = analytics.accuracy(db, actor(db, "supervisor"), analytics.scope_of_days(30))
    assert acc.corrected_share == 0.5
    assert sum(n for _, n, _ in acc.corrections) == 4
    assert acc.merges.get("case_merged") == 1
    sources = {s: (n, m) for s, n, m in acc.locations}
    assert sources == {"gps": (1, 12.0), "map": (1, None), "address": (1, None), "unknown": (1, None)}
    page = client(create_app(settings, db=db), "supervisor").get("/analitik/akurasi").text
    assert 'data-fig="corrected_share">50 %<' in page
    assert 'data-fig="case_merged">1<' in page
    gps = page[page.index('data-source="gps"') :]
    assert "GPS peramban/ponsel" in gps[:200] and "12 m" in gps[:300]
