"""Pure data-quality checks of readings (range, spike, stuck, gap, clock skew) and quality summaries."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kotapintar.sensors.payloads import Reading


class QualityFlag(StrEnum):
    """Why a reading is suspect; see docs/sensors.md for the exact definitions."""

    OUT_OF_RANGE = "out_of_range"
    SPIKE = "spike"
    STUCK = "stuck"
    GAP = "gap"
    CLOCK_SKEW = "clock_skew"


FLAG_LABELS: dict[QualityFlag, tuple[str, str]] = {
    QualityFlag.OUT_OF_RANGE: ("di luar rentang wajar", "out of range"),
    QualityFlag.SPIKE: ("lonjakan tidak wajar", "spike"),
    QualityFlag.STUCK: ("nilai macet", "stuck value"),
    QualityFlag.GAP: ("sesudah jeda data", "after a gap"),
    QualityFlag.CLOCK_SKEW: ("jam perangkat menyimpang", "clock skew"),
}

# Flags that keep a reading out of rules and indicators by default. `gap` only marks the first reading
# after a silence: its value is trustworthy (ignoring it would hide the first reading of a gauge that came
# back during a flood), so it is informational.
EXCLUDING_FLAGS: frozenset[QualityFlag] = frozenset(
    {QualityFlag.OUT_OF_RANGE, QualityFlag.SPIKE, QualityFlag.STUCK, QualityFlag.CLOCK_SKEW}
)
_NO_REFERENCE = frozenset({QualityFlag.OUT_OF_RANGE, QualityFlag.SPIKE, QualityFlag.CLOCK_SKEW})


@dataclass(frozen=True)
class QualityConfig:
    """Per-device, per-attribute settings of the quality checks; None switches a check off."""

    valid_min: float | None = None
    valid_max: float | None = None
    max_rate_per_hour: float | None = None
    stuck_window: timedelta | None = None
    stuck_tolerance: float = 1e-9
    stuck_exempt: tuple[float, ...] = ()
    expected_interval: timedelta | None = None
    gap_factor: float = 3.0
    stale_factor: float = 3.0
    max_clock_skew: timedelta = timedelta(minutes=5)
    min_spike_dt: timedelta = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class FlaggedReading:
    """A reading with its quality flags."""

    reading: Reading
    flags: frozenset[QualityFlag] = field(default_factory=frozenset)

    @property
    def clean(self) -> bool:
        """True when no excluding flag is set (usable by rules and indicators)."""
        return not (self.flags & EXCLUDING_FLAGS)


def is_clean(flags: Iterable[QualityFlag]) -> bool:
    """True when none of `flags` excludes a reading from rules and indicators."""
    return not (frozenset(flags) & EXCLUDING_FLAGS)


def flag_reading(
    reading: Reading,
    history: Sequence[FlaggedReading],
    config: QualityConfig,
    *,
    received_at: datetime | None = None,
) -> frozenset[QualityFlag]:
    """The flags of `reading` given the same device+attribute's earlier readings (any order; later ones ignored)."""
    before = sorted(
        (
            h
            for h in history
            if h.reading.observed_at < reading.observed_at and h.reading.attribute == reading.attribute
        ),
        key=lambda h: h.reading.observed_at,
    )
    return _flags(reading, before, config, received_at)


def _flags(
    reading: Reading, before: Sequence[FlaggedReading], config: QualityConfig, received_at: datetime | None
) -> frozenset[QualityFlag]:
    """The checks, given the earlier readings of the same attribute in time order."""
    flags: set[QualityFlag] = set()
    value, when = reading.value, reading.observed_at
    if (config.valid_min is not None and value < config.valid_min) or (
        config.valid_max is not None and value > config.valid_max
    ):
        flags.add(QualityFlag.OUT_OF_RANGE)
    if received_at is not None and when - received_at > config.max_clock_skew:
        flags.add(QualityFlag.CLOCK_SKEW)
    if before and config.expected_interval is not None:
        silence = when - before[-1].reading.observed_at
        if silence > config.expected_interval * config.gap_factor:
            flags.add(QualityFlag.GAP)
    if config.max_rate_per_hour is not None and QualityFlag.OUT_OF_RANGE not in flags:
        reference = next((h for h in reversed(before) if not (h.flags & _NO_REFERENCE)), None)
        if reference is not None:
            dt = max(when - reference.reading.observed_at, config.min_spike_dt)
            rate = abs(value - reference.reading.value) / (dt.total_seconds() / 3600.0)
            if rate > config.max_rate_per_hour:
                flags.add(QualityFlag.SPIKE)
    if config.stuck_window is not None and not any(
        abs(value - exempt) <= config.stuck_tolerance for exempt in config.stuck_exempt
    ):
        run_start = when
        for h in reversed(before):
            if abs(h.reading.value - value) > config.stuck_tolerance:
                break
            run_start = h.reading.observed_at
        if when - run_start >= config.stuck_window:
            flags.add(QualityFlag.STUCK)
    return frozenset(flags)


