"""Rollups into 1m/1h/1d buckets and the retention policy."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.rollup import Resolution, RetentionPolicy, bucket_start, expired, merge, rollup

T0 = datetime(2026, 1, 10, tzinfo=UTC)
WIB = timezone(timedelta(hours=7))

readings_st = st.lists(
    st.builds(
        lambda s, d, a, v: Reading(T0 + timedelta(seconds=s), d, a, v, "m"),
        st.integers(0, 3 * 86400),
        st.sampled_from(["A", "B"]),
        st.sampled_from(["waterLevel", "pm25"]),
        st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(readings_st, st.randoms(use_true_random=False), st.sampled_from(list(Resolution)))
def test_any_order_gives_the_same_rollups(
    readings: list[Reading], rnd: random.Random, res: Resolution
) -> None:
    shuffled = list(readings) + readings[: len(readings) // 3]  # duplicates re-sent
    rnd.shuffle(shuffled)
    assert rollup(shuffled, res) == rollup(readings, res)


@settings(max_examples=60, deadline=None)
@given(readings_st, st.integers(0, 60))
def test_merged_partials_equal_rollup_of_all(readings: list[Reading], cut: int) -> None:
    unique = sorted(set(readings))
    parts = rollup(unique[:cut], Resolution.HOUR) + rollup(unique[cut:], Resolution.HOUR)
    whole = rollup(unique, Resolution.HOUR)
    merged = merge(parts)
    assert [(m.bucket_start, m.count, m.min, m.max) for m in merged] == [
        (w.bucket_start, w.count, w.min, w.max) for w in whole
    ]
    # Sums in another order may differ in the last bits (float addition is not associative): within the
    # rounding bound of the values added, not exactly.
    bound = 1e-12 * sum(abs(r.value) for r in unique)
    for m, w in zip(merged, whole, strict=True):
        assert m.total == pytest.approx(w.total, rel=1e-12, abs=bound)
        assert m.mean == pytest.approx(w.mean, rel=1e-12, abs=bound)


def test_values_and_wib_days() -> None:
    rs = [
        Reading(T0 + timedelta(minutes=m), "A", "pm25", v, "µg/m³")
        for m, v in [(0, 10.0), (0.5, 20.0), (1, 30.0), (59, 40.0), (60, 50.0)]
    ]
    minute = rollup(rs, Resolution.MINUTE)
    assert [(x.bucket_start.minute, x.count, x.min, x.max, x.mean) for x in minute][:2] == [
        (0, 2, 10.0, 20.0, 15.0),
        (1, 1, 30.0, 30.0, 30.0),
    ]
    hour = rollup(rs, Resolution.HOUR)
    assert [(x.count, x.mean) for x in hour] == [(4, 25.0), (1, 50.0)]
    # 2026-01-10 00:00 UTC is 07:00 WIB: the WIB day started at 2026-01-09 17:00 UTC
    day = rollup(rs, Resolution.DAY, day_tz=WIB)
    assert day[0].bucket_start == datetime(2026, 1, 9, 17, tzinfo=UTC) and day[0].count == 5
    late = Reading(datetime(2026, 1, 10, 17, 30, tzinfo=UTC), "A", "pm25", 1.0, "µg/m³")
    assert bucket_start(late.observed_at, Resolution.DAY, day_tz=WIB) == datetime(2026, 1, 10, 17, tzinfo=UTC)


def test_retention() -> None:
    policy = RetentionPolicy(raw=timedelta(days=90))
    now = T0 + timedelta(days=100)
    old = Reading(T0, "A", "pm25", 1.0, "µg/m³")
    new = Reading(T0 + timedelta(days=11), "A", "pm25", 1.0, "µg/m³")
    assert expired([old, new], now, policy) == [old]
    cut = policy.cutoffs(now)
    assert cut["raw"] == now - timedelta(days=90) and cut["1d"] is None
