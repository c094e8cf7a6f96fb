"""The rule evaluator against properties that any correct evaluator has, on random data of the demo devices.

1. Batch invariance: cutting a batch (in the evaluator's own order, same clock) into smaller batches gives
   the same states and the same actions (readings attached to an open case may arrive in more updates).
2. `evaluate_all` is `evaluate` of each rule, in rule order, sorted by time.
3. The given state is never changed.
4. For the plain hysteresis rule (banjir-tma-siaga) and the stale gauge rule (pos-duga-air-kritis-mati),
   small models written here from the rules' words give the same opens and closes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kotapintar.sensors.engine.kinds import DeviceKind
from kotapintar.sensors.engine.levels import load_catalog
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.registry import load_devices
from kotapintar.sensors.engine.rules import (
    Action,
    CloseWarning,
    OpenCase,
    UpdateCase,
    case_closed,
    evaluate,
    evaluate_all,
    load_rules,
    open_areas,
)

T0 = datetime(2026, 1, 10, tzinfo=UTC)
DEVICES = {d.id: d for d in load_devices()}
RULES = load_rules()
RULE_INDEX = {rule.id: i for i, rule in enumerate(RULES)}
SIAGA_RULE = next(r for r in RULES if r.id == "banjir-tma-siaga")
STALE_RULE = next(r for r in RULES if r.id == "pos-duga-air-kritis-mati")
FLOOD = load_catalog().level_set("flood")
WATER = sorted(d.id for d in DEVICES.values() if d.kind == DeviceKind.WATER_LEVEL)
RAIN = sorted(d.id for d in DEVICES.values() if d.kind == DeviceKind.RAIN_GAUGE)
AIR = sorted(d.id for d in DEVICES.values() if d.kind == DeviceKind.AIR_QUALITY)
EVALUATOR_ORDER = attrgetter("observed_at", "device_id", "attribute")
UNITS = {"waterLevel": "m", "precipitation": "mm", "pm25": "µg/m³", "pm10": "µg/m³"}


def _thresholds(device_id: str) -> dict[str, float]:
    return FLOOD.thresholds(DEVICES[device_id])


# ------------------------------------------------------------------------------------------ random data


@st.composite
def _series(draw: st.DrawFn) -> list[Reading]:
    """One device's run of readings: a start, a step (gaps included), a trend and noise around a level."""
    kind = draw(st.sampled_from(["water", "water", "water", "rain", "air", "air"]))
    start = draw(st.integers(0, 48 * 60))
    count = draw(st.integers(1, 30))
    step = draw(st.sampled_from([1, 5, 10, 10, 10, 20, 45]))
    noise = draw(st.lists(st.floats(-1.0, 1.0), min_size=count, max_size=count))
    if kind == "water":
        device = draw(st.sampled_from(WATER))
        table = _thresholds(device)
        if draw(st.booleans()):  # a trend around one level
            base = table[draw(st.sampled_from(["waspada", "siaga", "awas"]))] + draw(st.floats(-0.8, 0.6))
            slope = draw(st.sampled_from([0.0, 0.0, 0.03, 0.08, -0.05, -0.15]))
            values = [round(base + slope * i + 0.15 * n, 3) for i, n in enumerate(noise)]
        else:  # a flood wave: from under waspada up to about awas and back
            low, high = table["waspada"] - 0.5, table["awas"] + 0.3
            values = [
                round(low + (high - low) * math.sin(math.pi * i / count) + 0.05 * n, 3)
                for i, n in enumerate(noise)
            ]
        attribute = "waterLevel"
    elif kind == "rain":
        device = draw(st.sampled_from(RAIN))
        heavy = draw(st.sampled_from([0.0, 2.0, 6.0, 12.0]))
        values = [round(max(0.0, heavy + heavy * n), 1) for n in noise]
        attribute = "precipitation"
    else:
        device = draw(st.sampled_from(AIR))
        base = draw(st.floats(150.0, 300.0) | st.just(40.0))  # haze, or clean air after it
        spread = draw(st.sampled_from([10.0, 40.0]))
        attribute = draw(st.sampled_from(["pm25", "pm25", "pm25", "pm10"]))
        values = [round(base + spread * n, 1) for n in noise]
    return [
        Reading(T0 + timedelta(minutes=start + i * step), device, attribute, v, UNITS[attribute])
        for i, v in enumerate(values)
    ]


