"""Indicator figures per month: computed ones through the analytics service (the same figures as
/analitik, never a second definition), imported ones from the `indicator_values` table.

`import_csv` is all-or-none: every line is checked first, and any error (named by its line) stores nothing.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, select

from kotapintar.analytics import service as analytics
from kotapintar.analytics.repository import Scope
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.feedback import service as feedback
from kotapintar.indicators.models import IndicatorValue
from kotapintar.indicators.registry import DIMENSIONS, Indicator, by_code, indicators
from kotapintar.sensors.models import SensorAlarm, SensorRollup, SensorWarning

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
MAX_ERRORS = 20


@dataclass(frozen=True)
class Point:
    """One month's value of one indicator and whether it meets the target (None: no value or no target)."""

    period: str
    value: float | None
    met: bool | None


@dataclass(frozen=True)
class Series:
    """An indicator with its monthly values, oldest first."""

    indicator: Indicator
    points: list[Point]

    @property
    def latest(self) -> Point | None:
        """The newest month that has a value."""
        return next((p for p in reversed(self.points) if p.value is not None), None)


def months_ending(last: str, count: int) -> list[str]:
    """`count` months up to and including `last` (YYYY-MM), oldest first."""
    year, month = (int(x) for x in last.split("-"))
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _scope(months: list[str], tz: str, **filters: str) -> Scope:
    """From the first local day of the first month to the first local day after the last one."""
    zone = ZoneInfo(tz)
    y0, m0 = (int(x) for x in months[0].split("-"))
    y1, m1 = (int(x) for x in months[-1].split("-"))
    y1, m1 = (y1, m1 + 1) if m1 < 12 else (y1 + 1, 1)
    since = datetime(y0, m0, 1, tzinfo=zone).astimezone(UTC)
    until = datetime(y1, m1, 1, tzinfo=zone).astimezone(UTC)
    return Scope(since=since, until=until, **filters)  # type: ignore[arg-type]


Computer = Callable[[Database, Actor, list[str], Settings], dict[str, float | None]]


def emergency_total_median(
    db: Database, actor: Actor, months: list[str], settings: Settings
) -> dict[str, float | None]:
    """Median minutes from call (or case) to the first unit on scene, per month of the incident."""
    figures = analytics.segment_figures(
        db, actor, _scope(months, settings.timezone), "month", settings=settings
    )
    out: dict[str, float | None] = {}
    for f in figures:
        median = f.segments["total"].median_s
        out[f.key] = None if median is None else median / 60
    return out


def _on_time(
    db: Database, actor: Actor, months: list[str], settings: Settings, **filters: str
) -> dict[str, float | None]:
    scope = _scope(months, settings.timezone, **filters)
    figures = analytics.task_figures(db, actor, scope, "month", settings=settings)
    return {f.key: None if f.on_time_share is None else f.on_time_share * 100 for f in figures}


def tasks_on_time_share(
    db: Database, actor: Actor, months: list[str], settings: Settings
) -> dict[str, float | None]:
    """Per month of the task: % of completed tasks with a due time that were completed by it."""
    return _on_time(db, actor, months, settings)


def street_lights_on_time_share(
    db: Database, actor: Actor, months: list[str], settings: Settings
) -> dict[str, float | None]:
    """The same share for the street-light service only."""
    return _on_time(db, actor, months, settings, service="lampu_jalan")


GOOD_AIR_PM25_BELOW = (
    15.5  # µg/m³, 24-hour mean: where ISPU 'sedang' starts (sensors/data/defaults.yaml, P.14/2020)
)


