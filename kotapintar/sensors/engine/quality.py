"""Pure data-quality checks of readings (range, spike, stuck, gap, clock skew) and quality summaries."""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kotapintar.sensors.engine.payloads import Reading


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


FLAG_BITS: dict[QualityFlag, int] = {flag: 1 << i for i, flag in enumerate(QualityFlag)}
EXCLUDING_MASK = sum(FLAG_BITS[f] for f in EXCLUDING_FLAGS)
_NO_REFERENCE_MASK = sum(FLAG_BITS[f] for f in _NO_REFERENCE)
_OUT_OF_RANGE = FLAG_BITS[QualityFlag.OUT_OF_RANGE]
_SPIKE = FLAG_BITS[QualityFlag.SPIKE]
_STUCK = FLAG_BITS[QualityFlag.STUCK]
_GAP = FLAG_BITS[QualityFlag.GAP]
_CLOCK_SKEW = FLAG_BITS[QualityFlag.CLOCK_SKEW]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_MASK_FLAGS: dict[int, frozenset[QualityFlag]] = {
    mask: frozenset(f for f, bit in FLAG_BITS.items() if mask & bit) for mask in range(1 << len(QualityFlag))
}


def mask_of(flags: Iterable[QualityFlag]) -> int:
    """The stored bitmask of a set of flags (bit i = i-th QualityFlag; 0 = clean)."""
    return sum(FLAG_BITS[f] for f in set(flags))


def flags_of(mask: int) -> frozenset[QualityFlag]:
    """The flags of a stored bitmask."""
    return _MASK_FLAGS[mask & ((1 << len(QualityFlag)) - 1)]


def micros(moment: datetime) -> int:
    """Whole microseconds since the epoch: exact, so checks on plain ints agree with timedelta arithmetic."""
    return (moment - _EPOCH) // _US


@dataclass(frozen=True, slots=True)
class SeriesLimits:
    """A QualityConfig in integer microseconds and floats: what the per-reading checks compare against.

    Built once per device and attribute so that checking a reading is a handful of int and float
    comparisons (ingest flags tens of thousands of readings a second) with results identical to the
    timedelta definitions in QualityConfig.
    """

    valid_min: float | None
    valid_max: float | None
    max_rate_per_hour: float | None
    stuck_window_us: int | None
    stuck_tolerance: float
    stuck_exempt: tuple[float, ...]
    gap_us: int | None
    max_clock_skew_us: int
    min_spike_dt_us: int
    window_us: int

    @classmethod
    def of(cls, config: QualityConfig) -> SeriesLimits:
        """The limits of a config."""
        gap = config.expected_interval * config.gap_factor if config.expected_interval is not None else None
        return cls(
            valid_min=config.valid_min,
            valid_max=config.valid_max,
            max_rate_per_hour=config.max_rate_per_hour,
            stuck_window_us=config.stuck_window // _US if config.stuck_window is not None else None,
            stuck_tolerance=config.stuck_tolerance,
            stuck_exempt=config.stuck_exempt,
            gap_us=gap // _US if gap is not None else None,
            max_clock_skew_us=config.max_clock_skew // _US,
            min_spike_dt_us=config.min_spike_dt // _US,
            window_us=history_needed(config) // _US,
        )


def _check(
    t: int,
    value: float,
    times: Sequence[int],
    values: Sequence[float],
    masks: Sequence[int],
    lo: int,
    hi: int,
    lim: SeriesLimits,
    received_us: int | None,
) -> int:
    """The flag mask of one reading given the earlier readings times[lo:hi] (time order, same series).

    The one implementation of the checks; docs/sensors.md defines them.
    """
    mask = 0
    if (lim.valid_min is not None and value < lim.valid_min) or (
        lim.valid_max is not None and value > lim.valid_max
    ):
        mask = _OUT_OF_RANGE
    if received_us is not None and t - received_us > lim.max_clock_skew_us:
        mask |= _CLOCK_SKEW
    if hi > lo and lim.gap_us is not None and t - times[hi - 1] > lim.gap_us:
        mask |= _GAP
    if lim.max_rate_per_hour is not None and not mask & _OUT_OF_RANGE:
        i = hi - 1
        while i >= lo and masks[i] & _NO_REFERENCE_MASK:
            i -= 1
        if i >= lo:
            dt = max(t - times[i], lim.min_spike_dt_us)
            if abs(value - values[i]) / (dt / 1e6 / 3600.0) > lim.max_rate_per_hour:
                mask |= _SPIKE
    if lim.stuck_window_us is not None and not any(
        abs(value - exempt) <= lim.stuck_tolerance for exempt in lim.stuck_exempt
    ):
        run_start = t
        i = hi - 1
        while i >= lo and abs(values[i] - value) <= lim.stuck_tolerance:
            run_start = times[i]
            i -= 1
        if t - run_start >= lim.stuck_window_us:
            mask |= _STUCK
    return mask


def flag_masks(
    times: Sequence[int],
    values: Sequence[float],
    lim: SeriesLimits,
    *,
    received_us: int | None = None,
    history: tuple[list[int], list[float], list[int]] | None = None,
) -> list[int]:
    """Flag masks of one series' new readings (time order, distinct times) against its stored history.

    `history` is (times, values, masks) in time order and is extended in place with the new readings, so
    each reading is checked against everything before it: stored readings and earlier ones of the batch
    (a late reading is placed by its time). Only the last `history_needed` of history matters.
    """
    done_t, done_v, done_m = history if history is not None else ([], [], [])
    window = lim.window_us
    out: list[int] = []
    for t, value in zip(times, values, strict=True):
        hi = bisect.bisect_left(done_t, t)
        lo = max(0, bisect.bisect_right(done_t, t - window, 0, hi) - 1)
        mask = _check(t, value, done_t, done_v, done_m, lo, hi, lim, received_us)
        pos = hi if hi == len(done_t) or done_t[hi] != t else bisect.bisect_right(done_t, t, hi)
        if pos == len(done_t):
            done_t.append(t)
            done_v.append(value)
            done_m.append(mask)
        else:
            done_t.insert(pos, t)
            done_v.insert(pos, value)
            done_m.insert(pos, mask)
        out.append(mask)
    return out


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
    mask = _check(
        micros(reading.observed_at),
        reading.value,
        [micros(h.reading.observed_at) for h in before],
        [h.reading.value for h in before],
        [mask_of(h.flags) for h in before],
        0,
        len(before),
        SeriesLimits.of(config),
        micros(received_at) if received_at is not None else None,
    )
    return flags_of(mask)


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
    past = sorted(
        (h for h in history if h.reading.attribute in attributes), key=lambda h: h.reading.observed_at
    )
    known = (
        [micros(h.reading.observed_at) for h in past],
        [h.reading.value for h in past],
        [mask_of(h.flags) for h in past],
    )
    masks = flag_masks(
        [micros(r.observed_at) for r in ordered],
        [r.value for r in ordered],
        SeriesLimits.of(config),
        received_us=micros(received_at) if received_at is not None else None,
        history=known,
    )
    return [FlaggedReading(r, flags_of(m)) for r, m in zip(ordered, masks, strict=True)]


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