@dataclass
class Batch:
    """One batch as the ingest would pass it: readings in arrival order, the clock and last_seen."""

    readings: list[Reading]
    now: datetime
    last_seen: dict[str, datetime]
    close_after: bool  # close every open case (outside the rule) after this batch
    tell_seen: bool  # for the stale model: pass last_seen (else the rule sees only the readings)


@st.composite
def _batches(draw: st.DrawFn) -> list[Batch]:
    """Readings arriving late, twice (same or another value), ahead of the clock, in random batches."""
    readings = [r for series in draw(st.lists(_series(), min_size=1, max_size=8)) for r in series]
    arrivals: list[tuple[datetime, int, Reading]] = []
    for i, r in enumerate(readings):
        delay = draw(st.sampled_from([0, 0, 0, 0, 0, 1, 3, 15, 90]))
        arrivals.append((r.observed_at + timedelta(minutes=delay), i, r))
        again = draw(st.sampled_from([None, None, None, None, None, "same", "other"]))
        if again is not None:
            value = r.value if again == "same" else round(r.value * draw(st.floats(0.8, 1.25)), 3)
            later = draw(st.sampled_from([0, 5, 60]))
            arrivals.append((r.observed_at + timedelta(minutes=delay + later), -i, replace(r, value=value)))
    arrivals.sort(key=lambda a: (a[0], a[1]))
    cuts = sorted(draw(st.lists(st.integers(0, len(arrivals)), max_size=10)))
    batches: list[Batch] = []
    for lo, hi in zip([0, *cuts], [*cuts, len(arrivals)], strict=True):
        part = arrivals[lo:hi]
        if not part and draw(st.booleans()):
            continue
        clock = part[-1][0] if part else T0 + timedelta(minutes=draw(st.integers(0, 3000)))
        # the clock sometimes lags the newest readings (they are then ignored), sometimes runs ahead
        now = clock + timedelta(minutes=draw(st.sampled_from([0, 0, 0, 2, 30, 120, -4])))
        items = [r for _, _, r in part]
        shuffle: bool = draw(st.booleans())
        if items and shuffle:
            items = draw(st.permutations(items))
        seen: dict[str, datetime] = {}
        for r in items:
            if r.observed_at <= now and (r.device_id not in seen or seen[r.device_id] < r.observed_at):
                seen[r.device_id] = r.observed_at
        batches.append(Batch(list(items), now, seen, draw(st.integers(0, 4)) == 0, draw(st.booleans())))
    return batches


# --------------------------------------------------------------------------------------------- helpers


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _canonical(actions: Sequence[Action]) -> list[dict[str, Any]]:
    """The actions other than updates, in time order, then rule order (a rule's own order is kept)."""
    kept = [a for a in actions if not isinstance(a, UpdateCase)]
    kept.sort(key=lambda a: (a.at, RULE_INDEX[a.rule_id]))
    return [{"type": type(a).__name__, **a.to_dict()} for a in kept]


def _attached(actions: Sequence[Action]) -> dict[tuple[str, str], list[Reading]]:
    """The readings attached by updates, per rule and area, in the order they were attached."""
    out: dict[tuple[str, str], list[Reading]] = {}
    for a in actions:
        if isinstance(a, UpdateCase):
            out.setdefault((a.rule_id, a.area), []).extend(a.readings)
    return out