def _local_month(session: Any, column: Any, tz: str) -> Any:
    """The local month (YYYY-MM) of an instant column, computed in the database."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone(tz, column), "YYYY-MM")
    offset = datetime.now(ZoneInfo(tz)).utcoffset()  # no summer time in Indonesia
    hours = offset.total_seconds() / 3600 if offset is not None else 0.0
    return func.strftime("%Y-%m", column, f"{hours:+g} hours")


def good_air_days(
    db: Database, actor: Actor, months: list[str], settings: Settings
) -> dict[str, float | None]:
    """Per local month: days whose 24-hour mean PM2.5 was below 15,5 µg/m³ (ISPU 'baik') at every station
    that measured that day (the worst station decides), from the sensors' daily rollups (local days).
    A month without any measured day has no value, not zero."""
    scope = _scope(months, settings.timezone)
    with db.reading() as uow:
        worst = (
            select(SensorRollup.bucket_start.label("day"), func.max(SensorRollup.mean).label("pm25"))
            .where(
                SensorRollup.attribute == "pm25",
                SensorRollup.resolution == "1d",
                SensorRollup.count > 0,
                SensorRollup.bucket_start >= scope.since,
                SensorRollup.bucket_start < scope.until,
            )
            .group_by(SensorRollup.bucket_start)
            .subquery()
        )
        month = _local_month(uow.session, worst.c.day, settings.timezone)
        stmt = select(month, func.sum(case((worst.c.pm25 < GOOD_AIR_PM25_BELOW, 1), else_=0))).group_by(month)
        counted = {str(m): float(n or 0) for m, n in uow.session.execute(stmt).all()}
    return {m: counted.get(m) for m in months}


def flood_warnings_issued(
    db: Database, actor: Actor, months: list[str], settings: Settings
) -> dict[str, float | None]:
    """Per local month of issue: new public flood warnings (CAP msgType Alert, status Actual, of alarms of
    the banjir service); their Updates and Cancels are the same warning and are not counted again."""
    scope = _scope(months, settings.timezone)
    with db.reading() as uow:
        month = _local_month(uow.session, SensorWarning.sent, settings.timezone)
        stmt = (
            select(month, func.count())
            .join(SensorAlarm, SensorAlarm.id == SensorWarning.alarm_id)
            .where(
                SensorWarning.msg_type == "Alert",
                SensorWarning.status == "Actual",
                SensorAlarm.service_code == "banjir",
                SensorWarning.sent >= scope.since,
                SensorWarning.sent < scope.until,
            )
            .group_by(month)
        )
        counted = {str(m): float(n) for m, n in uow.session.execute(stmt).all()}
    return {m: counted.get(m, 0.0) for m in months}


def ikm_all_units(
    db: Database, actor: Actor, months: list[str], settings: Settings
) -> dict[str, float | None]:
    """Per local month of the answer: the combined IKM of every service unit, the same score (one SQL sum
    of the nine elements) that /supervisor and the monthly report show for "semua instansi"; no value
    while an element has no answer yet, because the regulation's index needs all nine."""
    out: dict[str, float | None] = {}
    for month in months:
        scope = _scope([month], settings.timezone)
        overall = feedback.ikm_table(db, "all", since=scope.since, until=scope.until).get("all")
        out[month] = None if overall is None else overall.ikm
    return out


COMPUTERS: dict[str, Computer] = {
    "ikm_all_units": ikm_all_units,
    "flood_warnings_issued": flood_warnings_issued,
    "good_air_days": good_air_days,
    "emergency_total_median": emergency_total_median,
    "tasks_on_time_share": tasks_on_time_share,
    "street_lights_on_time_share": street_lights_on_time_share,
}


def current_month(settings: Settings, now: datetime | None = None) -> str:
    """The local month of `now` (YYYY-MM)."""
    return (now or utcnow()).astimezone(ZoneInfo(settings.timezone)).strftime("%Y-%m")


