"""Pure rollups of readings into 1-minute, 1-hour and 1-day buckets (min, max, mean, count) and retention."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum

from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.quality import micros


class Resolution(StrEnum):
    """Rollup bucket sizes."""

    MINUTE = "1m"
    HOUR = "1h"
    DAY = "1d"

    @property
    def step(self) -> timedelta:
        """Length of one bucket."""
        return {"1m": timedelta(minutes=1), "1h": timedelta(hours=1), "1d": timedelta(days=1)}[self.value]


_STEP_S = {Resolution.MINUTE: 60, Resolution.HOUR: 3600, Resolution.DAY: 86400}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Rollup:
    """Aggregate of one device attribute over one bucket; `total` lets partial rollups be merged exactly."""

    device_id: str
    attribute: str
    resolution: Resolution
    bucket_start: datetime
    count: int
    min: float
    max: float
    mean: float
    total: float


def bucket_start(moment: datetime, resolution: Resolution, *, day_tz: tzinfo = UTC) -> datetime:
    """The UTC start of the bucket holding `moment`; days follow midnight in `day_tz` (e.g. WIB)."""
    if resolution is not Resolution.DAY or isinstance(day_tz, timezone):
        # Fixed offsets (UTC, WIB): plain arithmetic on POSIX seconds, ~10x cheaper than replace()/astimezone().
        shift = day_tz.utcoffset(None) if resolution is Resolution.DAY else None
        offset = shift.total_seconds() if shift is not None else 0.0
        step = _STEP_S[resolution]
        seconds = math.floor(moment.timestamp()) + offset
        return datetime.fromtimestamp(seconds - seconds % step - offset, UTC)
    # Days in a zone with daylight saving or history (ZoneInfo): midnight in that zone.
    local = moment.astimezone(day_tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)


def rollup(readings: Iterable[Reading], resolution: Resolution, *, day_tz: tzinfo = UTC) -> list[Rollup]:
    """Bucket readings per device, attribute and bucket; the result does not depend on input order.

    Exact duplicates (same device, attribute, time and value) count once. Means use an exactly rounded
    sum (math.fsum), so any order of the same readings gives bit-identical results.
    """
    unique = dict.fromkeys(readings)
    items = [(r.device_id, r.attribute, micros(r.observed_at), r.value) for r in unique]
    return [
        Rollup(d, a, resolution, start, count, low, high, mean, total)
        for d, a, start, count, low, high, mean, total in bucket_rows(items, resolution, day_tz=day_tz)
    ]


BucketRow = tuple[str, str, datetime, int, float, float, float, float]


def bucket_rows(
    items: Iterable[tuple[str, str, int, float]], resolution: Resolution, *, day_tz: tzinfo = UTC
) -> list[BucketRow]:
    """`rollup` of distinct (device, attribute, microseconds since the epoch, value) readings, as plain
    (device, attribute, bucket_start, count, min, max, mean, total) rows sorted by device, attribute, bucket.

    Ingest rolls every reading up three times, so this works on integer times and builds one datetime per
    bucket instead of one per reading; duplicates must already be gone.
    """
    fixed = resolution is not Resolution.DAY or isinstance(day_tz, timezone)
    shift = day_tz.utcoffset(None) if resolution is Resolution.DAY and fixed else None
    offset = int(shift.total_seconds()) if shift is not None else 0
    step = _STEP_S[resolution]
    groups: dict[tuple[str, str, int], list[float]] = {}
    starts: dict[int, datetime] = {}
    for device_id, attribute, t_us, value in items:
        seconds = t_us // 1_000_000
        if fixed:
            local = seconds + offset
            bucket = local - local % step - offset
        else:
            start = bucket_start(_EPOCH + timedelta(seconds=seconds), resolution, day_tz=day_tz)
            bucket = (start - _EPOCH) // _SECOND
            starts[bucket] = start
        key = (device_id, attribute, bucket)
        values = groups.get(key)
        if values is None:
            groups[key] = [value]
        else:
            values.append(value)
    out: list[BucketRow] = []
    for (device_id, attribute, bucket), values in sorted(groups.items()):
        found = starts.get(bucket)
        start = found if found is not None else starts.setdefault(bucket, _EPOCH + timedelta(seconds=bucket))
        total = math.fsum(values)
        out.append(
            (device_id, attribute, start, len(values), min(values), max(values), total / len(values), total)
        )
    return out


def merge(parts: Iterable[Rollup]) -> list[Rollup]:
    """Merge partial rollups of the same bucket (e.g. two ingest batches) into one each."""
    groups: dict[tuple[str, str, Resolution, datetime], list[Rollup]] = {}
    for p in parts:
        groups.setdefault((p.device_id, p.attribute, p.resolution, p.bucket_start), []).append(p)
    out = []
    for (device_id, attribute, resolution, start), items in sorted(groups.items()):
        count = sum(i.count for i in items)
        total = math.fsum(i.total for i in items)
        out.append(
            Rollup(
                device_id,
                attribute,
                resolution,
                start,
                count,
                min(i.min for i in items),
                max(i.max for i in items),
                total / count,
                total,
            )
        )
    return out


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each form of the data is kept; None = forever."""

    raw: timedelta | None = timedelta(days=90)
    minute: timedelta | None = timedelta(days=365)
    hour: timedelta | None = None
    day: timedelta | None = None

    def cutoffs(self, now: datetime) -> dict[str, datetime | None]:
        """For each form ('raw', '1m', '1h', '1d'): rows observed before this time may be deleted."""
        spans = {"raw": self.raw, "1m": self.minute, "1h": self.hour, "1d": self.day}
        return {name: (now - span if span is not None else None) for name, span in spans.items()}


def expired(readings: Iterable[Reading], now: datetime, policy: RetentionPolicy) -> list[Reading]:
    """The raw readings that the policy allows to delete at `now` (their rollups are kept)."""
    cutoff = policy.cutoffs(now)["raw"]
    if cutoff is None:
        return []
    return [r for r in readings if r.observed_at < cutoff]
