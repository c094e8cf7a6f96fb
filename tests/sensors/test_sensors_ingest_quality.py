"""Device registry, API keys, the ingest pipeline, quality flags and quality summaries."""

from __future__ import annotations

import itertools
import json
import random
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotapintar.sensors.engine.ingest import accept_http, accept_mqtt, conflicts, drop_known, normalise
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.quality import (
    DeviceHealth,
    FlaggedReading,
    QualityConfig,
    QualityFlag,
    combine,
    device_health,
    flag_reading,
    flag_series,
    summary,
)
from kotapintar.sensors.engine.registry import DeviceRegistry, derive_api_key, hash_api_key, load_devices

T0 = datetime(2026, 1, 10, tzinfo=UTC)
SECRET = "rahasia-uji"
REG = DeviceRegistry(load_devices(), key_secret=SECRET)
KEY = derive_api_key(SECRET, "KPS-AWLR-01")


def wl(minutes: float, value: float, device: str = "KPS-AWLR-01") -> Reading:
    return Reading(T0 + timedelta(minutes=minutes), device, "waterLevel", value, "m")


def test_mqtt_accepts_known_device_with_its_key_and_converts_units() -> None:
    res = accept_mqtt(
        f"/{KEY}/KPS-AWLR-01/attrs", b"t|2026-01-10T00:00:00Z|wl|1.4", registry=REG, received_at=T0
    )
    assert res.readings == [wl(0, 1.4)] and not res.rejected
    key6 = derive_api_key(SECRET, "KPS-AWLR-06")  # this gauge sends centimetres
    res = accept_mqtt(f"/{key6}/KPS-AWLR-06/attrs", b"wl|250", registry=REG, received_at=T0)
    assert res.readings[0].value == pytest.approx(2.5)


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        ("/wrongkey/KPS-AWLR-01/attrs", b"wl|1.4", "bad_api_key"),
        (f"/{KEY}/KPS-AWLR-99/attrs", b"wl|1.4", "unknown_device"),
        (f"/{KEY}/KPS-AWLR-01/attrs", b"pm25|14", "sensor_wrong_attribute"),
        (f"/{KEY}/KPS-AWLR-01/attrs", b"wl|x", "bad_value"),
        ("/a/b", b"wl|1", "bad_topic"),
    ],
)
def test_mqtt_rejections_are_counted_not_stored(topic: str, payload: bytes, reason: str) -> None:
    res = accept_mqtt(topic, payload, registry=REG, received_at=T0)
    assert res.readings == []
    assert res.rejected == {reason: 1}
    assert res.errors


def test_stored_key_hash_wins_over_derived_key() -> None:
    device = REG.get("KPS-ARG-01").model_copy(update={"api_key_hash": hash_api_key("acak-123")})
    reg = DeviceRegistry([device], key_secret=SECRET)
    assert reg.authenticate("KPS-ARG-01", "acak-123").id == "KPS-ARG-01"
    res = accept_mqtt(
        f"/{derive_api_key(SECRET, 'KPS-ARG-01')}/KPS-ARG-01/attrs", b"p|1", registry=reg, received_at=T0
    )
    assert res.rejected == {"bad_api_key": 1}


def test_http_batch_keeps_good_devices_and_counts_bad_ones() -> None:
    body = [
        {"deviceId": "KPS-ARG-01", "p": 1.2, "t": "2026-01-10T00:10:00Z"},
        {"deviceId": "KPS-ARG-01", "p": 1.2, "t": "2026-01-10T00:10:00Z"},  # exact duplicate
        {"deviceId": "KPS-ARG-01", "p": 0.4, "t": "2026-01-10T00:00:00Z"},  # late: placed first
        {"deviceId": "KPS-ARG-02", "p": 3.0},
        {"deviceId": "NOPE-1", "p": 3.0},
    ]
    keys = {"KPS-ARG-01": derive_api_key(SECRET, "KPS-ARG-01"), "KPS-ARG-02": "salah"}
    res = accept_http(json.dumps(body), registry=REG, received_at=T0, api_keys=keys)
    assert [(r.observed_at.minute, r.value) for r in res.readings] == [(0, 0.4), (10, 1.2)]
    assert res.rejected == {"bad_api_key": 2}  # ARG-02 wrong key, NOPE-1 has no key at all