def series(
    db: Database, actor: Actor, last: str, count: int = 6, *, settings: Settings | None = None
) -> dict[str, list[Series]]:
    """Every indicator's monthly values for `count` months up to `last`, grouped by dimension."""
    actor.require(Permission.VIEW_ALL_CASES)
    if not PERIOD.match(last):
        raise ValidationFailed("Bulan harus berbentuk TTTT-BB, mis. 2026-11.", field="bulan")
    settings = settings or get_settings()
    months = months_ending(last, count)
    with db.reading() as uow:
        rows = uow.session.execute(
            select(IndicatorValue.code, IndicatorValue.period, IndicatorValue.value).where(
                IndicatorValue.period >= months[0], IndicatorValue.period <= months[-1]
            )
        ).all()
    imported: dict[str, dict[str, float | None]] = {}
    for code, period, value in rows:
        imported.setdefault(str(code), {})[str(period)] = float(value)
    out: dict[str, list[Series]] = {d: [] for d in DIMENSIONS}
    for ind in indicators():
        if ind.kind == "computed":
            values = COMPUTERS[str(ind.compute)](db, actor, months, settings)
        else:
            values = imported.get(ind.code, {})
        points = []
        for month in months:
            found = values.get(month)
            points.append(Point(month, found, None if ind.target is None else ind.target.met(found)))
        out[ind.dimension].append(Series(ind, points))
    return out


@dataclass(frozen=True)
class Row:
    """A checked line of an import file."""

    line: int
    code: str
    period: str
    value: float


def _number(text: str) -> float:
    """A number written 12.5 or 12,5 (Indonesian decimal comma); thousands separators are not accepted."""
    cleaned = text.strip()
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    value = float(cleaned)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_csv(text: str) -> list[Row]:
    """Check every line of a `code,period,value` file; raise one ValidationFailed naming each bad line."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = {"code", "period", "value"} - {(f or "").strip() for f in reader.fieldnames or []}
    if missing:
        raise ValidationFailed(
            f"Baris 1: kolom {', '.join(sorted(missing))} tidak ada (perlu code,period,value)."
        )
    known = by_code()
    rows: list[Row] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for raw in reader:
        line = reader.line_num
        record = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        code, period, value = record.get("code", ""), record.get("period", ""), record.get("value", "")
        ind = known.get(code)
        if ind is None:
            errors.append(f"Baris {line}: indikator '{code}' tidak ada di daftar.")
        elif ind.kind != "imported":
            errors.append(f"Baris {line}: indikator '{code}' dihitung dari data Kotapintar, tidak diimpor.")
        if not PERIOD.match(period):
            errors.append(f"Baris {line}: periode '{period}' harus berbentuk TTTT-BB, mis. 2026-11.")
        try:
            number = _number(value)
        except ValueError:
            errors.append(f"Baris {line}: nilai '{value}' bukan angka.")
            number = math.nan
        if (code, period) in seen:
            errors.append(f"Baris {line}: {code} {period} sudah ada di baris {seen[(code, period)]}.")
        seen[(code, period)] = line
        rows.append(Row(line, code, period, number))
    if errors:
        shown = errors[:MAX_ERRORS] + (
            [f"… dan {len(errors) - MAX_ERRORS} kesalahan lain."] if len(errors) > MAX_ERRORS else []
        )
        raise ValidationFailed("Tidak ada yang disimpan. " + " ".join(shown))
    if not rows:
        raise ValidationFailed("Berkas tidak berisi baris data.")
    return rows


def import_csv(db: Database, actor: Actor, text: str, source_file: str) -> int:
    """Store every value of the file (replacing the same indicator and month) in one transaction; returns
    how many lines were stored. Any bad line stores nothing."""
    actor.require(Permission.VIEW_ALL_CASES)
    rows = parse_csv(text)
    now = utcnow()
    with db.transaction() as uow:
        s = uow.session
        for row in rows:
            existing = s.execute(
                select(IndicatorValue).where(
                    IndicatorValue.code == row.code, IndicatorValue.period == row.period
                )
            ).scalar_one_or_none()
            if existing is None:
                s.add(
                    IndicatorValue(
                        code=row.code,
                        period=row.period,
                        value=row.value,
                        source_file=source_file[:200],
                        imported_at=now,
                        imported_by=actor.name[:80],
                    )
                )
            else:
                existing.value, existing.source_file = row.value, source_file[:200]
                existing.imported_at, existing.imported_by = now, actor.name[:80]
    return len(rows)
