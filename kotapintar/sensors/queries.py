"""Sensor read models: data quality, device overview, series and charts for the operator, agency and portal."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Protocol

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.sensors.devices import flag_names, sensor_context
from kotapintar.sensors.engine.cap import WIB
from kotapintar.sensors.engine.levels import LevelCatalog
from kotapintar.sensors.engine.payloads import Reading, iso_z
from kotapintar.sensors.engine.quality import (
    EXCLUDING_MASK,
    FLAG_BITS,
    FlaggedReading,
    QualityFlag,
    combine,
    device_health,
    flags_of,
    summary,
)
from kotapintar.sensors.engine.registry import (
    Device,
)
from kotapintar.sensors.engine.rollup import Resolution, bucket_rows
from kotapintar.sensors.repository import SensorRepository, StoredReading

log = logging.getLogger(__name__)


def _device_view(device: Device, health: str, last_seen: datetime | None) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "kind": device.kind.value,
        "lon": device.lon,
        "lat": device.lat,
        "region": device.region,
        "owner_agency": device.owner_agency,
        "river": device.river,
        "tags": list(device.tags),
        "interval_s": device.interval_s,
        "attributes": list(device.attributes),
        "health": health,
        "last_seen": iso_z(last_seen) if last_seen else None,
    }


def _summary_dict(s: Any) -> dict[str, Any]:
    return {
        "expected": s.expected,
        "received": s.received,
        "completeness_pct": s.completeness_pct,
        "flagged_pct": s.flagged_pct,
        "last_seen": iso_z(s.last_seen) if s.last_seen else None,
    }


def quality_report(
    db: Database, *, now: datetime | None = None, hours: int = 24, settings: Settings | None = None
) -> dict[str, Any]:
    """Data quality per device and per kind over the last `hours`: completeness %, flagged %, last seen."""
    if not 1 <= hours <= 24 * 31:
        raise ValidationFailed(
            "Rentang kualitas data 1 jam sampai 31 hari / hours must be 1..744.", field="hours"
        )
    now = now or utcnow()
    ctx = sensor_context(db, settings)
    start = now - timedelta(hours=hours)
    devices_out: list[dict[str, Any]] = []
    per_kind: dict[str, list[Any]] = {}
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        rows = {row.id: row for row in repo.devices()}
        history = repo.history(
            list(ctx.devices), start, now, attributes={d.primary_attribute for d in ctx.devices.values()}
        )
    by_device: dict[str, list[FlaggedReading]] = {}
    for h in history:
        by_device.setdefault(h.device_id, []).append(
            FlaggedReading(Reading(h.observed_at, h.device_id, h.attribute, h.value, ""), flags_of(h.flags))
        )
    for device in ctx.devices.values():
        s = summary(
            by_device.get(device.id, []), device.interval, (start, now), attribute=device.primary_attribute
        )
        row = rows.get(device.id)
        last_seen = row.last_seen if row is not None else None
        health = device_health(last_seen, device.interval, now)
        devices_out.append(_device_view(device, health.value, last_seen) | {"quality": _summary_dict(s)})
        per_kind.setdefault(device.kind.value, []).append(s)
    return {
        "period": {"start": iso_z(start), "end": iso_z(now)},
        "devices": devices_out,
        "kinds": {kind: _summary_dict(combine(items)) for kind, items in sorted(per_kind.items())},
    }


def device_overview(
    db: Database, *, now: datetime | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Every device with its health, 24-hour quality and latest value per attribute (for the map)."""
    report = quality_report(db, now=now, hours=24, settings=settings)
    ctx = sensor_context(db, settings)
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        for item in report["devices"]:
            device = ctx.devices[item["id"]]
            latest = {}
            for attribute in device.attributes:
                last = repo.latest(device.id, attribute, excluding_mask=FLAG_BITS[QualityFlag.CLOCK_SKEW])
                if last is not None:
                    latest[attribute] = _point(last, device, ctx.catalog)
            item["latest"] = latest
    return list(report["devices"])


def _point(r: StoredReading, device: Device, catalog: LevelCatalog) -> dict[str, Any]:
    from kotapintar.sensors.engine.kinds import canonical_unit

    item: dict[str, Any] = {
        "observed_at": iso_z(r.observed_at),
        "value": r.value,
        "unit": canonical_unit(r.attribute),
        "flags": flag_names(r.flags),
    }
    if r.attribute == "waterLevel":
        flood = catalog.level_set("flood")
        item["level"] = flood.level_of(r.value, flood.thresholds(device))
    return item