def _close_all(states: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out = dict(states)
    for rule_id, state in states.items():
        for area in sorted(open_areas(state)):
            out[rule_id] = case_closed(out[rule_id], area)
    return out


def _cut(readings: Sequence[Reading], cuts: Sequence[int]) -> list[list[Reading]]:
    """The batch in the evaluator's order, cut at the given points."""
    ordered = sorted(readings, key=EVALUATOR_ORDER)
    points = sorted({min(c, len(ordered)) for c in cuts})
    return [ordered[lo:hi] for lo, hi in zip([0, *points], [*points, len(ordered)], strict=True)]


# ------------------------------------------------------------------------------------------ properties


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches(), st.lists(st.lists(st.integers(0, 200), max_size=4), min_size=12, max_size=12))
def test_smaller_batches_give_the_same_states_and_actions(
    batches: list[Batch], cuts: list[list[int]]
) -> None:
    whole: dict[str, dict[str, Any]] = {}
    split: dict[str, dict[str, Any]] = {}
    whole_actions: list[Action] = []
    split_actions: list[Action] = []
    for i, batch in enumerate(batches):
        whole, acts = evaluate_all(
            RULES, whole, batch.readings, now=batch.now, devices=DEVICES, last_seen=batch.last_seen
        )
        whole_actions += acts
        for j, part in enumerate(_cut(batch.readings, cuts[i % len(cuts)])):
            split, acts = evaluate_all(
                RULES, split, part, now=batch.now, devices=DEVICES, last_seen=batch.last_seen
            )
            split_actions += acts
            if j % 2:
                split = _json(split)  # states come back from the database as plain JSON
        assert json.dumps(whole) == json.dumps(split)
        if batch.close_after:
            whole, split = _close_all(whole), _close_all(split)
    assert _canonical(whole_actions) == _canonical(split_actions)
    assert _attached(whole_actions) == _attached(split_actions)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_evaluate_all_is_evaluate_of_each_rule_and_leaves_the_given_state_alone(batches: list[Batch]) -> None:
    states: dict[str, dict[str, Any]] = {}
    for batch in batches:
        snapshot = json.dumps(states)
        new_states, actions = evaluate_all(
            RULES, states, batch.readings, now=batch.now, devices=DEVICES, last_seen=batch.last_seen
        )
        assert json.dumps(states) == snapshot
        one_by_one: list[Action] = []
        for rule in RULES:
            result = evaluate(
                rule,
                states.get(rule.id),
                iter(batch.readings),
                now=batch.now,
                devices=DEVICES,
                last_seen=batch.last_seen,
            )
            assert result.state == new_states[rule.id]
            one_by_one += result.actions
        assert json.dumps(states) == snapshot
        assert actions == sorted(one_by_one, key=lambda a: a.at)
        states = _close_all(new_states) if batch.close_after else new_states


# ------------------------------------------------------------------------- a model of the simple rule


@dataclass
class _Area:
    open: bool = False
    armed: bool = True
    off_since: datetime | None = None


