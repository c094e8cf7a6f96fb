"""Sensor API: device list and series for the map and charts, quality, HTTP ingest, CAP feed, active warnings."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError as PydanticValidationError

from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.conditional import conditional_response, feed_updated
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.sensors import alarms as sensor_alarms
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors import queries as sensor_queries
from kotapintar.sensors import warnings as sensor_warnings
from kotapintar.sensors.cap_api import alert_url
from kotapintar.sensors.engine.registry import Device, describe_errors

router = APIRouter(tags=["sensors"])
PREFIX = "/api/v1/sensors"
AUTH_REASONS = frozenset({"unknown_device", "bad_api_key"})
MAX_INGEST_BYTES = 1024 * 1024


@router.get(f"{PREFIX}/devices", response_model=list[dict[str, Any]])
def list_devices(db: DbDep, settings: SettingsDep) -> list[dict[str, Any]]:
    """Every device with position, health (ok/stale/never_seen), 24-hour quality and latest values (map)."""
    return sensor_queries.device_overview(db, settings=settings)


@router.get(f"{PREFIX}/devices/{{device_id}}/series", response_model=dict[str, Any])
def device_series(
    device_id: str,
    db: DbDep,
    settings: SettingsDep,
    start: Annotated[str | None, Query(description="ISO 8601; default 24 h before end")] = None,
    end: Annotated[str | None, Query(description="ISO 8601; default now")] = None,
    resolution: Annotated[str, Query(pattern="^(raw|1m|1h|1d)$")] = "raw",
    attribute: Annotated[str | None, Query(description="default: the device's main attribute")] = None,
) -> dict[str, Any]:
    """A device's series for a range: raw readings with quality flags, or 1m/1h/1d min/max/mean/count."""
    until = sensor_queries.parse_time(end, utcnow())
    since = sensor_queries.parse_time(start, until - timedelta(hours=24))
    return sensor_queries.device_series(
        db, device_id, start=since, end=until, resolution=resolution, attribute=attribute, settings=settings
    )


@router.get(f"{PREFIX}/latest", response_model=list[dict[str, Any]])
def latest(
    db: DbDep,
    settings: SettingsDep,
    kind: Annotated[str, Query(description="water_level, rain_gauge, air_quality, weather, …")],
) -> list[dict[str, Any]]:
    """The latest value of every device of a kind (with the flood level for river gauges)."""
    return sensor_queries.latest_of_kind(db, kind, settings=settings)


@router.get(f"{PREFIX}/quality", response_model=dict[str, Any])
def quality(
    db: DbDep, settings: SettingsDep, hours: Annotated[int, Query(ge=1, le=744)] = 24
) -> dict[str, Any]:
    """Data quality per device and per kind: completeness %, flagged %, last seen (published as open data)."""
    return sensor_queries.quality_report(db, hours=hours, settings=settings)


@router.get(f"{PREFIX}/rejections", response_model=list[dict[str, Any]])
def rejections(db: DbDep, actor: ActorDep) -> list[dict[str, Any]]:
    """Rejected messages per claimed device and reason (operators)."""
    return sensor_queries.rejection_counts(db, actor)


@router.get(f"{PREFIX}/alarms", response_model=list[dict[str, Any]])
def alarms(db: DbDep, actor: ActorDep, settings: SettingsDep) -> list[dict[str, Any]]:
    """Sensor alarms in force, most severe first (operators): rule, area, level, since, the case each opened
    (None while it is being opened) and its public CAP headline."""
    return sensor_alarms.open_alarms(db, actor, settings=settings)


@router.get(f"{PREFIX}/ingest", response_model=list[dict[str, Any]])
def ingest_status(request: Request, actor: ActorDep) -> list[dict[str, Any]]:
    """The MQTT subscribers this server runs, now: connection, messages received, processed, rejected,
    dropped because the backlog was full, lost with a dead worker, and the backlog (operators)."""
    return sensor_queries.ingest_status(actor, request.app.state.sensor_ingestors)