def flag_series(
    readings: Iterable[Reading],
    config: QualityConfig,
    *,
    received_at: datetime | None = None,
    history: Sequence[FlaggedReading] = (),
) -> list[FlaggedReading]:
    """Flag a series of one device+attribute in time order, each against the ones before it."""
    ordered = sorted(readings)
    attributes = {r.attribute for r in ordered}
    if len(attributes) > 1:
        return [
            FlaggedReading(
                r,
                flag_reading(
                    r,
                    [*history, *[FlaggedReading(x) for x in ordered if x < r]],
                    config,
                    received_at=received_at,
                ),
            )
            for r in ordered
        ]
    done: list[FlaggedReading] = sorted(
        (h for h in history if h.reading.attribute in attributes), key=lambda h: h.reading.observed_at
    )
    times = [h.reading.observed_at for h in done]
    out: list[FlaggedReading] = []
    window = history_needed(config)
    for reading in ordered:
        # From the last reading at or before the look-back edge: enough for every check to be exact.
        lo = max(0, bisect.bisect_right(times, reading.observed_at - window) - 1)
        hi = bisect.bisect_left(times, reading.observed_at)
        # done[lo:hi] is already in time order and strictly before the reading (one series, one attribute).
        flags = _flags(reading, done[lo:hi], config, received_at)
        item = FlaggedReading(reading, flags)
        pos = bisect.bisect_right(times, reading.observed_at)
        times.insert(pos, reading.observed_at)
        done.insert(pos, item)
        out.append(item)
    return out


def history_needed(config: QualityConfig) -> timedelta:
    """How much earlier history a caller must pass to `flag_reading` (plus one reading before it)."""
    spans = [timedelta(hours=6)]
    if config.stuck_window is not None:
        spans.append(config.stuck_window)
    if config.expected_interval is not None:
        spans.append(config.expected_interval * (config.gap_factor + 1))
    return max(spans)


class DeviceHealth(StrEnum):
    """Whether a device reports as expected."""

    OK = "ok"
    STALE = "stale"
    NEVER_SEEN = "never_seen"


HEALTH_LABELS: dict[DeviceHealth, tuple[str, str]] = {
    DeviceHealth.OK: ("aktif", "reporting"),
    DeviceHealth.STALE: ("tidak melapor", "stale"),
    DeviceHealth.NEVER_SEEN: ("belum pernah melapor", "never seen"),
}


def device_health(
    last_seen: datetime | None, expected_interval: timedelta, now: datetime, *, stale_factor: float = 3.0
) -> DeviceHealth:
    """`stale` when silent for more than `stale_factor` × the expected interval."""
    if last_seen is None:
        return DeviceHealth.NEVER_SEEN
    if now - last_seen > expected_interval * stale_factor:
        return DeviceHealth.STALE
    return DeviceHealth.OK


@dataclass(frozen=True)
class QualitySummary:
    """Data quality of one device (or a group) over a period."""

    expected: int
    received: int
    slots_filled: int
    flagged: int
    completeness_pct: float
    flagged_pct: float
    last_seen: datetime | None


def summary(
    readings: Iterable[FlaggedReading],
    expected_interval: timedelta,
    period: tuple[datetime, datetime],
    *,
    attribute: str | None = None,
) -> QualitySummary:
    """Completeness % (interval slots with a reading / expected slots), flagged % and last seen in [start, end)."""
    start, end = period
    if end <= start:
        raise ValueError("period end must be after start")
    step = expected_interval.total_seconds()
    expected = max(1, int((end - start).total_seconds() // step))
    slots: set[int] = set()
    received = flagged = 0
    last_seen: datetime | None = None
    for item in readings:
        r = item.reading
        if attribute is not None and r.attribute != attribute:
            continue
        if last_seen is None or r.observed_at > last_seen:
            last_seen = r.observed_at
        if not (start <= r.observed_at < end):
            continue
        received += 1
        if not item.clean:
            flagged += 1
        slot = int((r.observed_at - start).total_seconds() // step)
        if slot < expected:
            slots.add(slot)
    return QualitySummary(
        expected=expected,
        received=received,
        slots_filled=len(slots),
        flagged=flagged,
        completeness_pct=round(100.0 * len(slots) / expected, 2),
        flagged_pct=round(100.0 * flagged / received, 2) if received else 0.0,
        last_seen=last_seen,
    )


def combine(summaries: Iterable[QualitySummary]) -> QualitySummary:
    """One summary for a group (e.g. all devices of a kind): slot- and reading-weighted, latest last seen."""
    items = list(summaries)
    expected = sum(s.expected for s in items)
    received = sum(s.received for s in items)
    filled = sum(s.slots_filled for s in items)
    flagged = sum(s.flagged for s in items)
    seen = [s.last_seen for s in items if s.last_seen is not None]
    return QualitySummary(
        expected=expected,
        received=received,
        slots_filled=filled,
        flagged=flagged,
        completeness_pct=round(100.0 * filled / expected, 2) if expected else 0.0,
        flagged_pct=round(100.0 * flagged / received, 2) if received else 0.0,
        last_seen=max(seen) if seen else None,
    )
