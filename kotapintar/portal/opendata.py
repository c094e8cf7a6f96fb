"""Open data (/data): the public cases as CSV and GeoJSON, streamed page by page, and their data dictionary.

Never included: *rahasia* (confidential) cases and merged duplicates. Sensitive services (crime, medical)
are placed at the centre of their desa (or without coordinates when the desa is unknown) and carry the
service name instead of their own title.

Also the sensor data-quality summary (issue 8): per device and per kind, completeness %, flagged %, last seen
and health over the last hours, as CSV and JSON with its own data dictionary.
"""

from __future__ import annotations

import csv
import io
import json

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from kotapintar.core.http.deps import ActorDep, ReadDbDep, SettingsDep
from kotapintar.core.http.pages import page_context, templates
from kotapintar.portal.records import (
    FIELDS,
    SENSOR_COLUMNS,
    SENSOR_FIELDS,
    SENSOR_HOURS,
    HoursQuery,
    csv_stream,
    geojson_stream,
    sensor_quality,
)

router = APIRouter(include_in_schema=False)


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, settings: SettingsDep, actor: ActorDep) -> Response:
    """The open-data page: downloads, licence and the data dictionaries (cases, sensor data quality)."""
    context = page_context(
        request, settings, actor, fields=FIELDS, sensor_fields=SENSOR_FIELDS, sensor_hours=SENSOR_HOURS
    )
    return templates.TemplateResponse(request, "ui/opendata.html", context)


@router.get("/data/kasus.csv")
def cases_csv(db: ReadDbDep) -> StreamingResponse:
    """All public cases as CSV (UTF-8), streamed."""
    return StreamingResponse(
        csv_stream(db),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="kotapintar-kasus.csv"'},
    )


@router.get("/data/kasus.geojson")
def cases_geojson(db: ReadDbDep) -> StreamingResponse:
    """All public cases as a GeoJSON FeatureCollection, streamed."""
    return StreamingResponse(
        geojson_stream(db),
        media_type="application/geo+json",
        headers={"Content-Disposition": 'attachment; filename="kotapintar-kasus.geojson"'},
    )


@router.get("/data/sensor-kualitas.csv")
def sensor_quality_csv(db: ReadDbDep, settings: SettingsDep, jam: HoursQuery = SENSOR_HOURS) -> Response:
    """Sensor data quality per device, then per kind, as CSV (UTF-8) with the dictionary's columns."""
    found = sensor_quality(db, settings, hours=jam)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SENSOR_COLUMNS)
    for record in [*found["devices"], *found["kinds"]]:
        writer.writerow(["" if record[c] is None else record[c] for c in SENSOR_COLUMNS])
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="kotapintar-sensor-kualitas.csv"'},
    )


@router.get("/data/sensor-kualitas.json")
def sensor_quality_json(db: ReadDbDep, settings: SettingsDep, jam: HoursQuery = SENSOR_HOURS) -> Response:
    """Sensor data quality as JSON: `{period, devices: [...], kinds: [...]}`, records as in the CSV."""
    body = json.dumps(sensor_quality(db, settings, hours=jam), ensure_ascii=False)
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="kotapintar-sensor-kualitas.json"'},
    )