def _model(batches: Sequence[Batch]) -> list[tuple[str, str, datetime, str | None]]:
    """banjir-tma-siaga by its words, one water gauge per kecamatan: open at siaga (armed), stay open at
    waspada, close after 30 minutes under waspada; a case closed outside re-arms only under waspada.
    Per gauge, a reading counts only if it is newer than the last one that counted and not after the clock.
    """
    last: dict[str, datetime] = {}
    areas: dict[str, _Area] = {}
    events: list[tuple[str, str, datetime, str | None]] = []
    for batch in batches:
        mine = [r for r in batch.readings if r.attribute == "waterLevel" and r.device_id in WATER]
        # time order, then gauge; of two readings of one gauge at one time, the first passed counts
        for r in sorted(mine, key=lambda x: (x.observed_at, x.device_id)):
            if r.observed_at > batch.now or (r.device_id in last and r.observed_at <= last[r.device_id]):
                continue
            last[r.device_id] = r.observed_at
            table = _thresholds(r.device_id)
            area_code = DEVICES[r.device_id].region
            area = areas.setdefault(area_code, _Area())
            if r.value < table["waspada"]:
                area.armed = True
            if not area.open:
                if r.value >= table["siaga"] and area.armed:
                    level = "awas" if r.value >= table["awas"] else "siaga"
                    area.open, area.off_since = True, None
                    events.append(("open", area_code, r.observed_at, level))
            elif r.value < table["waspada"]:
                area.off_since = area.off_since or r.observed_at
                if r.observed_at - area.off_since >= timedelta(minutes=30):
                    area.open, area.off_since = False, None
                    events.append(("close", area_code, r.observed_at, None))
            else:
                area.off_since = None
        if batch.close_after:
            for area in areas.values():
                if area.open:
                    area.open, area.armed, area.off_since = False, False, None
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_hysteresis_rule_opens_and_closes_as_the_model_says(batches: list[Batch]) -> None:
    state: dict[str, Any] | None = None
    events: list[tuple[str, str, datetime, str | None]] = []
    for batch in batches:
        result = evaluate(SIAGA_RULE, state, batch.readings, now=batch.now, devices=DEVICES)
        state = result.state
        for a in result.actions:
            if isinstance(a, OpenCase):
                events.append(("open", a.area, a.at, a.level))
            elif isinstance(a, CloseWarning):
                events.append(("close", a.area, a.at, None))
        if batch.close_after:
            for area in sorted(open_areas(state)):
                state = case_closed(state, area)
    assert events == _model(batches)


def _stale_model(batches: Sequence[Batch]) -> list[tuple[str, str, datetime]]:
    """pos-duga-air-kritis-mati by its words: at each evaluation, a critical gauge's kecamatan has a warning
    while the gauge has sent nothing for more than 60 minutes (counted from the first evaluation if it
    never did); the warning ends at the first evaluation that finds it reporting again (close_after 0).
    """
    critical = {d: DEVICES[d].region for d in WATER if "kritis" in DEVICES[d].tags}
    first_eval = batches[0].now if batches else T0
    last: dict[str, datetime] = {}
    opened: dict[str, bool] = {}
    armed: dict[str, bool] = {}
    events: list[tuple[str, str, datetime]] = []
    for batch in batches:
        seen = [(r.device_id, r.observed_at) for r in batch.readings if r.observed_at <= batch.now]
        seen += list(batch.last_seen.items()) if batch.tell_seen else []
        for device_id, at in seen:
            if device_id in critical and (device_id not in last or last[device_id] < at):
                last[device_id] = at
        for device_id, area in sorted(critical.items(), key=lambda item: item[1]):
            silent = batch.now - last.get(device_id, first_eval) > timedelta(minutes=60)
            if not silent:
                armed[area] = True
            if not opened.get(area) and silent and armed.get(area, True):
                opened[area] = True
                events.append(("open", area, batch.now))
            elif opened.get(area) and not silent:
                opened[area] = False
                events.append(("close", area, batch.now))
        if batch.close_after:
            for area in opened:
                if opened[area]:
                    opened[area], armed[area] = False, False
    return events


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_batches())
def test_stale_rule_opens_and_closes_as_the_model_says(batches: list[Batch]) -> None:
    state: dict[str, Any] | None = None
    events: list[tuple[str, str, datetime]] = []
    for batch in batches:
        last_seen = batch.last_seen if batch.tell_seen else None
        result = evaluate(
            STALE_RULE, state, batch.readings, now=batch.now, devices=DEVICES, last_seen=last_seen
        )
        state = result.state
        for a in result.actions:
            if isinstance(a, OpenCase | CloseWarning):
                events.append(("open" if isinstance(a, OpenCase) else "close", a.area, a.at))
        if batch.close_after:
            for area in sorted(open_areas(state)):
                state = case_closed(state, area)
    assert events == _stale_model(batches)
