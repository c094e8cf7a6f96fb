"""The 112 flow through the real services on SQLite and PostgreSQL: call → case → recommendation → dispatch
→ unit statuses → response-time segments; non-genuine calls counted without a case; duplicates join."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.service import list_cases
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, IllegalTransition, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch import segments as segment_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.schemas import CallIn, ClassifyIn, DispatchIn
from tests.helpers import KUALA_KAPUAS, actor

PHONE = "+6281299887766"


@pytest.fixture
def units_home(db: Database) -> None:
    """Every unit available at its base (PostgreSQL keeps the units table between tests)."""
    unit_service.reset_units(db, system_actor("tests"))


def _events(db: Database, case_id: int) -> list[tuple[str, dict[str, object]]]:
    with db.reading() as uow:
        return [(e.type, dict(e.payload)) for e in uow.events.for_case(case_id)]


def _genuine_fire_call(db: Database, settings: Settings, *, ring_s: float = 8.0) -> tuple[int, int]:
    op = actor(db, "operator")
    t0 = utcnow() - timedelta(seconds=40)
    call = call_service.receive_call(db, op, CallIn(caller_number=PHONE, received_at=t0, answered=False))
    call_service.answer_call(db, op, call.id, at=t0 + timedelta(seconds=ring_s))
    done = call_service.classify_call(
        db,
        op,
        call.id,
        ClassifyIn(
            classification="genuine",
            service_code="kebakaran",
            lon=KUALA_KAPUAS[0],
            lat=KUALA_KAPUAS[1],
            location_text="Jl. Pemuda, dekat pasar",
            answers={"terjebak": "ya", "jumlah_luka": 2},
        ),
        settings=settings,
    )
    assert done.case_id is not None
    return call.id, done.case_id


def test_genuine_call_becomes_dispatched_case_with_segments(
    db: Database, settings: Settings, units_home: None
) -> None:
    op = actor(db, "operator")
    call_id, case_id = _genuine_fire_call(db, settings)
    call = call_service.get_call(db, op, call_id)
    assert call.priority == "P1"  # someone trapped
    assert call.ticket and call.classification == "genuine"
    # recommendation: the run card for a fire with people trapped, straight-line without a network, labelled
    rec = recommendation_service.recommend_for_case(db, op, case_id, settings=settings)
    assert rec["runcard"] == "Kebakaran dengan orang terjebak"
    assert rec["method"] == "straight_line" and "garis lurus" in rec["estimate_label"]
    kinds = {k["kind"]: k for k in rec["kinds"]}
    assert kinds["fire_truck"]["count"] == 3 and len(kinds["fire_truck"]["selected"]) == 3
    etas = [c["eta_s"] for c in kinds["fire_truck"]["candidates"]]
    assert etas == sorted(etas)
    # one action dispatches the recommended units
    result = recommendation_service.dispatch_units(db, op, case_id, DispatchIn(), settings=settings)
    assert result.units == rec["selected"] and not result.overridden
    board = {u.code: u for u in unit_service.unit_board(db, op)}
    first = result.units[0]
    assert board[first].status == "dispatched" and board[first].case_id == case_id
    # the crew moves: en route 45 s after dispatch, on scene 5 min later, then clears
    with db.reading() as uow:
        dispatched_at = next(
            e.occurred_at for e in uow.events.for_case(case_id) if e.type == "unit_dispatched"
        )
    crew = unit_service.unit_actor(first, board[first].agency_code)
    unit_service.change_unit_status(db, crew, first, "en_route", at=dispatched_at + timedelta(seconds=45))
    unit_service.change_unit_status(
        db, crew, first, "on_scene", at=dispatched_at + timedelta(seconds=345), lon=114.39, lat=-3.0
    )
    unit_service.change_unit_status(db, crew, first, "returning", at=dispatched_at + timedelta(seconds=1200))
    seg = segment_service.case_segments(db, op, case_id).to_dict()
    by = {s["segment"]: s for s in seg["segments"]}
    assert by["answering"]["seconds"] == pytest.approx(8.0, abs=0.01)
    assert by["turnout"]["seconds"] == pytest.approx(45.0, abs=0.01)
    assert by["travel"]["seconds"] == pytest.approx(300.0, abs=0.01)
    assert by["total"]["seconds"] == pytest.approx(
        by["answering"]["seconds"] + by["processing"]["seconds"] + 345, abs=0.01
    )
    assert by["total"]["target_s"] == 900 and by["total"]["met"] is True  # Permendagri 114/2018: 15 minutes
    assert by["processing"]["target_s"] == 60
    # events: call, dispatch and unit moves in the case stream, the caller's number nowhere
    events = _events(db, case_id)
    types = [t for t, _ in events]
    for expected in (
        "case_created",
        "call_received",
        "call_answered",
        "unit_dispatched",
        "unit_en_route",
        "unit_on_scene",
        "unit_cleared",
    ):
        assert expected in types
    assert PHONE not in json.dumps([p for _, p in events])
    assert PHONE.lstrip("+") not in json.dumps([p for _, p in events])
    # cleared: the unit is off the case, its next change goes to its own stream
    unit_service.change_unit_status(db, crew, first, "available", at=dispatched_at + timedelta(seconds=1800))
    with db.reading() as uow:
        own = uow.events.stream_events(f"unit:{first}")
    assert [e.type for e in own] == ["unit_status_changed"]
    # aggregated
    summary = segment_service.segments_summary(db, op, by="service", settings=settings)
    fire = next(g for g in summary["groups"] if g["key"] == "kebakaran")
    total = next(s for s in fire["segments"] if s["segment"] == "total")
    assert total["n"] == 1 and total["p90_s"] == pytest.approx(by["total"]["seconds"])


def test_non_genuine_calls_are_counted_without_a_case(db: Database, settings: Settings) -> None:
    op = actor(db, "operator")
    cases_before = len(list_cases(db, op, CaseFilter(), limit=500).items)
    for cls in ("prank", "ghost", "info", "prank"):
        call = call_service.receive_call(db, op, CallIn(caller_number=PHONE))
        out = call_service.classify_call(db, op, call.id, ClassifyIn(classification=cls), settings=settings)
        assert out.case_id is None
    counts = call_service.call_counts(db, op)
    assert counts["prank"] == 2 and counts["ghost"] == 1 and counts["info"] == 1 and counts["total"] == 4
    assert call_service.nearby_active_cases(db, op, *KUALA_KAPUAS) == []
    assert len(list_cases(db, op, CaseFilter(), limit=500).items) == cases_before


def test_duplicate_call_joins_the_active_incident(db: Database, settings: Settings, units_home: None) -> None:
    op = actor(db, "operator")
    _, case_id = _genuine_fire_call(db, settings)
    near = call_service.nearby_active_cases(db, op, KUALA_KAPUAS[0] + 0.002, KUALA_KAPUAS[1])
    assert near and near[0]["case_id"] == case_id and 150 < near[0]["distance_m"] < 300
    second = call_service.receive_call(db, op, CallIn(caller_number="+6281300000000"))
    with pytest.raises(ValidationFailed):
        call_service.classify_call(
            db, op, second.id, ClassifyIn(classification="duplicate"), settings=settings
        )
    out = call_service.classify_call(
        db, op, second.id, ClassifyIn(classification="duplicate", duplicate_of=case_id), settings=settings
    )
    assert out.case_id == case_id
    calls = [p for t, p in _events(db, case_id) if t == "call_received"]
    assert [c["duplicate"] for c in calls] == [False, True]
    with pytest.raises(Conflict):
        call_service.classify_call(db, op, second.id, ClassifyIn(classification="prank"), settings=settings)
    assert call_service.call_counts(db, op)["duplicate"] == 1


def test_override_needs_a_reason_and_is_recorded(db: Database, settings: Settings, units_home: None) -> None:
    op = actor(db, "operator")
    _, case_id = _genuine_fire_call(db, settings)
    rec = recommendation_service.recommend_for_case(db, op, case_id, settings=settings)
    chosen = (
        ["DMK-05", *rec["selected"][1:]] if rec["selected"][0] != "DMK-05" else rec["selected"][::-1][:-1]
    )
    with pytest.raises(ValidationFailed) as err:
        recommendation_service.dispatch_units(db, op, case_id, DispatchIn(units=chosen), settings=settings)
    assert err.value.code == "override_reason_required"
    result = recommendation_service.dispatch_units(
        db,
        op,
        case_id,
        DispatchIn(units=chosen, override_reason="DMK-01 sedang servis pompa"),
        settings=settings,
    )
    assert result.overridden
    notes = [p for t, p in _events(db, case_id) if t == "note_added" and p.get("kind") == "dispatch_override"]
    assert notes and notes[0]["reason"] == "DMK-01 sedang servis pompa"
    # a dispatched unit cannot be sent again
    with pytest.raises(IllegalTransition):
        recommendation_service.dispatch_units(
            db, op, case_id, DispatchIn(units=[chosen[0]], override_reason="lagi"), settings=settings
        )


def test_unit_status_machine_and_out_of_order_updates(
    db: Database, settings: Settings, units_home: None
) -> None:
    op = actor(db, "operator")
    now = utcnow()
    with pytest.raises(IllegalTransition) as err:
        unit_service.change_unit_status(db, op, "AMB-01", "on_scene", at=now)
    assert err.value.code == "illegal_unit_transition"
    unit_service.change_unit_status(db, op, "AMB-01", "out_of_service", at=now)
    with pytest.raises(Conflict) as late:
        unit_service.change_unit_status(db, op, "AMB-01", "available", at=now - timedelta(seconds=5))
    assert late.value.code == "out_of_order"
    unit_service.change_unit_status(db, op, "AMB-01", "available", at=now + timedelta(seconds=1))
    counters = unit_service.ingest_counters(db, op)
    assert counters["status.rejected.out_of_order"] == 1
    assert counters["status.rejected.illegal_unit_transition"] == 1
    # a unit's crew may move only its own unit
    other = unit_service.unit_actor("AMB-02", "psc119")
    with pytest.raises(Exception) as denied:
        unit_service.change_unit_status(db, other, "AMB-01", "out_of_service")
    assert getattr(denied.value, "code", "") == "permission_denied"


def test_positions_are_validated_and_rejections_counted(
    db: Database, settings: Settings, units_home: None
) -> None:
    op = actor(db, "operator")
    now = utcnow()
    ok = unit_service.record_position(
        db, op, "AMB-01", {"lon": 114.4, "lat": -3.01, "at": now.isoformat()}, settings=settings
    )
    assert ok.accepted
    fleet = {
        "id": "urn:ngsi-ld:FleetVehicleStatus:AMB-01",
        "type": "FleetVehicleStatus",
        "lastKnownPosition": {
            "type": "GeoProperty",
            "value": {"type": "Point", "coordinates": [114.41, -3.02]},
        },
        "dateObserved": {"type": "Property", "value": (now + timedelta(seconds=2)).isoformat()},
        "speed": {"type": "Property", "value": 42},
    }
    assert unit_service.record_position(
        db, op, "AMB-01", json.dumps(fleet).encode(), settings=settings
    ).accepted
    cases = {
        "out_of_order": {"lon": 114.4, "lat": -3.0, "at": (now + timedelta(seconds=1)).isoformat()},
        "stale": {"lon": 114.4, "lat": -3.0, "at": (now - timedelta(hours=1)).isoformat()},
        "future": {"lon": 114.4, "lat": -3.0, "at": (now + timedelta(hours=1)).isoformat()},
        "malformed": {"lon": 500, "lat": -3.0, "at": now.isoformat()},
    }
    for reason, payload in cases.items():
        out = unit_service.record_position(db, op, "AMB-01", payload, settings=settings)
        assert not out.accepted and out.reason == reason and out.message
    assert (
        unit_service.record_position(db, op, "AMB-01", b"{not json", settings=settings).reason == "malformed"
    )
    assert (
        unit_service.record_position(db, op, "NOPE-9", {"lon": 1, "lat": 1, "at": now.isoformat()}).reason
        == "unknown_unit"
    )
    board = {u.code: u for u in unit_service.unit_board(db, op)}
    assert (board["AMB-01"].lon, board["AMB-01"].lat) == (114.41, -3.02)
    counters = unit_service.ingest_counters(db, op)
    assert counters["avl.accepted.http"] == 2
    for reason in ("out_of_order", "stale", "future", "unknown_unit"):
        assert counters[f"avl.rejected.{reason}"] == 1
    assert counters["avl.rejected.malformed"] == 2


def _grid_graphml(path: Path, lon0: float, lat0: float, n: int = 12, step: float = 0.004) -> Path:
    """A small two-way street grid around (lon0, lat0) in OSMnx GraphML form."""
    from kotapintar.dispatch.engine import haversine_m

    nodes, edges = [], []
    for i in range(n):
        for j in range(n):
            nodes.append(
                f'<node id="{i}_{j}"><data key="x">{lon0 + (i - n // 2) * step}</data>'
                f'<data key="y">{lat0 + (j - n // 2) * step}</data></node>'
            )
    for i in range(n):
        for j in range(n):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < n and j + dj < n:
                    d = float(haversine_m(0, 0, step, 0)) if di else float(haversine_m(0, 0, 0, step))
                    for a, b in ((f"{i}_{j}", f"{i + di}_{j + dj}"), (f"{i + di}_{j + dj}", f"{i}_{j}")):
                        edges.append(
                            f'<edge source="{a}" target="{b}"><data key="length">{d:.1f}</data>'
                            f'<data key="highway">residential</data></edge>'
                        )
    path.write_text(
        '<?xml version="1.0"?><graphml xmlns="http://graphml.graphdrawing.org/xmlns">'
        '<key id="x" for="node" attr.name="x"/><key id="y" for="node" attr.name="y"/>'
        '<key id="length" for="edge" attr.name="length"/><key id="highway" for="edge" attr.name="highway"/>'
        '<graph edgedefault="directed">' + "".join(nodes) + "".join(edges) + "</graph></graphml>",
        encoding="utf-8",
    )
    return path


def test_recommendation_uses_the_configured_road_network(
    db: Database, settings: Settings, units_home: None, tmp_path: Path
) -> None:
    op = actor(db, "operator")
    _, case_id = _genuine_fire_call(db, settings)
    road = settings.model_copy(
        update={"road_network_path": _grid_graphml(tmp_path / "kk.graphml", *KUALA_KAPUAS)}
    )
    rec = recommendation_service.recommend_for_case(db, op, case_id, settings=road)
    assert rec["method"] in ("road_network", "mixed") and "jaringan jalan" in rec["estimate_label"]
    trucks = next(k for k in rec["kinds"] if k["kind"] == "fire_truck")
    assert all(c["method"] == "road_network" for c in trucks["candidates"])
    # an unusable network path falls back to the labelled straight-line estimate instead of failing
    broken = settings.model_copy(update={"road_network_path": tmp_path / "missing.graphml"})
    assert (
        recommendation_service.recommend_for_case(db, op, case_id, settings=broken)["method"]
        == "straight_line"
    )


def test_a_retried_save_gives_one_call_one_case(db: Database, settings: Settings) -> None:
    """Double submit or a network retry of the same classification answers the same case (issue 14)."""
    op = actor(db, "operator")
    call = call_service.receive_call(db, op, CallIn(caller_number=PHONE, answered=True))
    body = ClassifyIn(
        classification="genuine", service_code="kebakaran", lon=KUALA_KAPUAS[0], lat=KUALA_KAPUAS[1]
    )
    first = call_service.classify_call(db, op, call.id, body, settings=settings)
    again = call_service.classify_call(db, op, call.id, body, settings=settings)
    assert first.case_id is not None and again.case_id == first.case_id
    cases = list_cases(db, op, CaseFilter(services=("kebakaran",)), limit=50).items
    assert [c.id for c in cases] == [first.case_id]
    with pytest.raises(Conflict):  # a different answer for a classified call is refused, not applied
        call_service.classify_call(db, op, call.id, ClassifyIn(classification="prank"), settings=settings)


def test_a_call_without_a_place_stays_a_call_until_it_has_one(db: Database, settings: Settings) -> None:
    """No point and no desa: no case (a P1 nobody can find); the call is classified later with a place."""
    op = actor(db, "operator")
    call = call_service.receive_call(db, op, CallIn(caller_number=PHONE, answered=True))
    vague = ClassifyIn(classification="genuine", service_code="kebakaran", location_text="dekat pasar")
    with pytest.raises(ValidationFailed) as refused:
        call_service.classify_call(db, op, call.id, vague, settings=settings)
    assert refused.value.code == "location_required"
    assert call_service.get_call(db, op, call.id).classification is None
    assert list_cases(db, op, CaseFilter(services=("kebakaran",)), limit=50).items == []
    placed = ClassifyIn(
        classification="genuine",
        service_code="kebakaran",
        region_code="62.03.01",
        location_text="dekat pasar",
    )
    done = call_service.classify_call(db, op, call.id, placed, settings=settings)
    assert done.case_id is not None
