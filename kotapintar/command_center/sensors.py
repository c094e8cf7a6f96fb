"""The command center's sensor page (/operator/sensor): every device's health, latest value and data quality,
the sensor alarms in force with the cases they opened, the MQTT ingest counters and a map of the devices.

Operators only (the same roles as /operator): device health and the ingest counters tell an outsider which
gauges are blind. The page reads the sensor services (`device_overview`, `quality_report`, `open_alarms`,
`ingest_status`); this module only shapes their answers for people: local time (WIB), numbers in the
reader's language, labels of kinds, levels and health from the sensor core's own bilingual tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kotapintar.catalog import service as catalog_service
from kotapintar.command_center import queries
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.core.http.pages import COMMAND_ROLES, page_context, require_roles, templates
from kotapintar.core.http.templating import format_local_time, request_locale
from kotapintar.core.i18n import Locale
from kotapintar.core.settings import Settings
from kotapintar.sensors import alarms as sensor_alarms
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors.engine.kinds import ATTRIBUTES, KIND_LABELS, DeviceKind
from kotapintar.sensors.engine.quality import HEALTH_LABELS, DeviceHealth

router = APIRouter(include_in_schema=False)
REFRESH_S = 60  # the page body and the markers are re-read this often (readings arrive every 10 minutes)
QUALITY_HOURS = 24
HEALTH_ORDER = (DeviceHealth.OK.value, DeviceHealth.STALE.value, DeviceHealth.NEVER_SEEN.value)


def pick(pair: tuple[str, str], locale: Locale | str) -> str:
    """The English half of an (Indonesian, English) label pair for English readers, else the Indonesian."""
    return pair[1] if str(locale) == "en" else pair[0]


def number(value: float, locale: Locale | str, digits: int = 2) -> str:
    """A measured value without trailing zeros, with a decimal comma for Indonesian readers: 2,75 / 2.75."""
    text = f"{value:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{value:.0f}"
    text = "0" if text in ("-0", "") else text
    return text.replace(".", ",") if str(locale) == "id" else text


def percent(value: float, locale: Locale | str) -> str:
    """A share in percent with one decimal: 95,8%."""
    text = f"{value:.1f}"
    return (text.replace(".", ",") if str(locale) == "id" else text) + "%"


def moment(text: str | None) -> datetime | None:
    """An aware UTC time from the services' ISO `Z` strings (None stays None)."""
    if not text:
        return None
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LatestValue:
    """The newest reading of one attribute of a device, ready to print."""

    attribute: str
    label: str
    text: str
    observed_at: datetime | None
    flags: tuple[str, ...]
    level: str | None
    level_label: str | None


@dataclass(frozen=True)
class DeviceRow:
    """One device as the operator sees it: where, whose, how it is doing, what it last said."""

    id: str
    name: str
    kind: str
    kind_label: str
    lon: float
    lat: float
    region_code: str
    region_name: str
    owner_agency: str
    agency_name: str
    health: str
    health_label: str
    last_seen: datetime | None
    values: tuple[LatestValue, ...]
    level: str | None
    level_label: str | None
    completeness: str
    flagged: str
    expected: int
    received: int


@dataclass(frozen=True)
class KindRow:
    """Data quality of all devices of one kind."""

    kind: str
    kind_label: str
    devices: int
    completeness: str
    flagged: str
    expected: int
    received: int
    last_seen: datetime | None


def _kind_label(kind: str, locale: Locale | str) -> str:
    try:
        return pick(KIND_LABELS[DeviceKind(kind)], locale)
    except ValueError:
        return kind


def _health_label(health: str, locale: Locale | str) -> str:
    try:
        return pick(HEALTH_LABELS[DeviceHealth(health)], locale)
    except ValueError:
        return health


def _attribute_label(attribute: str, locale: Locale | str) -> str:
    spec = ATTRIBUTES.get(attribute)
    return (spec.label_en if str(locale) == "en" else spec.label_id) if spec is not None else attribute


def level_labels(db: Database, settings: Settings, locale: Locale | str) -> dict[str, str]:
    """Flood level code → its label (Normal, Waspada, Siaga, Awas) from the shipped level catalog."""
    flood = sensor_devices.sensor_context(db, settings).catalog.level_set("flood")
    return {level.code: pick(level.label, locale) for level in flood.levels}


def _region_names(db: Database) -> dict[str, str]:
    return {r.code: r.name for r in catalog_service.regions(db, "kecamatan")}


def device_rows(db: Database, settings: Settings, locale: Locale | str, *, now: datetime) -> list[DeviceRow]:
    """Every registered device with its health, latest values and 24-hour quality, by kind then id."""
    levels = level_labels(db, settings, locale)
    regions = _region_names(db)
    agencies = queries.agency_names(db)
    rows: list[DeviceRow] = []
    for item in sensor_queries.device_overview(db, now=now, settings=settings):
        values: list[LatestValue] = []
        for attribute in item["attributes"]:
            last = item["latest"].get(attribute)
            if last is None:
                continue
            level = last.get("level")
            values.append(
                LatestValue(
                    attribute=attribute,
                    label=_attribute_label(attribute, locale),
                    text=f"{number(float(last['value']), locale)} {last['unit']}".strip(),
                    observed_at=moment(last.get("observed_at")),
                    flags=tuple(last.get("flags") or ()),
                    level=level,
                    level_label=levels.get(level, level) if level else None,
                )
            )
        level = next((v.level for v in values if v.level), None)
        quality = item["quality"]
        rows.append(
            DeviceRow(
                id=item["id"],
                name=item["name"],
                kind=item["kind"],
                kind_label=_kind_label(item["kind"], locale),
                lon=float(item["lon"]),
                lat=float(item["lat"]),
                region_code=item["region"],
                region_name=regions.get(item["region"], item["region"]),
                owner_agency=item["owner_agency"],
                agency_name=agencies.get(item["owner_agency"], item["owner_agency"]),
                health=item["health"],
                health_label=_health_label(item["health"], locale),
                last_seen=moment(item["last_seen"]),
                values=tuple(values),
                level=level,
                level_label=levels.get(level, level) if level else None,
                completeness=percent(float(quality["completeness_pct"]), locale),
                flagged=percent(float(quality["flagged_pct"]), locale),
                expected=int(quality["expected"]),
                received=int(quality["received"]),
            )
        )
    rows.sort(key=lambda r: (r.kind, r.id))
    return rows


