"""Rules as data and their pure evaluator: hysteresis, sustained, rate of rise, combinations, stale."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotapintar.cases.lifecycle import Priority
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.registry import load_devices
from kotapintar.sensors.engine.rules import (
    Action,
    CloseWarning,
    LevelChanged,
    OpenCase,
    Rule,
    RuleError,
    UpdateCase,
    case_closed,
    evaluate,
    evaluate_all,
    load_rules,
    open_areas,
    parse_rules,
)

T0 = datetime(2026, 1, 10, tzinfo=UTC)
DEVICES = {d.id: d for d in load_devices()}
RULES = {r.id: r for r in load_rules()}
# KPS-AWLR-02, class kapuas_tengah: waspada 4.0, siaga 5.0, awas 6.0; region 62.03.05 (with KPS-ARG-02)


def r(minutes: float, value: float, device: str = "KPS-AWLR-02", attribute: str = "waterLevel") -> Reading:
    unit = {"waterLevel": "m", "precipitation": "mm", "pm25": "µg/m³"}[attribute]
    return Reading(T0 + timedelta(minutes=minutes), device, attribute, value, unit)


def run(rule: Rule, readings: Sequence[Reading], now_minutes: float | None = None, state: Any = None) -> Any:
    now = T0 + timedelta(
        minutes=now_minutes
        if now_minutes is not None
        else max(x.observed_at for x in readings).timestamp() / 60 - T0.timestamp() / 60
    )
    return evaluate(rule, state, readings, now=now, devices=DEVICES)


def kinds(actions: Sequence[Action]) -> list[str]:
    return [type(a).__name__ for a in actions]


def test_hysteresis_opens_at_siaga_not_at_waspada() -> None:
    rule = RULES["banjir-tma-siaga"]
    res = run(rule, [r(0, 3.0), r(10, 4.5), r(20, 4.9)])
    assert res.actions == []
    res = run(rule, [r(30, 5.1)], state=res.state)
    (action,) = res.actions
    assert isinstance(action, OpenCase)
    assert (action.service, action.area, action.level, action.priority) == (
        "banjir",
        "62.03.05",
        "siaga",
        Priority.P2,
    )
    assert action.readings == (r(30, 5.1),)
    assert action.dedupe_key == "banjir-sungai:62.03.05"
    assert "Siaga" in action.title
    assert open_areas(res.state) == {"62.03.05": ("siaga", T0 + timedelta(minutes=30))}


def test_hysteresis_stays_open_above_waspada_and_closes_after_30_min_below() -> None:
    rule = RULES["banjir-tma-siaga"]
    seq = [r(0, 5.2), r(10, 4.5), r(20, 4.2), r(30, 3.9), r(40, 3.8), r(50, 3.7), r(60, 3.6)]
    res = run(rule, seq)
    assert kinds(res.actions) == ["OpenCase", "UpdateCase", "CloseWarning"]
    close = res.actions[-1]
    assert isinstance(close, CloseWarning) and close.at == T0 + timedelta(minutes=60)
    # 20 minutes below waspada is not enough
    res = run(rule, seq[:-1])
    assert kinds(res.actions) == ["OpenCase", "UpdateCase"]
    # going back above waspada restarts the 30 minutes
    res = run(rule, [r(0, 5.2), r(10, 3.9), r(20, 3.9), r(30, 4.1), r(40, 3.9), r(60, 3.9)])
    assert "CloseWarning" not in kinds(res.actions)


def test_level_escalates_at_once_and_de_escalates_after_dwell() -> None:
    rule = RULES["banjir-tma-siaga"]
    res = run(rule, [r(0, 5.2), r(10, 6.1), r(20, 5.5), r(30, 6.05), r(40, 5.5), r(50, 5.4), r(70, 5.3)])
    changes = [a for a in res.actions if isinstance(a, LevelChanged)]
    assert [(c.old_level, c.level, c.priority, c.at) for c in changes] == [
        ("siaga", "awas", Priority.P1, T0 + timedelta(minutes=10)),
        ("awas", "siaga", Priority.P2, T0 + timedelta(minutes=70)),
    ]


def test_same_rule_and_area_never_opens_twice_and_new_readings_are_attached() -> None:
    rule = RULES["banjir-tma-siaga"]
    state = None
    opened = updated = 0
    for minute in range(0, 240, 10):
        res = run(rule, [r(minute, 5.5)], state=state)
        state = res.state
        opened += sum(isinstance(a, OpenCase) for a in res.actions)
        updated += sum(len(a.readings) for a in res.actions if isinstance(a, UpdateCase))
    assert opened == 1 and updated == 23
    assert json.loads(json.dumps(state)) == state  # plain JSON


def test_case_closed_outside_rearms_only_after_the_condition_clears() -> None:
    rule = RULES["banjir-tma-siaga"]
    res = run(rule, [r(0, 5.5)])
    state = case_closed(res.state, "62.03.05")
    res = run(rule, [r(10, 5.6), r(20, 5.7)], state=state)
    assert res.actions == []
    res = run(rule, [r(30, 3.0), r(40, 5.2)], state=res.state)
    assert kinds(res.actions) == ["OpenCase"]


def test_sustained_pm25_three_hours() -> None:
    rule = RULES["karhutla-pm25-berbahaya"]
    aq = [r(m, 260.0, "KPS-AQ-01", "pm25") for m in range(0, 180, 10)]
    assert run(rule, aq).actions == []  # 2 h 50 min
    res = run(rule, [*aq, r(180, 270.0, "KPS-AQ-01", "pm25")])
    (action,) = res.actions
    assert isinstance(action, OpenCase)
    assert (action.service, action.priority, action.level, action.area) == (
        "karhutla",
        Priority.P1,
        "berbahaya",
        "62.03.01",
    )
    # one dip resets the clock
    dipped = [
        *aq[:9],
        r(90, 240.0, "KPS-AQ-01", "pm25"),
        *[r(m, 260.0, "KPS-AQ-01", "pm25") for m in range(100, 200, 10)],
    ]
    assert run(rule, dipped).actions == []
    # a silence longer than 3 intervals resets it too
    gap = [*aq[:6], *[r(m, 260.0, "KPS-AQ-01", "pm25") for m in range(100, 200, 10)]]
    assert run(rule, gap).actions == []


def test_sustained_clock_survives_a_silence_of_exactly_three_intervals() -> None:
    rule = RULES["karhutla-pm25-berbahaya"]  # PM2.5 > 250 for 3 h; the station reports every 10 min
    before = [r(m, 260.0, "KPS-AQ-01", "pm25") for m in range(0, 60, 10)]  # last one at 50 min
    after = [r(m, 260.0, "KPS-AQ-01", "pm25") for m in range(90, 190, 10)]
    exactly = [*before, r(80, 260.0, "KPS-AQ-01", "pm25"), *after]  # 30 min silent: still one episode
    assert kinds(run(rule, exactly).actions) == ["OpenCase"]
    longer = [*before, r(80.5, 260.0, "KPS-AQ-01", "pm25"), *after]  # 30.5 min silent: the clock restarts
    assert run(rule, longer).actions == []


def test_rate_of_rise_30_cm_in_an_hour() -> None:
    rule = RULES["banjir-kenaikan-cepat"]
    slow = [r(m, 2.0 + 0.004 * m) for m in range(0, 70, 10)]  # 24 cm/h
    assert run(rule, slow).actions == []
    fast = [r(m, 2.0 + 0.0055 * m) for m in range(0, 70, 10)]  # 33 cm/h
    res = run(rule, fast)
    assert kinds(res.actions) == ["OpenCase"]
    assert res.actions[0].level == "waspada"
    assert res.actions[0].at == T0 + timedelta(minutes=60)


def test_rain_and_rising_river_needs_both_in_the_same_area() -> None:
    rule = RULES["banjir-hujan-dan-sungai-naik"]
    rain = [r(m, 6.0, "KPS-ARG-02", "precipitation") for m in range(0, 90, 10)]  # 54 mm
    rise = [r(m, 3.0 + 0.005 * (m - 30)) for m in range(30, 100, 10)]  # 30 cm/h from 30'
    assert run(rule, rain).actions == []
    assert run(rule, rise).actions == []
    res = run(rule, rain + rise)
    (action,) = [a for a in res.actions if isinstance(a, OpenCase)]
    assert action.area == "62.03.05" and action.level == "siaga"
    assert {x.attribute for x in action.readings} == {"precipitation", "waterLevel"}
    # rain in another kecamatan does not combine
    far_rain = [r(m, 6.0, "KPS-ARG-01", "precipitation") for m in range(0, 90, 10)]
    assert run(rule, far_rain + rise).actions == []


def test_stale_critical_gauge() -> None:
    rule = RULES["pos-duga-air-kritis-mati"]
    state = evaluate(rule, None, [r(0, 1.2, "KPS-AWLR-01")], now=T0, devices=DEVICES).state
    res = evaluate(rule, state, [], now=T0 + timedelta(minutes=59), devices=DEVICES)
    assert res.actions == []
    res = evaluate(rule, res.state, [], now=T0 + timedelta(minutes=61), devices=DEVICES)
    opened = {a.area for a in res.actions if isinstance(a, OpenCase)}
    # AWLR-01 silent 61 min; the other critical gauges were never seen since the first evaluation
    assert opened == {"62.03.01", "62.03.09", "62.03.10", "62.03.16"}
    assert all(a.service == "lainnya" for a in res.actions if isinstance(a, OpenCase))
    res = evaluate(
        rule,
        res.state,
        [],
        now=T0 + timedelta(minutes=70),
        devices=DEVICES,
        last_seen={"KPS-AWLR-01": T0 + timedelta(minutes=65)},
    )
    assert [(type(a).__name__, a.area) for a in res.actions] == [("CloseWarning", "62.03.01")]
    assert "KPS-AWLR-02" not in json.dumps(res.state)  # not critical, not looked at


def test_late_reading_does_not_move_rule_state_back() -> None:
    rule = RULES["banjir-tma-siaga"]
    res = run(rule, [r(0, 5.2), r(20, 3.0)])
    res2 = run(rule, [r(10, 5.9)], now_minutes=30, state=res.state)
    assert res2.actions == []


def test_incremental_equals_one_shot() -> None:
    seq = [r(m, 3.0 + 3.2 * abs(((m // 10) % 40) - 20) / 20) for m in range(0, 1600, 10)]
    seq += [
        r(m, 5.0 if (m // 60) % 5 == 0 else 0.0, "KPS-ARG-02", "precipitation") for m in range(0, 1600, 10)
    ]
    rules = [RULES[i] for i in ("banjir-tma-siaga", "banjir-kenaikan-cepat", "banjir-hujan-dan-sungai-naik")]
    end = T0 + timedelta(minutes=1600)
    _, once = evaluate_all(rules, {}, seq, now=end, devices=DEVICES)
    states: dict[str, Any] = {}
    step: list[Action] = []
    for t, group in itertools.groupby(sorted(seq), key=lambda x: x.observed_at):
        states, acts = evaluate_all(rules, states, list(group), now=t, devices=DEVICES)
        states = json.loads(json.dumps(states))
        step += acts

    def key(actions: list[Action]) -> list[tuple[str, str, str, datetime, str | None]]:
        return [
            (type(a).__name__, a.rule_id, a.area, a.at, a.level)
            for a in actions
            if not isinstance(a, UpdateCase)
        ]

    assert key(once) and key(once) == key(step)
    attached = {x for a in step if isinstance(a, UpdateCase | OpenCase) for x in a.readings}
    attached_once = {x for a in once if isinstance(a, UpdateCase | OpenCase) for x in a.readings}
    assert attached == attached_once


@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.floats(min_value=2.0, max_value=7.0, allow_nan=False), min_size=1, max_size=80),
    st.integers(1, 7),
)
def test_hysteresis_never_opens_twice_while_open(levels: list[float], batch: int) -> None:
    rule = RULES["banjir-tma-siaga"]
    readings = [r(i * 10, v) for i, v in enumerate(levels)]
    state: Any = None
    events: list[Action] = []
    for i in range(0, len(readings), batch):
        part = readings[i : i + batch]
        res = evaluate(rule, state, part, now=part[-1].observed_at, devices=DEVICES)
        state = res.state
        events += [a for a in res.actions if isinstance(a, OpenCase | CloseWarning)]
    # opens and closes alternate, starting with an open
    names = kinds(events)
    assert names == ["OpenCase", "CloseWarning"] * (len(names) // 2) + ["OpenCase"] * (len(names) % 2)
    # every open happened at or above siaga; every close after ≥ 30 min under waspada
    for a in events:
        value = next(x.value for x in readings if x.observed_at == a.at)
        if isinstance(a, OpenCase):
            assert value >= 5.0
        else:
            window = [x.value for x in readings if a.at - timedelta(minutes=30) <= x.observed_at <= a.at]
            assert all(v < 4.0 for v in window)


def test_rule_files_are_validated() -> None:
    base: dict[str, Any] = {
        "id": "x",
        "name": "x",
        "service": "banjir",
        "priority": "P2",
        "when": {
            "kind": "threshold_hysteresis",
            "attribute": "waterLevel",
            "level_set": "flood",
            "open_at": "siaga",
            "close_below": "waspada",
        },
    }
    assert parse_rules({"rules": [base]})[0].id == "x"
    bad: list[dict[str, Any]] = [
        {**base, "service": "gempa"},
        {**base, "when": {**base["when"], "open_at": "merah"}},
        {**base, "when": {**base["when"], "open_at": "waspada", "close_below": "awas"}},
        {**base, "when": {**base["when"], "attribute": "pm2.5"}},
        {
            **base,
            "when": {"kind": "sustained", "attribute": "pm25", "value": 1, "duration_min": 1, "code": "x"},
        },
        {**base, "when": {"kind": "stale", "attribute": "waterLevel"}},
        {**base, "when": {"kind": "python", "expr": "__import__('os')"}},
    ]
    for item in bad:
        with pytest.raises(RuleError):
            parse_rules({"rules": [item]})
    with pytest.raises(RuleError):
        parse_rules({"rules": [base, base]})
