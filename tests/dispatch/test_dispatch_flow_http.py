"""The dispatch API and pages over HTTP (Starlette's TestClient, real app, real database on SQLite and
PostgreSQL): the console's endpoints with a session cookie + CSRF, the crew page with its unit token, AVL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.catalog.repository import UnitRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.dispatch import units as unit_service
from tests.helpers import KUALA_KAPUAS


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    """The application with every unit at its base."""
    unit_service.reset_units(db, system_actor("tests"))
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def _login(client: TestClient, username: str = "operator") -> str:
    """Open a browser session; returns the console's CSRF token."""
    r = client.post("/api/v1/auth/session", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 204
    page = client.get("/112")
    assert page.status_code == 200
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match
    return match.group(1)


def test_console_page_shows_protocol_cards_and_shortcuts(client: TestClient) -> None:
    anonymous = client.get("/112")
    assert anonymous.status_code == 401 and 'id="ct-login"' in anonymous.text
    _login(client)
    page = client.get("/112").text
    for text in (
        "Panggilan baru",
        "Alt+N",
        "Ctrl+Enter",
        "Ada orang terjebak di dalam?",
        "Apakah korban bernapas?",
    ):
        assert text in page
    assert "<script>" not in page and "onclick=" not in page and 'style="' not in page
    english = client.get("/112?lang=en").text
    assert "Is the victim breathing?" in english and "Keyboard shortcuts" in english
    assert len(page.encode()) < 300_000


def test_call_to_dispatch_over_http_with_csrf(client: TestClient, settings: Settings) -> None:
    token = _login(client)
    refused = client.post("/api/v1/dispatch/calls", json={"caller_number": "+62811111111"})
    assert refused.status_code == 403  # a cookie session without the CSRF token
    h = {"X-CSRF-Token": token}
    call = client.post("/api/v1/dispatch/calls", json={"caller_number": "+62811111111"}, headers=h)
    assert call.status_code == 201, call.text
    call_id = call.json()["id"]
    body = {
        "classification": "genuine",
        "service_code": "kecelakaan",
        "lon": KUALA_KAPUAS[0],
        "lat": KUALA_KAPUAS[1],
        "answers": {"ada_korban": True},
    }
    done = client.post(f"/api/v1/dispatch/calls/{call_id}/classify", json=body, headers=h)
    assert done.status_code == 200, done.text
    case_id = done.json()["case_id"]
    assert done.json()["priority"] == "P1"
    rec = client.get(f"/api/v1/dispatch/cases/{case_id}/recommendation").json()
    assert {k["kind"] for k in rec["kinds"]} == {"ambulance", "police_patrol"}
    assert rec["method"] == "straight_line"
    sent = client.post(f"/api/v1/dispatch/cases/{case_id}/dispatch", json={}, headers=h)
    assert sent.status_code == 200 and sent.json()["units"] == rec["selected"]
    seg = client.get(f"/api/v1/dispatch/cases/{case_id}/segments").json()
    by = {s["segment"]: s for s in seg["segments"]}
    assert by["processing"]["seconds"] is not None and by["total"]["seconds"] is None  # nobody on scene yet
    page = client.get(f"/112/kasus/{case_id}")
    assert page.status_code == 200 and "Segmen waktu tanggap" in page.text and rec["selected"][0] in page.text
    units = client.get("/api/v1/dispatch/units.geojson").json()
    sent_unit = next(f for f in units["features"] if f["properties"]["code"] == rec["selected"][0])
    assert sent_unit["properties"]["status"] == "dispatched" and sent_unit["properties"]["case_id"] == case_id
    counts = client.get("/api/v1/dispatch/calls/counts").json()
    assert counts["genuine"] == 1 and counts["total"] == 1
    assert client.get("/api/v1/dispatch/protocols").json()["kebakaran"]["questions"]
    # the crew of the first unit sees its assignment, the way there and the next steps
    unit = rec["selected"][0]
    crew = TestClient(client.app)
    crew.get(f"/unit/{unit}?token={unit_service.unit_token(settings, unit)}")
    page = crew.get(f"/unit/{unit}").text
    assert done.json()["ticket"] in page and 'data-status="en_route"' in page and "geo:" in page
    assert 'id="crew-map"' in page and "+62811111111" not in page


def test_crew_page_with_unit_token_moves_the_unit(
    client: TestClient, db: Database, settings: Settings
) -> None:
    code = "AMB-01"
    assert client.get(f"/unit/{code}?token=wrong", follow_redirects=False).status_code == 403
    token = unit_service.unit_token(settings, code)
    first = client.get(f"/unit/{code}?token={token}", follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == f"/unit/{code}"
    assert "samesite=strict" in first.headers["set-cookie"].lower()
    page = client.get(f"/unit/{code}")
    assert page.status_code == 200 and "Tidak beroperasi" in page.text and len(page.content) < 20_000
    # without the custom header the cookie is not enough (another site cannot send that header)
    plain = client.post(f"/api/v1/dispatch/units/{code}/status", json={"status": "out_of_service"})
    assert plain.status_code == 401
    h = {"X-Kp-Unit": "1"}
    moved = client.post(f"/api/v1/dispatch/units/{code}/status", json={"status": "out_of_service"}, headers=h)
    assert moved.status_code == 200 and moved.json()["status"] == "out_of_service"
    # the crew may not touch another unit
    other = client.post("/api/v1/dispatch/units/AMB-02/status", json={"status": "out_of_service"}, headers=h)
    assert other.status_code == 401
    # AVL over HTTP with the token header: applied, then refused with reasons
    th = {"X-Unit-Token": token}
    now = utcnow()
    ok = client.post(f"/api/v1/dispatch/units/{code}/position", json={"lon": 114.4, "lat": -3.0}, headers=th)
    assert ok.status_code == 202 and ok.json()["accepted"]
    old = {"lon": 114.4, "lat": -3.0, "at": (now - timedelta(hours=1)).isoformat()}
    stale = client.post(f"/api/v1/dispatch/units/{code}/position", json=old, headers=th)
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "stale"
    bad = client.post(f"/api/v1/dispatch/units/{code}/position", content=b"[1,2]", headers=th)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "malformed"
    ghost_token = unit_service.unit_token(settings, "GHOST-1")
    ghost = client.post(
        "/api/v1/dispatch/units/GHOST-1/position",
        json={"lon": 1, "lat": 1},
        headers={"X-Unit-Token": ghost_token},
    )
    assert ghost.status_code == 404
    with db.reading() as uow:
        unit = uow.repo(UnitRepository).get(code)
        assert unit is not None and unit.status == "out_of_service" and unit.lon == 114.4


def test_coverage_lists_uncovered_desa(client: TestClient) -> None:
    _login(client)
    r = client.get("/api/v1/dispatch/coverage?target_min=10&kind=fire_truck")
    assert r.status_code == 200
    data = r.json()
    assert data["type"] == "FeatureCollection" and data["method"] == "straight_line"
    area = data["features"][0]
    assert area["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Kabupaten Kapuas is large: many desa upriver are beyond 10 minutes of any fire truck
    assert data["uncovered"] and all(u["name"] for u in data["uncovered"])
    wider = client.get("/api/v1/dispatch/coverage?target_min=120&kind=fire_truck").json()
    assert len(wider["uncovered"]) < len(data["uncovered"])