def test_unknown_device_in_http_is_rejected_with_any_key() -> None:
    res = accept_http({"deviceId": "NOPE-1", "p": 3.0}, registry=REG, received_at=T0, api_key="x")
    assert res.rejected == {"unknown_device": 1} and res.readings == []


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50), st.floats(0, 5, allow_nan=False)), min_size=1, max_size=30))
def test_normalise_is_order_independent_and_drops_exact_duplicates(items: list[tuple[int, float]]) -> None:
    readings = [wl(m * 10, v) for m, v in items]
    shuffled = readings + readings[: len(readings) // 2]
    random.Random(len(items)).shuffle(shuffled)
    out = normalise(shuffled)
    assert out == normalise(readings) == sorted(set(readings))
    assert all(a.observed_at <= b.observed_at for a, b in itertools.pairwise(out))
    assert drop_known(readings, out) == []


def test_conflicting_values_for_one_slot_are_reported() -> None:
    assert conflicts([wl(0, 1.0), wl(0, 1.1), wl(10, 1.0)]) == [(wl(0, 1.0), wl(0, 1.1))]


# ------------------------------------------------------------------------------------------- quality

CFG = QualityConfig(
    valid_min=-1,
    valid_max=15,
    max_rate_per_hour=1.5,
    stuck_window=timedelta(hours=6),
    expected_interval=timedelta(minutes=10),
    max_clock_skew=timedelta(minutes=5),
)


def flags_of(series: list[Reading], **kw: object) -> list[frozenset[QualityFlag]]:
    return [f.flags for f in flag_series(series, CFG, **kw)]  # type: ignore[arg-type]


def test_clean_series_has_no_flags() -> None:
    series = [wl(i * 10, 1.0 + 0.01 * (i % 7)) for i in range(100)]
    assert all(not f for f in flags_of(series))


def test_out_of_range_and_spike() -> None:
    series = [wl(0, 1.0), wl(10, 1.05), wl(20, 25.0), wl(30, 3.0), wl(40, 1.1), wl(50, 1.15)]
    flags = flags_of(series)
    assert flags[2] == {QualityFlag.OUT_OF_RANGE}
    assert flags[3] == {QualityFlag.SPIKE}  # +1.95 m in 20 min against the last good reading
    assert flags[4] == frozenset() and flags[5] == frozenset()  # the bad ones are not the reference


def test_stuck_needs_the_whole_window() -> None:
    series = [wl(i * 10, 2.0) for i in range(40)]  # 6 h 30 min of the same value
    flags = flags_of(series)
    assert QualityFlag.STUCK not in flags[35]  # 5 h 50 min
    assert QualityFlag.STUCK in flags[36]  # 6 h
    rain = QualityConfig(stuck_window=timedelta(hours=6), stuck_exempt=(0.0,))
    zeros = [Reading(T0 + timedelta(minutes=10 * i), "R", "precipitation", 0.0, "mm") for i in range(60)]
    assert all(not f.flags for f in flag_series(zeros, rain))


def test_gap_marks_first_reading_after_silence_but_keeps_it_clean() -> None:
    flagged = flag_series([wl(0, 1.0), wl(10, 1.0), wl(60, 1.01)], CFG)
    assert flagged[2].flags == {QualityFlag.GAP}
    assert flagged[2].clean


def test_clock_skew_from_the_future() -> None:
    received = T0 + timedelta(minutes=30)
    assert flag_reading(wl(40, 1.0), [], CFG, received_at=received) == {QualityFlag.CLOCK_SKEW}
    assert flag_reading(wl(34, 1.0), [], CFG, received_at=received) == frozenset()
    assert flag_reading(wl(-600, 1.0), [], CFG, received_at=received) == frozenset()  # late is fine


def test_late_reading_is_judged_against_what_came_before_it() -> None:
    history = [FlaggedReading(wl(0, 1.0)), FlaggedReading(wl(20, 1.1))]
    assert flag_reading(wl(10, 1.05), history, CFG) == frozenset()


def test_summary_and_health() -> None:
    period = (T0, T0 + timedelta(hours=10))
    series = [wl(i * 10, 1.0) for i in range(30)] + [wl(400, 30.0)]
    flagged = flag_series(series, CFG)
    s = summary(flagged, timedelta(minutes=10), period)
    assert s.expected == 60 and s.slots_filled == 31
    assert s.completeness_pct == pytest.approx(51.67)
    assert s.flagged == 1 and s.flagged_pct == pytest.approx(100 / 31, abs=0.01)
    assert s.last_seen == T0 + timedelta(minutes=400)
    both = combine([s, summary([], timedelta(minutes=10), period)])
    assert both.completeness_pct == pytest.approx(25.83) and both.last_seen == s.last_seen
    now = T0 + timedelta(minutes=431)
    assert device_health(s.last_seen, timedelta(minutes=10), now) is DeviceHealth.STALE
    assert device_health(s.last_seen, timedelta(minutes=10), now - timedelta(minutes=2)) is DeviceHealth.OK
    assert device_health(None, timedelta(minutes=10), now) is DeviceHealth.NEVER_SEEN


def test_registry_quality_config_comes_from_device() -> None:
    cfg = REG.get("KPS-AWLR-01").quality_config("waterLevel")
    assert (cfg.valid_min, cfg.valid_max, cfg.max_rate_per_hour) == (-1.0, 15.0, 1.5)
    assert cfg.expected_interval == timedelta(minutes=10)