def latest_of_kind(db: Database, kind: str, *, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The latest value of every device of a kind (map layer)."""
    ctx = sensor_context(db, settings)
    out = []
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        for device in ctx.devices.values():
            if device.kind.value != kind:
                continue
            last = repo.latest(
                device.id, device.primary_attribute, excluding_mask=FLAG_BITS[QualityFlag.CLOCK_SKEW]
            )
            out.append(
                {
                    "id": device.id,
                    "name": device.name,
                    "lon": device.lon,
                    "lat": device.lat,
                    "region": device.region,
                    "attribute": device.primary_attribute,
                    "latest": _point(last, device, ctx.catalog) if last is not None else None,
                }
            )
    return out


def device_series(
    db: Database,
    device_id: str,
    *,
    start: datetime,
    end: datetime,
    resolution: str = "raw",
    attribute: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """A device's series in [start, end) at raw, 1m, 1h or 1d resolution (raw includes the quality flags)."""
    ctx = sensor_context(db, settings)
    device = ctx.devices.get(device_id)
    if device is None:
        raise NotFound(f"Perangkat '{device_id}' tidak terdaftar / unknown device.", device_id=device_id)
    attribute = attribute or device.primary_attribute
    if attribute not in device.attributes:
        raise ValidationFailed(
            f"Perangkat '{device_id}' tidak mengukur {attribute} / device does not report it.",
            field="attribute",
        )
    if end <= start or end - start > timedelta(days=400):
        raise ValidationFailed("Rentang waktu tidak sah (maksimum 400 hari) / bad range.", field="start")
    from kotapintar.sensors.engine.kinds import canonical_unit

    body: dict[str, Any] = {
        "device_id": device_id,
        "attribute": attribute,
        "unit": canonical_unit(attribute),
        "resolution": resolution,
        "start": iso_z(start),
        "end": iso_z(end),
    }
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        if resolution == "raw":
            rows = repo.series(device_id, attribute, start, end)
            body["points"] = [
                {"t": iso_z(r.observed_at), "value": r.value, "flags": flag_names(r.flags)} for r in rows
            ]
        elif resolution in ("1h", "1d"):
            buckets = repo.rollups(device_id, attribute, resolution, start, end)
            body["points"] = [
                {"t": iso_z(b.bucket_start), "count": b.count, "min": b.min, "max": b.max, "mean": b.mean}
                for b in buckets
            ]
        elif resolution == "1m":
            body["points"] = _minute_points(repo, device_id, attribute, start, end, ctx.zone)
        else:
            raise ValidationFailed(
                "Resolusi: raw, 1m, 1h atau 1d / resolution must be raw|1m|1h|1d.", field="resolution"
            )
    if attribute == "waterLevel":
        body["thresholds"] = ctx.catalog.level_set("flood").thresholds(device)
    return body


def _minute_points(
    repo: SensorRepository, device_id: str, attribute: str, start: datetime, end: datetime, zone: tzinfo
) -> list[dict[str, Any]]:
    """1-minute buckets: materialised ones (raw readings past retention) merged with buckets of the raw
    readings still stored, computed now exactly as ingest computes the others."""
    buckets: dict[datetime, tuple[int, float, float, float]] = {}
    for b in repo.rollups(device_id, attribute, Resolution.MINUTE.value, start, end):
        buckets[b.bucket_start] = (b.count, b.min, b.max, b.total)
    live = repo.clean_micros(device_id, attribute, start, end, excluding_mask=EXCLUDING_MASK)
    for _d, _a, bucket, count, low, high, _mean, total in bucket_rows(live, Resolution.MINUTE, day_tz=zone):
        if stored := buckets.get(bucket):
            count, low, high, total = (
                count + stored[0],
                min(low, stored[1]),
                max(high, stored[2]),
                total + stored[3],
            )
        buckets[bucket] = (count, low, high, total)
    return [
        {"t": iso_z(at), "count": count, "min": low, "max": high, "mean": total / count}
        for at, (count, low, high, total) in sorted(buckets.items())
    ]


def case_observations(
    db: Database, actor: Actor, case_id: int, *, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The readings behind a case opened by a rule: each evidence series from 6 h before it opened on."""
    from kotapintar.cases.service import case_detail

    case_detail(db, actor, case_id)  # raises unless the actor may see this case
    ctx = sensor_context(db, settings)
    now = now or utcnow()
    with db.reading() as uow:
        alarms = [
            (a.rule_id, a.area_code, a.level, a.opened_at, a.closed_at)
            for a in SensorRepository(uow.session).alarms_for_case(case_id)
        ]
    series = []
    seen: set[tuple[str, str]] = set()
    for rule_id, area, _level, opened_at, closed_at in alarms:
        rule = ctx.rule(rule_id)
        if rule is None:
            continue
        start = opened_at - timedelta(hours=6)
        end = min(now, (closed_at or now) + timedelta(hours=1), opened_at + timedelta(days=14)) + timedelta(
            seconds=1
        )
        for _path, leaf in rule.leaves():
            for device in ctx.devices.values():
                if device.region != area or not leaf.matches(device) or (device.id, leaf.attribute) in seen:
                    continue
                seen.add((device.id, leaf.attribute))
                series.append(
                    device_series(
                        db,
                        device.id,
                        start=start,
                        end=max(end, start + timedelta(minutes=1)),
                        attribute=leaf.attribute,
                    )
                    | {"device_name": device.name}
                )
    return {
        "case_id": case_id,
        "alarms": [
            {
                "rule_id": r,
                "area": a,
                "level": lv,
                "opened_at": iso_z(o),
                "closed_at": iso_z(c) if c else None,
            }
            for r, a, lv, o, c in alarms
        ],
        "series": series,
    }


def rejection_counts(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """Rejected messages per claimed device and reason (operators)."""
    actor.require(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        return [
            {
                "device_id": r.device_id,
                "reason": r.reason,
                "count": r.count,
                "last_at": iso_z(r.last_at),
                "last_message": r.last_message,
            }
            for r in SensorRepository(uow.session).rejections()
        ]


class IngestSource(Protocol):
    """A running ingest loop that can say how it is doing (the MQTT subscriber)."""

    def status(self) -> dict[str, Any]:
        """Its connection, counters and backlog now."""


def ingest_status(actor: Actor, sources: Iterable[IngestSource]) -> list[dict[str, Any]]:
    """How the running ingest loops are doing (operators): dropped or lost messages mean missing data."""
    actor.require(Permission.VIEW_ALL_CASES)
    return [source.status() for source in sources]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_time(text: str | None, default: datetime) -> datetime:
    """An ISO time from a query string (a missing zone means UTC)."""
    if not text:
        return default
    try:
        return aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).astimezone(UTC)
    except ValueError as exc:
        raise ValidationFailed(f"Waktu tidak sah: {text} / bad time (ISO 8601).", field="time") from exc


THRESHOLD_COLOURS = {"waspada": "#f9a825", "siaga": "#ef6c00", "awas": "#c62828"}


def chart_geometry(
    series: Mapping[str, Any],
    *,
    width: int = 320,
    height: int = 80,
    marks: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """SVG sparkline geometry of one raw series from `case_observations` (templates/sensors/chart.html).

    `marks` are (label, ISO time) drawn as vertical lines where they fall inside the series (e.g. when the
    alarm opened), so an operator sees what the readings did before and after the rule fired.
    """
    points = [p for p in series.get("points", []) if "value" in p]
    thresholds = dict(series.get("thresholds") or {})
    values = [float(p["value"]) for p in points if not p.get("flags")] or [0.0]
    shown = [v for v in thresholds.values() if min(values) - 1 <= v <= max(values) + 1]
    low, high = min([*values, *shown]), max([*values, *shown])
    span = (high - low) or 1.0
    times = [datetime.fromisoformat(p["t"].replace("Z", "+00:00")).timestamp() for p in points] or [0.0]
    t0, t_span = times[0], (times[-1] - times[0]) or 1.0

    def xy(t: float, v: float) -> tuple[float, float]:
        y = height - 4 - (min(max(v, low), high) - low) / span * (height - 8)
        return round((t - t0) / t_span * (width - 4) + 2, 1), round(y, 1)

    clean = [xy(t, float(p["value"])) for t, p in zip(times, points, strict=False) if not p.get("flags")]
    flagged = [
        {"x": x, "y": y, "title": ", ".join(p["flags"])}
        for t, p in zip(times, points, strict=False)
        if p.get("flags")
        for x, y in [xy(t, float(p["value"]))]
    ]
    vertical = []
    for label, at in marks:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        if len(points) > 1 and t0 <= moment <= times[-1]:
            vertical.append({"x": xy(moment, low)[0], "label": label})
    return {
        "width": width,
        "height": height,
        "start": _wib_label(times[0]) if points else "",
        "end": _wib_label(times[-1]) if points else "",
        "count": len(points),
        "marks": vertical,
        "label": f"{series.get('device_name', series.get('device_id'))} · {series.get('attribute')}",
        "unit": series.get("unit", ""),
        "minimum": f"{min(values):g}",
        "maximum": f"{max(values):g}",
        "points": " ".join(f"{x},{y}" for x, y in clean),
        "flagged": flagged,
        "thresholds": [
            {
                "name": name,
                "value": value,
                "y": xy(t0, value)[1],
                "colour": THRESHOLD_COLOURS.get(name, "#757575"),
            }
            for name, value in thresholds.items()
            if value in shown
        ],
    }


def _wib_label(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, WIB).strftime("%d/%m %H:%M WIB")


def case_sensor_panel(
    db: Database, actor: Actor, case_id: int, channel: str, *, settings: Settings | None = None
) -> dict[str, Any] | None:
    """What the case page shows of a case a rule opened: its alarms and a chart of each evidence series,
    with the moment each alarm opened marked. None for other cases (only rules open `sensor` cases)."""
    if channel != "sensor":
        return None
    found = case_observations(db, actor, case_id, settings=settings)
    if not found["alarms"]:
        return None
    opened = [(f"{a['rule_id']} ({a['level'] or '-'})", a["opened_at"]) for a in found["alarms"]]

    def local(at: str | None) -> str | None:
        return _wib_label(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()) if at else None

    return {
        "alarms": [
            a | {"opened_local": local(a["opened_at"]), "closed_local": local(a["closed_at"])}
            for a in found["alarms"]
        ],
        "charts": [
            chart_geometry(series, marks=opened) for series in found["series"] if series.get("points")
        ],
        "empty": [
            series.get("device_name", series.get("device_id"))
            for series in found["series"]
            if not series.get("points")
        ],
        "data_url": f"/api/v1/sensors/cases/{case_id}/observations",
    }