@router.get(f"{PREFIX}/cases/{{case_id}}/observations", response_model=dict[str, Any])
def case_observations(case_id: int, db: DbDep, actor: ActorDep, settings: SettingsDep) -> dict[str, Any]:
    """The readings behind a case a rule opened: each evidence series from 6 h before it opened (chart)."""
    return sensor_queries.case_observations(db, actor, case_id, settings=settings)


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_INGEST_BYTES:
        raise ValidationFailed("Muatan terlalu besar (maks. 1 MB) / payload too large.", code="too_large")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValidationFailed("JSON tidak sah / invalid JSON.", code="bad_json") from exc


def _answer(outcome: sensor_devices.IngestOutcome) -> JSONResponse:
    body = outcome.as_dict()
    if outcome.accepted == 0 and outcome.rejected:
        status = 403 if set(outcome.rejected) & AUTH_REASONS else 400
    else:
        status = 202
    return JSONResponse(body, status_code=status)


@router.post(f"{PREFIX}/ingest", status_code=202, response_model=dict[str, Any])
async def ingest(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    x_device_key: Annotated[str | None, Header(description="the device's API key")] = None,
    k: Annotated[str | None, Query(description="API key (FIWARE IoT Agent style), if no header")] = None,
) -> JSONResponse:
    """HTTP ingest: one `{deviceId, <attrs>}` object, a batch array, or NGSI-LD entities (key per request)."""
    body = await _body(request)
    outcome = sensor_ingest.ingest_http(db, body, api_key=x_device_key or k, settings=settings)
    return _answer(outcome)


@router.post(f"{PREFIX}/ngsi-ld/entities", status_code=202, response_model=dict[str, Any])
async def ingest_ngsi_ld(
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    x_device_key: Annotated[str | None, Header(description="the device's API key")] = None,
) -> JSONResponse:
    """NGSI-LD entities (WaterObserved, AirQualityObserved, …; normalized or concise, one or an array)."""
    body = await _body(request)
    outcome = sensor_ingest.ingest_http(db, body, api_key=x_device_key, settings=settings)
    return _answer(outcome)


@router.post(f"{PREFIX}/devices", status_code=201, response_model=dict[str, Any])
async def register_devices(request: Request, db: DbDep, actor: ActorDep) -> dict[str, Any]:
    """Register or update devices (administrators): one device object or an array, all or none. Keys are
    not set here: `POST …/devices/{id}/key` issues them, and a device registered again keeps its key."""
    body = await _body(request)
    items = body if isinstance(body, list) else [body]
    devices = []
    for index, item in enumerate(items, 1):
        if isinstance(item, dict) and "api_key_hash" in item:
            raise ValidationFailed(
                f"device {index}: api_key_hash is not accepted here; issue a key with POST {PREFIX}/devices/"
                "{id}/key",
                code="bad_device",
            )
        try:
            devices.append(Device.model_validate(item))
        except PydanticValidationError as exc:
            label = item.get("id", "?") if isinstance(item, dict) else "?"
            raise ValidationFailed(
                f"device {index} ({label}): {describe_errors(exc)}", code="bad_device"
            ) from exc
    created, updated = sensor_devices.register_devices(db, actor, devices)
    return {"created": created, "updated": updated, "devices": [d.id for d in devices]}


@router.post(f"{PREFIX}/devices/{{device_id}}/key", status_code=201, response_model=dict[str, str])
def issue_key(device_id: str, db: DbDep, actor: ActorDep) -> dict[str, str]:
    """A new random API key for a device (administrators); shown once, only its hash is kept. The old key
    stops working."""
    return {"device_id": device_id, "api_key": sensor_devices.issue_device_key(db, actor, device_id)}


@router.get("/api/v1/public/warnings.cap.xml", response_class=Response)
def cap_feed(request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """Active public warnings as an Atom feed with each CAP 1.2 alert inline (valid against the CAP XSD)."""
    data = sensor_warnings.cap_feed(
        db, link=str(request.url), settings=settings, alert_link=lambda ident: alert_url(request, ident)
    )
    return conditional_response(
        request, data, last_modified=feed_updated(data), media_type="application/atom+xml; charset=utf-8"
    )


@router.get("/api/v1/public/warnings", response_model=list[dict[str, Any]])
def active_warnings(db: DbDep) -> list[dict[str, Any]]:
    """Active public warnings (area, level, headline, CAP identifier) for the public portal."""
    return sensor_warnings.active_warnings(db)
