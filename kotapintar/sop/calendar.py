"""The working-day calendar (hari kerja): weekends, national holidays, cuti bersama and office hours.

Rules (documented in docs/sop.md):
- Office hours default to Senin–Kamis 08:00–16:00 and Jumat 08:00–16:30 WIB (the Friday half hour makes up
  for the longer Friday-prayer break), Sabtu–Minggu closed; every part is configurable.
- `N hari kerja` ends at the closing time of the N-th working day *after* the local day the clock started
  (the day of receipt is day 0, whatever the hour), the usual reading of "paling lambat N hari kerja sejak
  diterima".
- `N jam kerja` and fractions of a working-day standard (reminders at 50 %, escalation at 150 %) are counted
  in office time only.
All inputs and outputs are aware UTC datetimes; the arithmetic happens in the region's zone (Asia/Jakarta).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from kotapintar.sop.duration import Duration, DurationUnit

MAX_DAYS_SCANNED = 3 * 366


@dataclass(frozen=True)
class Holiday:
    """One day off: a national holiday (libur nasional) or a collective leave day (cuti bersama)."""

    day: date
    name: str
    kind: str = "libur_nasional"  # or "cuti_bersama"
    status: str = "ditetapkan"  # ditetapkan (SKB signed) | tetap (date fixed by law) | perkiraan (estimate)

    @property
    def confirmed(self) -> bool:
        """True when the date is certain: set by the signed SKB or fixed by law."""
        return self.status in ("ditetapkan", "tetap")


DEFAULT_HOURS: dict[int, tuple[time, time]] = {
    0: (time(8, 0), time(16, 0)),
    1: (time(8, 0), time(16, 0)),
    2: (time(8, 0), time(16, 0)),
    3: (time(8, 0), time(16, 0)),
    4: (time(8, 0), time(16, 30)),
}


@dataclass(frozen=True)
class WorkingCalendar:
    """Which local days are working days and the office hours on them; pure arithmetic, no clock."""

    holidays: frozenset[date] = frozenset()
    hours: Mapping[int, tuple[time, time]] = field(default_factory=lambda: dict(DEFAULT_HOURS))
    zone: str = "Asia/Jakarta"
    holiday_names: Mapping[date, str] = field(default_factory=dict)

    @classmethod
    def from_holidays(
        cls,
        holidays: Iterable[Holiday],
        *,
        include_cuti_bersama: bool = True,
        hours: Mapping[int, tuple[time, time]] | None = None,
        zone: str = "Asia/Jakarta",
    ) -> WorkingCalendar:
        """Build a calendar from holiday entries; cuti bersama count as days off unless told otherwise."""
        chosen = [h for h in holidays if include_cuti_bersama or h.kind != "cuti_bersama"]
        return cls(
            holidays=frozenset(h.day for h in chosen),
            hours=dict(hours or DEFAULT_HOURS),
            zone=zone,
            holiday_names={h.day: h.name for h in chosen},
        )

    @property
    def tz(self) -> ZoneInfo:
        """The zone the calendar counts in."""
        return ZoneInfo(self.zone)

    def is_working_day(self, day: date) -> bool:
        """True on a weekday with office hours that is not a holiday or cuti bersama."""
        return day.weekday() in self.hours and day not in self.holidays

    def _interval(self, day: date) -> tuple[datetime, datetime] | None:
        if not self.is_working_day(day):
            return None
        start, end = self.hours[day.weekday()]
        tz = self.tz
        return datetime.combine(day, start, tz), datetime.combine(day, end, tz)

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None:
            raise ValueError("waktu harus timezone-aware (UTC)")
        return moment.astimezone(self.tz)

    def next_working_day(self, day: date) -> date:
        """The first working day strictly after `day`."""
        for _ in range(MAX_DAYS_SCANNED):
            day += timedelta(days=1)
            if self.is_working_day(day):
                return day
        raise ValueError("kalender kerja tidak memiliki hari kerja dalam tiga tahun")

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """Closing time of the `days`-th working day after the local day of `start` (aware UTC)."""
        day = self._local(start).date()
        for _ in range(days):
            day = self.next_working_day(day)
        interval = self._interval(day)
        if interval is None:  # days == 0 on a day off: due at the next opening
            day = self.next_working_day(day)
            interval = self._interval(day)
            assert interval is not None
            return interval[0].astimezone(UTC)
        return interval[1].astimezone(UTC)

    def working_seconds_between(self, start: datetime, end: datetime) -> float:
        """Office time (seconds) between two instants; 0 when end is not after start."""
        if end <= start:
            return 0.0
        a, b = self._local(start), self._local(end)
        total = 0.0
        day = a.date()
        while day <= b.date():
            interval = self._interval(day)
            if interval is not None:
                lo, hi = max(interval[0], a), min(interval[1], b)
                if hi > lo:
                    total += (hi - lo).total_seconds()
            day += timedelta(days=1)
        return total

    def add_working_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant when `seconds` of office time have passed since `start` (aware UTC)."""
        cursor = self._local(start)
        remaining = seconds
        day = cursor.date()
        for _ in range(MAX_DAYS_SCANNED * 2):
            interval = self._interval(day)
            if interval is not None:
                lo = max(interval[0], cursor)
                available = (interval[1] - lo).total_seconds()
                if available > 0:
                    if remaining <= available:
                        return (lo + timedelta(seconds=remaining)).astimezone(UTC)
                    remaining -= available
            day += timedelta(days=1)
        raise ValueError("kalender kerja tidak memiliki cukup jam kerja")

    def add_duration(self, start: datetime, duration: Duration) -> datetime:
        """The due time of a time standard started at `start`: 24/7 clock or working calendar (aware UTC)."""
        if duration.unit is DurationUnit.WORKING_DAY:
            return self.add_working_days(start, duration.amount)
        if duration.unit is DurationUnit.WORKING_HOUR:
            return self.add_working_seconds(start, duration.amount * 3600)
        return (self._local(start) + duration.as_timedelta()).astimezone(UTC)

    def at_fraction(self, start: datetime, duration: Duration, fraction: float) -> datetime:
        """The instant at `fraction` of the standard (0.5 = halfway, 1.5 = 150 %); office time for working units."""
        if not duration.on_working_calendar:
            return (start + duration.as_timedelta() * fraction).astimezone(UTC)
        due = self.add_duration(start, duration)
        if fraction == 1:
            return due
        total = self.working_seconds_between(start, due)
        return self.add_working_seconds(start, total * fraction)


def holidays_from_data(data: Mapping[str, Any]) -> list[Holiday]:
    """Read the holiday entries of a parsed libur_nasional.yaml mapping (years → list of entries)."""
    out: list[Holiday] = []
    for year_entry in data.get("tahun", []):
        for item in year_entry.get("hari", []):
            day = item["tanggal"]
            if isinstance(day, str):
                day = date.fromisoformat(day)
            out.append(
                Holiday(
                    day=day,
                    name=str(item["nama"]),
                    kind=str(item.get("jenis", "libur_nasional")),
                    status=str(item.get("status", year_entry.get("status", "ditetapkan"))),
                )
            )
    return out