def kind_rows(
    db: Database, settings: Settings, locale: Locale | str, devices: list[DeviceRow], *, now: datetime
) -> list[KindRow]:
    """The per-kind quality summary of `quality_report` over the same 24 hours as the device rows."""
    report = sensor_queries.quality_report(db, now=now, hours=QUALITY_HOURS, settings=settings)
    counts: dict[str, int] = {}
    for row in devices:
        counts[row.kind] = counts.get(row.kind, 0) + 1
    return [
        KindRow(
            kind=kind,
            kind_label=_kind_label(kind, locale),
            devices=counts.get(kind, 0),
            completeness=percent(float(q["completeness_pct"]), locale),
            flagged=percent(float(q["flagged_pct"]), locale),
            expected=int(q["expected"]),
            received=int(q["received"]),
            last_seen=moment(q["last_seen"]),
        )
        for kind, q in report["kinds"].items()
    ]


def alarm_rows(db: Database, settings: Settings, actor: Actor, locale: Locale | str) -> list[dict[str, Any]]:
    """The alarms in force, each with its level label and, once its case is open, the case's ticket."""
    alarms = sensor_alarms.open_alarms(db, actor, settings=settings)
    levels = level_labels(db, settings, locale)
    titles = queries.case_titles(db, actor, [a["case_id"] for a in alarms if a["case_id"] is not None])
    return [
        a
        | {
            "level_label": levels.get(a["level"], a["level"]) if a["level"] else None,
            "opened": moment(a["opened_at"]),
            "ticket": titles[a["case_id"]][0] if a["case_id"] in titles else None,
        }
        for a in alarms
    ]


def _body_context(
    request: Request, db: Database, settings: Settings, actor: Actor, **extra: Any
) -> dict[str, Any]:
    locale = request_locale(request)
    now = utcnow()
    devices = device_rows(db, settings, locale, now=now)
    health_counts = {h: sum(1 for d in devices if d.health == h) for h in HEALTH_ORDER}
    ingest = [
        status | {"last_message": moment(status.get("last_message_at"))}
        for status in sensor_queries.ingest_status(actor, getattr(request.app.state, "sensor_ingestors", []))
    ]
    return page_context(
        request,
        settings,
        actor,
        devices=devices,
        kinds=kind_rows(db, settings, locale, devices, now=now),
        alarms=alarm_rows(db, settings, actor, locale),
        ingest=ingest,
        health_counts=health_counts,
        health_labels={h: _health_label(h, locale) for h in HEALTH_ORDER},
        updated_at=now,
        quality_hours=QUALITY_HOURS,
        **extra,
    )


@router.get("/operator/sensor", response_class=HTMLResponse)
def sensor_page(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Devices, alarms, data quality and ingest on one page; the body and the map refresh every minute."""
    require_roles(request, actor, COMMAND_ROLES)
    locale = request_locale(request)
    context = _body_context(
        request,
        db,
        settings,
        actor,
        refresh_s=REFRESH_S,
        tile_url=settings.tile_url,
        legend_levels=list(level_labels(db, settings, locale).items()),
    )
    return templates.TemplateResponse(request, "ui/sensors.html", context)


@router.get("/operator/sensor/isi", response_class=HTMLResponse)
def sensor_body(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """The page's body alone (alarms, devices, quality, ingest), re-fetched by htmx every minute."""
    require_roles(request, actor, COMMAND_ROLES)
    context = _body_context(request, db, settings, actor)
    return templates.TemplateResponse(request, "ui/_sensors_body.html", context)


def device_feature(row: DeviceRow, locale: Locale | str, timezone: str) -> dict[str, Any]:
    """One device as a GeoJSON Feature for the sensor map: codes to colour by, labels for the popup."""
    return {
        "type": "Feature",
        "id": row.id,
        "geometry": {"type": "Point", "coordinates": [row.lon, row.lat]},
        "properties": {
            "id": row.id,
            "name": row.name,
            "kind": row.kind,
            "kind_label": row.kind_label,
            "health": row.health,
            "health_label": row.health_label,
            "level": row.level,
            "level_label": row.level_label,
            "value_text": " · ".join(f"{v.label} {v.text}" for v in row.values),
            "last_seen": row.last_seen.isoformat() if row.last_seen else None,
            "last_seen_text": format_local_time(row.last_seen, timezone, locale) if row.last_seen else None,
            "url": f"/operator/sensor#perangkat-{row.id}",
        },
    }


@router.get("/operator/sensor/perangkat.geojson")
def sensor_map_data(request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep) -> Response:
    """Every device as a Point with its health and (river gauges) flood level, for the sensor map."""
    require_roles(request, actor, COMMAND_ROLES)
    locale = request_locale(request)
    rows = device_rows(db, settings, locale, now=utcnow())
    features = [device_feature(row, locale, settings.timezone) for row in rows]
    body = json.dumps(
        {"type": "FeatureCollection", "features": features}, separators=(",", ":"), ensure_ascii=False
    )
    return Response(body, media_type="application/geo+json", headers={"Cache-Control": "no-store"})
