"""The public/internal boundary (issue 16, item 1): internal notes, staff names and exact places of anonymous
and sensitive reports never reach a public output; a public reply does."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from kotapintar.cases import service as case_service
from kotapintar.cases.public import public_point
from kotapintar.cases.stream import filter_for
from kotapintar.core.access.actors import Actor, channel_actor
from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from tests.conftest import LiveServer
from tests.helpers import actor, report
from tests.security.security_support import login as _login
from tests.spine.test_spine_stream import read_events

INTERNAL = ("CATATAN-VERIFIKASI-RHS", "CATATAN-DISPOSISI-RHS", "CATATAN-INTERNAL-RHS", "user:operator")
EXACT_LON, EXACT_LAT = 114.391234, -3.012345


def _worked_case(client: TestClient, **report: object) -> tuple[int, str]:
    body = {
        "service_code": "jalan_rusak",
        "description": "Jalan berlubang besar di depan pasar Kuala Kapuas",
        "lon": EXACT_LON,
        "lat": EXACT_LAT,
        "anonymous": True,
        **report,
    }
    created = client.post("/api/v1/reports", json=body)
    assert created.status_code == 201, created.text
    case_id, ticket = created.json()["case_id"], created.json()["ticket"]
    op = _login(client, "operator")
    r = client.post(f"/api/v1/cases/{case_id}/verify", headers=op, json={"note": INTERNAL[0]})
    assert r.status_code == 200, r.text
    r = client.post(
        f"/api/v1/cases/{case_id}/assign", headers=op, json={"agency_code": "pupr", "note": INTERNAL[1]}
    )
    assert r.status_code == 200, r.text
    assert (
        client.post(f"/api/v1/cases/{case_id}/notes", headers=op, json={"text": INTERNAL[2]}).status_code
        == 201
    )
    reply = {"text": "Tim PUPR dijadwalkan menambal besok pagi.", "visibility": "public"}
    assert client.post(f"/api/v1/cases/{case_id}/notes", headers=op, json=reply).status_code == 201
    return case_id, ticket


def _no_internal(text: str, where: str) -> None:
    for secret in INTERNAL:
        assert secret not in text, f"{secret!r} leaked on {where}"


def test_internal_notes_and_staff_names_stay_off_every_public_output(client: TestClient) -> None:
    case_id, ticket = _worked_case(client)
    public = {
        "ticket API": client.get(f"/api/v1/tickets/{ticket}"),
        "public case": client.get(f"/api/v1/public/cases/{case_id}"),
        "tracking page": client.get(f"/lacak/{ticket}"),
        "open311 request": client.get(f"/open311/v2/requests/{ticket}.json?extensions=true"),
        "open311 requests": client.get("/open311/v2/requests.json?extensions=true"),
        "open311 updates": client.get("/open311/v2/servicerequestupdates.json"),
        "open311 updates xml": client.get("/open311/v2/servicerequestupdates.xml"),
    }
    for where, response in public.items():
        assert response.status_code == 200, (where, response.text)
        _no_internal(response.text, where)
    # The reply written for the public does reach the reporter, labelled as such.
    timeline = public["ticket API"].json()["timeline"]
    replies = [e for e in timeline if e["type"] == "public_reply_added"]
    assert (
        replies and replies[0]["payload"]["text"].startswith("Tim PUPR") and replies[0]["actor"] == "petugas"
    )
    assert "Tim PUPR dijadwalkan" in public["open311 request"].text
    # Staff still read everything.
    staff = client.get(f"/api/v1/cases/{case_id}", headers=_login(client, "operator")).text
    assert all(secret in staff for secret in INTERNAL[:3])


def test_live_stream_gives_client_keys_the_public_cut_only(client: TestClient, db: Database) -> None:
    case_id, _ = _worked_case(client)
    with db.reading() as uow:
        events = list(uow.events.for_case(case_id))
    for reader in (Actor(kind="public", name="public"), Actor(kind="client", name="client:fms")):
        items = filter_for(db, reader, events)
        assert items, reader
        text = repr(items)
        _no_internal(text, f"stream for {reader.kind}")
        assert {i["type"] for i in items} <= {
            "case_created",
            "case_verified",
            "case_assigned",
            "case_started",
            "public_reply_added",
        }


def test_unit_positions_need_a_staff_login(client: TestClient) -> None:
    assert client.get("/api/v1/units").status_code == 401
    assert client.get("/api/v1/units", headers=_login(client, "operator")).status_code == 200


def test_anonymous_and_sensitive_places_are_coarsened_the_same_way_everywhere(client: TestClient) -> None:
    _, ticket = _worked_case(client)
    crime = client.post(
        "/api/v1/reports",
        json={
            "service_code": "kriminalitas",
            "description": "Pencurian motor di rumah Pak Joko RT 03 nomor 12",
            "lon": EXACT_LON + 0.03,
            "lat": EXACT_LAT - 0.03,
        },
    )
    assert crime.status_code == 201, crime.text
    expected = public_point(EXACT_LON, EXACT_LAT, coarse=True)
    assert expected != (EXACT_LON, EXACT_LAT)
    detail = client.get(f"/api/v1/tickets/{ticket}").json()
    assert (detail["lon"], detail["lat"]) == expected and detail["location_precision"] == "area"
    o311 = client.get(f"/open311/v2/requests/{ticket}.json").json()[0]
    assert (o311["long"], o311["lat"]) == expected
    outputs = {
        "public map API": client.get("/api/v1/public/cases").text,
        "portal map": client.get("/beranda/peta.geojson").text,
        "open data CSV": client.get("/data/kasus.csv").text,
        "open data GeoJSON": client.get("/data/kasus.geojson").text,
        "open311 list": client.get("/open311/v2/requests.json").text,
        "ticket API": client.get(f"/api/v1/tickets/{ticket}").text,
        "crime ticket": client.get(f"/api/v1/tickets/{crime.json()['ticket']}").text,
    }
    for where, text in outputs.items():
        for exact in ("114.391234", "3.012345", "114.421234", "3.042345"):
            assert exact not in text, f"exact coordinate {exact} on {where}"
        assert "Pak Joko" not in text, f"sensitive description on {where}"


def test_sse_stream_over_http_gives_an_api_key_the_public_cut(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    """The live stream itself (not only its filter), read with an Open311 client's key."""
    key = create_api_key(db, "fms-stream")
    case_id = submit_report(db, channel_actor("web"), report(), settings=settings).case_id
    op = actor(db, "operator")
    case_service.add_note(db, op, case_id, INTERNAL[2])
    case_service.verify_case(db, op, case_id, note=INTERNAL[0])
    got = read_events(f"{live_server.url}/api/v1/stream?after=0", {"X-API-Key": key}, want=2, timeout=5)
    assert [e["type"] for e in got] == ["case_created", "case_verified"]
    _no_internal(json.dumps(got), "SSE for an API key")
    assert all(e["actor"] in ("warga", "petugas", "sistem") for e in got)
