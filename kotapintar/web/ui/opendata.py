"""Open data (/data): the public cases as CSV and GeoJSON, streamed page by page, and their data dictionary.

Never included: *rahasia* (confidential) cases and merged duplicates. Sensitive services (crime, medical)
are placed at the centre of their desa (or without coordinates when the desa is unknown) and carry the
service name instead of their own title.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from kotapintar.api.deps import ActorDep, DbDep, SettingsDep
from kotapintar.store.db import Database
from kotapintar.store.repositories.ui import OPEN, UiRepository
from kotapintar.web.ui.common import page_context, templates

router = APIRouter(include_in_schema=False)
PAGE = 2000

# The data dictionary: column, type, meaning (id, en). The CSV header and GeoJSON properties follow it.
FIELDS: tuple[tuple[str, str, str, str], ...] = (
    ("id", "integer", "Nomor urut kasus", "Case number"),
    ("ticket", "string", "Nomor tiket publik (KPS-TAHUN-NNNNNN)", "Public ticket number"),
    ("service_code", "string", "Kode layanan (jenis masalah)", "Service (problem type) code"),
    ("service_name", "string", "Nama layanan", "Service name"),
    ("priority", "string", "Prioritas P1 (darurat) … P4 (administratif)", "Priority P1 (emergency) … P4"),
    (
        "status",
        "string",
        "received, verified, assigned, in_progress, resolved, closed, rejected",
        "Case status",
    ),
    (
        "title",
        "string",
        "Judul singkat; untuk layanan sensitif diganti nama layanan",
        "Short title; service name for sensitive services",
    ),
    ("lon", "number", "Bujur WGS84 (kosong bila disembunyikan)", "WGS84 longitude (empty when hidden)"),
    ("lat", "number", "Lintang WGS84 (kosong bila disembunyikan)", "WGS84 latitude (empty when hidden)"),
    (
        "location_precision",
        "string",
        "exact = titik laporan; desa = titik tengah desa; hidden = tidak ditampilkan",
        "exact, desa (village centre) or hidden",
    ),
    ("region_code", "string", "Kode wilayah Kemendagri (desa/kelurahan)", "Kemendagri region code"),
    ("kecamatan_code", "string", "Kode kecamatan", "District code"),
    ("agency_code", "string", "Instansi penanggung jawab", "Responsible agency"),
    ("channel", "string", "Kanal laporan (web, sms, whatsapp, call112, sensor …)", "Reporting channel"),
    ("created_at", "datetime", "Waktu diterima (UTC, ISO 8601)", "Received (UTC)"),
    ("updated_at", "datetime", "Perubahan terakhir (UTC)", "Last change (UTC)"),
    ("resolved_at", "datetime", "Waktu selesai ditangani (UTC)", "Resolved (UTC)"),
    ("closed_at", "datetime", "Waktu ditutup (UTC)", "Closed (UTC)"),
)
COLUMNS = tuple(f[0] for f in FIELDS)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _desa_points(db: Database) -> dict[str, tuple[float, float]]:
    with db.reading() as uow:
        return {
            r.code: (r.label_lon, r.label_lat)
            for r in uow.regions.all(level="desa")
            if r.label_lon is not None and r.label_lat is not None
        }


def public_record(row: Any, desa: dict[str, tuple[float, float]]) -> dict[str, Any]:
    """One public case as the open-data record (sensitive ones coarsened to their desa)."""
    lon, lat, precision = row.lon, row.lat, "exact"
    title = row.title
    if row.sensitive:
        title = row.service_name
        point = desa.get(row.region_code or "")
        if point is not None:
            lon, lat, precision = round(point[0], 5), round(point[1], 5), "desa"
        else:
            lon, lat, precision = None, None, "hidden"
    elif lon is None or lat is None:
        precision = "hidden"
    return {
        "id": row.id,
        "ticket": row.ticket,
        "service_code": row.service_code,
        "service_name": row.service_name,
        "priority": row.priority,
        "status": row.status,
        "title": title,
        "lon": lon,
        "lat": lat,
        "location_precision": precision,
        "region_code": row.region_code,
        "kecamatan_code": row.kecamatan_code,
        "agency_code": row.agency_code,
        "channel": row.channel,
        "created_at": _iso(row.created_at),
        "updated_at": _iso(row.updated_at),
        "resolved_at": _iso(row.resolved_at),
        "closed_at": _iso(row.closed_at),
    }


def iter_public_records(
    db: Database, *, open_only: bool = False, limit: int | None = None
) -> Iterator[dict[str, Any]]:
    """Every public record in id order, one short read per keyset page (no long transaction)."""
    desa = _desa_points(db)
    after, sent = 0, 0
    statuses = OPEN if open_only else ()
    while True:
        size = PAGE if limit is None else min(PAGE, limit - sent)
        if size <= 0:
            return
        with db.reading() as uow:
            rows = UiRepository(uow.session).public_page(after_id=after, limit=size, statuses=statuses)
        for row in rows:
            yield public_record(row, desa)
        sent += len(rows)
        if len(rows) < size:
            return
        after = int(rows[-1].id)


def feature(record: dict[str, Any]) -> dict[str, Any]:
    """An open-data record as a GeoJSON Feature (geometry null when the location is hidden)."""
    geometry = (
        {"type": "Point", "coordinates": [record["lon"], record["lat"]]}
        if record["lon"] is not None and record["lat"] is not None
        else None
    )
    props = {k: v for k, v in record.items() if k not in ("lon", "lat")}
    props["url"] = f"/lacak/{record['ticket']}" if record["ticket"] else None
    return {"type": "Feature", "id": record["id"], "geometry": geometry, "properties": props}


def public_features(db: Database, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    """Located public cases as features (newest ids last), for the portal map."""
    return [
        feature(r) for r in iter_public_records(db, open_only=open_only, limit=limit) if r["lon"] is not None
    ]


def _csv_stream(db: Database) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for n, record in enumerate(iter_public_records(db), start=1):
        writer.writerow(["" if record[c] is None else record[c] for c in COLUMNS])
        if n % 500 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _geojson_stream(db: Database) -> Iterator[str]:
    yield '{"type":"FeatureCollection","features":['
    first = True
    for record in iter_public_records(db):
        yield ("" if first else ",") + json.dumps(feature(record), ensure_ascii=False, separators=(",", ":"))
        first = False
    yield "]}"


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request, settings: SettingsDep, actor: ActorDep) -> Response:
    """The open-data page: downloads, licence and the data dictionary."""
    context = page_context(request, settings, actor, fields=FIELDS)
    return templates.TemplateResponse(request, "ui/opendata.html", context)


@router.get("/data/kasus.csv")
def cases_csv(db: DbDep) -> StreamingResponse:
    """All public cases as CSV (UTF-8), streamed."""
    return StreamingResponse(
        _csv_stream(db),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="kotapintar-kasus.csv"'},
    )


@router.get("/data/kasus.geojson")
def cases_geojson(db: DbDep) -> StreamingResponse:
    """All public cases as a GeoJSON FeatureCollection, streamed."""
    return StreamingResponse(
        _geojson_stream(db),
        media_type="application/geo+json",
        headers={"Content-Disposition": 'attachment; filename="kotapintar-kasus.geojson"'},
    )
