"""The 112 CAD screen's services and fragments on SQLite and PostgreSQL: the call form's idempotency key,
the draft kept on a call without a place, the incident and unit boards, the compact recommendation, and
closing an open call from the console (session cookie + CSRF, refused for other roles)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import PermissionDenied, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.dispatch import board as board_service
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.pages.calltaker import age_label
from kotapintar.dispatch.schemas import CallIn, ClassifyIn, DispatchIn
from tests.helpers import KUALA_KAPUAS, actor

KEY = "form-key-0123456789abcdef"


@pytest.fixture
def units_home(db: Database) -> None:
    unit_service.reset_units(db, system_actor("tests"))


def _fire(db: Database, settings: Settings, *, lon: float = KUALA_KAPUAS[0]) -> tuple[int, int]:
    op = actor(db, "operator")
    call = call_service.receive_call(db, op, CallIn(caller_number="081234567890"))
    done = call_service.classify_call(
        db,
        op,
        call.id,
        ClassifyIn(
            classification="genuine",
            service_code="kebakaran",
            lon=lon,
            lat=KUALA_KAPUAS[1],
            answers={"terjebak": True},
        ),
        settings=settings,
    )
    assert done.case_id is not None
    return call.id, done.case_id


def test_the_same_form_key_answers_the_same_call(db: Database) -> None:
    op = actor(db, "operator")
    first = call_service.receive_call(db, op, CallIn(caller_number="081234567890", client_key=KEY))
    again = call_service.receive_call(db, op, CallIn(caller_number="081234567890", client_key=KEY))
    other = call_service.receive_call(db, op, CallIn(client_key=KEY[::-1]))
    plain = call_service.receive_call(db, op, CallIn())
    assert again.id == first.id and again.received_at == first.received_at
    assert len({first.id, other.id, plain.id}) == 3
    assert call_service.call_counts(db, op)["total"] == 3
    with pytest.raises(ValueError):
        CallIn(client_key="short")  # a key is 8-64 letters, digits, - or _


def test_racing_retries_of_one_form_open_one_call(db: Database) -> None:
    """Four copies of the same 'new call' at once (a double submit racing a network retry): one call."""
    op = actor(db, "operator")
    start = threading.Barrier(4)

    def open_call() -> int:
        start.wait()
        return call_service.receive_call(db, op, CallIn(client_key=KEY)).id

    with ThreadPoolExecutor(4) as pool:
        ids = list(pool.map(lambda _: open_call(), range(4)))
    assert len(set(ids)) == 1
    assert call_service.call_counts(db, op)["total"] == 1


def test_a_call_refused_for_want_of_a_place_keeps_what_was_typed(db: Database, settings: Settings) -> None:
    op = actor(db, "operator")
    call = call_service.receive_call(db, op, CallIn())
    body = ClassifyIn(
        classification="genuine",
        service_code="kebakaran",
        caller_number="081298765432",
        location_text="belakang pasar",
        answers={"terjebak": True, "jumlah_luka": 2},
    )
    with pytest.raises(ValidationFailed) as refused:
        call_service.classify_call(db, op, call.id, body, settings=settings)
    assert refused.value.code == "location_required"
    kept = call_service.get_call(db, op, call.id)
    assert kept.classification is None and kept.case_id is None
    assert (kept.service_code, kept.location_text, kept.caller_number) == (
        "kebakaran",
        "belakang pasar",
        "081298765432",
    )
    assert kept.answers == {"terjebak": True, "jumlah_luka": 2}
    assert [c["id"] for c in board_service.open_calls(db, op)] == [call.id]


def test_the_boards_show_the_incident_its_units_and_every_unit(
    db: Database, settings: Settings, units_home: None
) -> None:
    op = actor(db, "operator")
    _, case_id = _fire(db, settings)
    sent = recommendation_service.dispatch_units(db, op, case_id, DispatchIn(), settings=settings).units
    truck = next(u for u in sent if u.startswith("DMK"))
    crew = unit_service.unit_actor(truck, "damkar")
    moved_at = utcnow()
    unit_service.change_unit_status(db, crew, truck, "en_route", at=moved_at)

    incidents = board_service.incident_board(db, op)
    row = next(i for i in incidents if i.id == case_id)
    assert row.priority == "P1" and incidents[0].priority == "P1"
    assert dict(row.units) == {**{u: "dispatched" for u in sent}, truck: "en_route"}

    board = {u.code: u for u in board_service.unit_status_board(db, op)}
    assert len(board) == len(unit_service.unit_board(db, op))
    assert board[truck].status == "en_route" and board[truck].case_id == case_id
    since = board[truck].since
    assert since is not None and abs((since - moved_at).total_seconds()) < 1
    assert all(u.station for u in board.values())
    idle = next(u for u in board.values() if u.code not in sent)
    assert idle.status == "available" and idle.case_id is None

    with pytest.raises(PermissionDenied):
        board_service.incident_board(db, actor(db, "polres.liaison"))


def test_compact_recommendation_keeps_the_chosen_units_and_near_alternatives() -> None:
    def cand(unit: str, km: float) -> dict[str, Any]:
        return {"unit_id": unit, "distance_m": km * 1000, "eta_s": km * 60, "agency": "damkar"}

    far_selected = {
        "selected": ["A", "B", "X"],
        "kinds": [
            {
                "kind": "fire_truck",
                "count": 2,
                "candidates": [cand("A", 1), cand("B", 2), cand("C", 3), cand("D", 4), cand("E", 40)],
                "mutual_aid": [],
            },
            {
                "kind": "rescue_boat",
                "count": 1,
                "candidates": [cand("X", 120), cand("Y", 150)],
                "mutual_aid": [],
            },
        ],
    }
    trucks, boats = board_service.compact_recommendation(far_selected)
    assert [r["unit_id"] for r in trucks["rows"]] == ["A", "B", "C", "D"]
    assert [r["selected"] for r in trucks["rows"]] == [True, True, False, False]
    assert trucks["hidden"] == 1  # E, 40 km away, and beyond the two alternatives
    # the only boat is 120 km away: it stays (it is the choice); a farther one is no alternative
    assert [r["unit_id"] for r in boats["rows"]] == ["X"] and boats["hidden"] == 1


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "00:00"), (275, "04:35"), (3600 + 5 * 60, "1 j 05 mnt"), (4 * 86400 + 11 * 3600, "4 hari 11 jam")],
)
def test_ages_read_as_a_call_taker_reads_them(seconds: int, text: str) -> None:
    now = utcnow()
    assert age_label("id", now - timedelta(seconds=seconds), now) == text


# ------------------------------------------------------------------ over HTTP


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    unit_service.reset_units(db, system_actor("tests"))
    with TestClient(create_app(settings, db=db)) as c:
        yield c


def _login(client: TestClient, username: str) -> str:
    r = client.post("/api/v1/auth/session", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 204
    page = client.get("/operator" if username == "operator" else "/instansi")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text) or re.search(
        r'"X-CSRF-Token": "([^"]+)"', page.text
    )
    assert match
    return match.group(1)


def test_fragments_speak_indonesian_and_are_for_dispatchers_only(
    client: TestClient, db: Database, settings: Settings
) -> None:
    _, case_id = _fire(db, settings)
    _login(client, "operator")
    units = client.get("/112/papan/unit")
    assert units.status_code == 200
    assert units.text.count("data-unit=") == len(unit_service.unit_board(db, actor(db, "operator")))
    assert "Tersedia" in units.text and "available</" not in units.text
    incidents = client.get("/112/papan/insiden")
    assert f'data-incident="{case_id}"' in incidents.text and f'href="/112/kasus/{case_id}"' in incidents.text
    recommendation_service.dispatch_units(db, actor(db, "operator"), case_id, DispatchIn(), settings=settings)
    case_page = client.get(f"/112/kasus/{case_id}").text
    assert "(Mobil pemadam kebakaran)" in case_page and "fire_truck" not in case_page
    rec = client.get(f"/112/kasus/{case_id}/rekomendasi").text
    assert "Mobil pemadam kebakaran — perlu 3" in rec and "fire_truck ×" not in rec
    assert "<td>Damkar</td>" in rec and "<td>damkar</td>" not in rec  # the agency's name, not its code
    assert rec.count("data-rec-unit=") < len(unit_service.unit_board(db, actor(db, "operator"))) // 2

    client.cookies.clear()
    _login(client, "polres.liaison")
    for path in (
        "/112/papan/unit",
        "/112/papan/insiden",
        "/112/panggilan",
        f"/112/kasus/{case_id}/rekomendasi",
    ):
        assert client.get(path).status_code == 403, path


def test_an_open_call_is_closed_from_the_console_without_a_case(
    client: TestClient, db: Database, settings: Settings
) -> None:
    op = actor(db, "operator")
    call = call_service.receive_call(db, op, CallIn())
    token = _login(client, "operator")
    listed = client.get("/112/panggilan")
    assert f'data-call="{call.id}"' in listed.text
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    assert client.post(f"/112/panggilan/{call.id}/tutup", data={"classification": "prank"}).status_code == 403
    refused = client.post(
        f"/112/panggilan/{call.id}/tutup", data={"classification": "genuine"}, headers=headers
    )
    assert refused.status_code == 422 and "iseng" in refused.text
    assert call_service.get_call(db, op, call.id).classification is None
    closed = client.post(f"/112/panggilan/{call.id}/tutup", data={"classification": "ghost"}, headers=headers)
    assert closed.status_code == 200 and f'data-call="{call.id}"' not in closed.text
    after = call_service.get_call(db, op, call.id)
    assert after.classification == "ghost" and after.case_id is None
    again = client.post(f"/112/panggilan/{call.id}/tutup", data={"classification": "ghost"}, headers=headers)
    assert again.status_code == 200  # a retried close answers the same, nothing changes
    assert call_service.call_counts(db, op) == {"ghost": 1, "total": 1}
