"""Open data records: the public cases and the sensor data-quality summary, built from whitelists of fields.

Never included: *rahasia* (confidential) cases and merged duplicates. Sensitive services (crime, medical)
and anonymous reports are placed at the centre of their H3 cell of about 5 km² (`cases.public.public_point`,
the one coarsening every public output uses); sensitive ones carry the service name instead of their title. The routes that serve these are in `opendata.py`.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Query

from kotapintar.cases.lifecycle import OPEN_STATUS_CODES
from kotapintar.cases.public import PUBLIC_POINT_PRECISION, public_point
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.portal.repository import PublicRepository
from kotapintar.sensors.engine.kinds import KIND_ATTRIBUTES, KIND_LABELS, DeviceKind
from kotapintar.sensors.queries import quality_report

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
        "`received`, `verified`, `assigned`, `in_progress`, `resolved`, `closed`, `rejected`",
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
        "exact = titik laporan; area = titik tengah sel ±5 km² (laporan anonim/sensitif); hidden = tidak ditampilkan",
        "exact, area (centre of a cell of about 5 km², anonymous or sensitive reports) or hidden",
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

# The sensor data-quality dictionary: one row per device (scope "device") and per kind (scope "kind").
SENSOR_FIELDS: tuple[tuple[str, str, str, str], ...] = (
    (
        "scope",
        "string",
        "device = satu perangkat; kind = semua perangkat sejenis digabung",
        "device = one device; kind = all devices of that kind together",
    ),
    ("device_id", "string", "Kode perangkat (kosong pada baris jenis)", "Device id (empty on kind rows)"),
    ("name", "string", "Nama perangkat, atau nama jenis pada baris jenis", "Device name, or the kind's name"),
    (
        "kind",
        "string",
        "`water_level`, `rain_gauge`, `air_quality`, `weather`, `traffic`, `fire_hotspot`",
        "Device kind",
    ),
    ("region_code", "string", "Kode kecamatan Kemendagri", "Kemendagri district code"),
    ("owner_agency", "string", "Instansi pemilik perangkat", "Agency that owns the device"),
    ("lon", "number", "Bujur WGS84", "WGS84 longitude"),
    ("lat", "number", "Lintang WGS84", "WGS84 latitude"),
    (
        "attribute",
        "string",
        "Besaran yang dinilai: besaran utama jenisnya (waterLevel, precipitation, pm25, temperature …)",
        "Attribute assessed: the kind's main one",
    ),
    ("interval_s", "integer", "Interval lapor yang diharapkan (detik)", "Expected reporting interval (s)"),
    (
        "health",
        "string",
        "`ok` = melapor; `stale` = diam lebih dari 3× interval; `never_seen` = belum pernah melapor",
        "`ok`, `stale` (silent for more than 3× the interval) or `never_seen`",
    ),
    ("last_seen", "datetime", "Pembacaan terakhir (UTC, ISO 8601)", "Last reading (UTC, ISO 8601)"),
    (
        "expected",
        "integer",
        "Jumlah slot interval lapor dalam periode",
        "Reporting-interval slots in the period",
    ),
    ("received", "integer", "Pembacaan yang diterima dalam periode", "Readings received in the period"),
    (
        "completeness_pct",
        "number",
        "Slot terisi ÷ slot diharapkan × 100",
        "Slots with a reading ÷ slots expected × 100",
    ),
    (
        "flagged_pct",
        "number",
        "Pembacaan bertanda kualitas ÷ pembacaan diterima × 100",
        "Readings with a quality flag ÷ readings received × 100",
    ),
    ("period_start", "datetime", "Awal periode (UTC)", "Period start (UTC)"),
    ("period_end", "datetime", "Akhir periode (UTC)", "Period end (UTC)"),
)
SENSOR_COLUMNS = tuple(f[0] for f in SENSOR_FIELDS)
SENSOR_HOURS = 24
HoursQuery = Annotated[int, Query(ge=1, le=24 * 31, description="period in hours before now (1..744)")]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def public_record(row: Any) -> dict[str, Any]:
    """One public case as the open-data record (sensitive and anonymous ones coarsened by `public_point`)."""
    coarse = bool(row.sensitive or row.anonymous)
    lon, lat = public_point(row.lon, row.lat, coarse=coarse)
    precision = PUBLIC_POINT_PRECISION if coarse else "exact"
    if lon is None or lat is None:
        precision = "hidden"
    title = row.service_name if row.sensitive else row.title
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
    after, sent = 0, 0
    statuses = OPEN_STATUS_CODES if open_only else ()
    while True:
        size = PAGE if limit is None else min(PAGE, limit - sent)
        if size <= 0:
            return
        with db.reading() as uow:
            rows = uow.repo(PublicRepository).public_page(after_id=after, limit=size, statuses=statuses)
        for row in rows:
            yield public_record(row)
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
    props["url"] = f"/kasus/{record['ticket']}" if record["ticket"] else None  # the public case page
    return {"type": "Feature", "id": record["id"], "geometry": geometry, "properties": props}


def public_features(db: Database, *, open_only: bool, limit: int) -> list[dict[str, Any]]:
    """Located public cases as features (newest ids last), for the portal map."""
    return [
        feature(r) for r in iter_public_records(db, open_only=open_only, limit=limit) if r["lon"] is not None
    ]


def csv_stream(db: Database) -> Iterator[str]:
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


def geojson_stream(db: Database) -> Iterator[str]:
    yield '{"type":"FeatureCollection","features":['
    first = True
    for record in iter_public_records(db):
        yield ("" if first else ",") + json.dumps(feature(record), ensure_ascii=False, separators=(",", ":"))
        first = False
    yield "]}"


def _kind_name(kind: str) -> str:
    try:
        return KIND_LABELS[DeviceKind(kind)][0]
    except ValueError:
        return kind


def _kind_attribute(kind: str) -> str | None:
    try:
        return KIND_ATTRIBUTES[DeviceKind(kind)][0]
    except ValueError:
        return None


def sensor_quality(db: Database, settings: Settings, *, hours: int = SENSOR_HOURS) -> dict[str, Any]:
    """The published data-quality summary: the period and one record per device and per kind, each record
    keyed by the sensor data dictionary's columns (the CSV and the JSON carry the same records)."""
    now = utcnow().replace(microsecond=0)  # a published period in whole seconds
    report = quality_report(db, now=now, hours=hours, settings=settings)
    start, end = report["period"]["start"], report["period"]["end"]
    devices = [
        {
            "scope": "device",
            "device_id": d["id"],
            "name": d["name"],
            "kind": d["kind"],
            "region_code": d["region"],
            "owner_agency": d["owner_agency"],
            "lon": d["lon"],
            "lat": d["lat"],
            "attribute": d["attributes"][0] if d["attributes"] else None,
            "interval_s": d["interval_s"],
            "health": d["health"],
            "last_seen": d["last_seen"],
            "expected": d["quality"]["expected"],
            "received": d["quality"]["received"],
            "completeness_pct": d["quality"]["completeness_pct"],
            "flagged_pct": d["quality"]["flagged_pct"],
            "period_start": start,
            "period_end": end,
        }
        for d in sorted(report["devices"], key=lambda d: (d["kind"], d["id"]))
    ]
    kinds = [
        {
            "scope": "kind",
            "device_id": None,
            "name": _kind_name(kind),
            "kind": kind,
            "region_code": None,
            "owner_agency": None,
            "lon": None,
            "lat": None,
            "attribute": _kind_attribute(kind),
            "interval_s": None,
            "health": None,
            "last_seen": q["last_seen"],
            "expected": q["expected"],
            "received": q["received"],
            "completeness_pct": q["completeness_pct"],
            "flagged_pct": q["flagged_pct"],
            "period_start": start,
            "period_end": end,
        }
        for kind, q in report["kinds"].items()
    ]
    return {"period": {"start": start, "end": end, "hours": hours}, "devices": devices, "kinds": kinds}
