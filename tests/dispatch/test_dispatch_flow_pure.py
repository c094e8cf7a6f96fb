"""Pure parts of the 112 flow: protocol cards → priority, the unit status machine, AVL parsing, and the
response-time segments with their mean / 90th percentile aggregation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from kotapintar.core.errors import IllegalTransition, ValidationFailed
from kotapintar.dispatch.engine.avl import AvlRejected, judge_fix, parse_position
from kotapintar.dispatch.engine.protocols import load_protocols
from kotapintar.dispatch.engine.runcards import load_runcards
from kotapintar.dispatch.engine.unitstatus import load_unit_status
from kotapintar.metrics.response_times import (
    Incident,
    TimelineEvent,
    aggregate,
    load_targets,
    percentile,
    segments_of,
)

T0 = datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def test_protocol_answers_set_priority_and_the_run_card() -> None:
    cards = load_protocols()
    fire = cards["kebakaran"]
    assert fire.priority_for(fire.clean_answers({})) == "P2"
    assert fire.priority_for(fire.clean_answers({"terjebak": "ya"})) == "P1"
    assert fire.priority_for(fire.clean_answers({"jumlah_luka": "0"})) == "P2"
    assert fire.priority_for(fire.clean_answers({"jumlah_luka": 3})) == "P1"
    with pytest.raises(ValidationFailed):
        fire.clean_answers({"bernapas": True})
    with pytest.raises(ValidationFailed):
        fire.clean_answers({"jumlah_luka": -1})
    medis = cards["darurat_medis"]
    assert medis.priority_for(medis.clean_answers({"bernapas": "tidak"})) == "P1"
    # every card's service has run cards whose unit kinds exist in the demo registry
    book = load_runcards()
    kinds = {"fire_truck", "ambulance", "police_patrol", "rescue_boat", "trc_team"}
    for service in cards:
        assert service in book.services()
    assert {n.kind for c in book.cards for n in c.needs} <= kinds
    trapped = book.select("kebakaran", "P1", fire.clean_answers({"terjebak": True}))
    assert trapped.name == "Kebakaran dengan orang terjebak"


def test_unit_status_machine_is_data() -> None:
    m = load_unit_status()
    m.check("available", "dispatched")
    with pytest.raises(IllegalTransition):
        m.check("available", "on_scene")
    with pytest.raises(ValidationFailed):
        m.check("available", "flying")
    assert m.event_for("dispatched", "en_route") == "unit_en_route"
    assert m.event_for("on_scene", "returning") == "unit_cleared"
    assert m.event_for("returning", "available") == "unit_status_changed"
    assert m.ends_assignment("at_hospital", "returning") and not m.ends_assignment("en_route", "on_scene")


def test_avl_messages_parse_or_say_why() -> None:
    fix = parse_position(b'{"lon": 114.4, "lat": -3.0, "at": "2026-11-29T08:00:00+07:00", "speed": 30}')
    assert fix.at == T0 and fix.speed_kmh == 30
    ngsi = parse_position(
        {
            "lastKnownPosition": {
                "type": "GeoProperty",
                "value": {"type": "Point", "coordinates": [114.4, -3.0]},
            },
            "observedAt": "2026-11-29T01:00:00Z",
            "bearing": {"type": "Property", "value": 90},
        }
    )
    assert (ngsi.lon, ngsi.heading, ngsi.at) == (114.4, 90, T0)
    for bad in (
        b"nope",
        b"[]",
        b'{"lon": 1}',
        b'{"lon": 1, "lat": 95, "at": 0}',
        b'{"lon": 1, "lat": 1, "at": "2026-11-29T01:00:00"}',
    ):
        with pytest.raises(AvlRejected) as err:
            parse_position(bad)
        assert err.value.reason == "malformed"
    now = T0 + timedelta(seconds=10)
    judge_fix(T0, None, now, 300)
    for at, last, reason in (
        (T0, T0, "out_of_order"),
        (T0 - timedelta(hours=1), None, "stale"),
        (T0 + timedelta(hours=1), None, "future"),
    ):
        with pytest.raises(AvlRejected) as err:
            judge_fix(at, last, now, 300)
        assert err.value.reason == reason


def _incident(
    case_id: int, service: str, agency: str, answer: float, process: float, turnout: float, travel: float
) -> Incident:
    t = T0 + timedelta(days=case_id)
    e = [
        TimelineEvent("case_created", t + timedelta(seconds=answer + 20)),
        TimelineEvent("call_received", t, {"call_id": case_id}),
        TimelineEvent("call_answered", t + timedelta(seconds=answer)),
        TimelineEvent("call_received", t + timedelta(seconds=5), {"duplicate": True}),
    ]
    d = t + timedelta(seconds=answer + process)
    e += [
        TimelineEvent("unit_dispatched", d, {"unit": "A"}),
        TimelineEvent("unit_dispatched", d, {"unit": "B"}),
        TimelineEvent("unit_en_route", d + timedelta(seconds=10), {"unit": "B"}),  # B leaves first…
        TimelineEvent("unit_en_route", d + timedelta(seconds=turnout), {"unit": "A"}),
        TimelineEvent(
            "unit_on_scene", d + timedelta(seconds=turnout + travel), {"unit": "A"}
        ),  # …A arrives first
    ]
    return Incident(case_id, service, agency, "62.03.01", e)


def test_segments_follow_the_first_unit_on_scene_and_aggregate() -> None:
    targets = load_targets()
    seg = segments_of(_incident(1, "kebakaran", "damkar", 7, 50, 70, 400), targets)
    assert dict(seg.seconds) == {"answering": 7, "processing": 50, "turnout": 70, "travel": 400, "total": 527}
    assert seg.first_unit == "A" and seg.met("total") is True and seg.met("processing") is True
    rows = [
        segments_of(_incident(i, "kebakaran", "damkar", 5 + i, 40 + 5 * i, 60, 300 + 60 * i), targets)
        for i in range(10)
    ]
    groups = aggregate(rows, "service", targets=targets)
    total = next(s for s in groups[0]["segments"] if s["segment"] == "total")
    values = [v for r in rows if (v := r.seconds["total"]) is not None]
    assert len(values) == 10
    assert total["n"] == 10 and total["mean_s"] == pytest.approx(float(np.mean(values)))
    assert total["p90_s"] == pytest.approx(float(np.percentile(values, 90)))
    assert total["target_s"] == 900 and total["p90_met"] is (total["p90_s"] <= 900)
    assert percentile([1.0], 90) == 1.0
    by_period = aggregate(rows, "period", period="day", targets=targets)
    assert [g["key"] for g in by_period][:2] == ["2026-11-29", "2026-11-30"]  # WIB dates
    assert aggregate(rows, "agency", targets=targets)[0]["key"] == "damkar"
    unmeasured = segments_of(Incident(99, "banjir", None, None, [TimelineEvent("case_created", T0)]), targets)
    assert unmeasured.seconds["total"] is None and unmeasured.met("total") is None


def test_no_protocol_question_shadows_a_console_shortcut() -> None:
    """Alt+J must always reach the incident type (it toggled 'jumlah luka' on the fire and accident cards)."""
    from kotapintar.dispatch.engine.protocols import CONSOLE_KEYS, parse_protocols

    for card in load_protocols().values():
        assert not {q.key for q in card.questions if q.key} & CONSOLE_KEYS, card.service
    clash = {
        "version": 1,
        "protocols": {
            "kebakaran": {
                "label": "Kebakaran",
                "questions": [
                    {"id": "jumlah_luka", "type": "int", "key": "j", "text": "Berapa orang terluka?"}
                ],
            }
        },
    }
    with pytest.raises(ValidationFailed, match="Alt"):
        parse_protocols(clash)
