"""Unit position messages (AVL): plain JSON or Smart Data Models FleetVehicleStatus, parsed and checked.

Pure: `parse_position` turns bytes or a dict into a `PositionFix` or raises `AvlRejected` with a stable
reason code; `judge_fix` decides stale / out-of-order / from-the-future against the unit's last fix.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

REASON_MALFORMED = "malformed"
REASON_UNKNOWN_UNIT = "unknown_unit"
REASON_STALE = "stale"
REASON_OUT_OF_ORDER = "out_of_order"
REASON_FUTURE = "future"
REASONS = (REASON_MALFORMED, REASON_UNKNOWN_UNIT, REASON_STALE, REASON_OUT_OF_ORDER, REASON_FUTURE)
MAX_CLOCK_AHEAD = timedelta(seconds=60)


class AvlRejected(Exception):
    """A position or status message that is not applied; `reason` is one of REASONS."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class PositionFix:
    """One position of a unit: where, when, and optionally speed (km/h), heading (°) and a status."""

    lon: float
    lat: float
    at: datetime
    speed_kmh: float | None = None
    heading: float | None = None
    status: str | None = None


def _value(v: Any) -> Any:
    """Unwrap NGSI-LD `{type: Property|GeoProperty, value: …}`."""
    if isinstance(v, Mapping) and "value" in v and v.get("type") in ("Property", "GeoProperty", None):
        return v["value"]
    return v


def parse_time(raw: Any) -> datetime:
    """An aware UTC datetime from ISO 8601 text or epoch seconds; a naive ISO time is refused."""
    if isinstance(raw, bool):
        raise AvlRejected(REASON_MALFORMED, "waktu posisi tidak valid")
    if isinstance(raw, int | float):
        if not math.isfinite(raw):
            raise AvlRejected(REASON_MALFORMED, "waktu posisi tidak valid")
        return datetime.fromtimestamp(float(raw), UTC)
    if isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError as exc:
            raise AvlRejected(REASON_MALFORMED, f"waktu posisi {raw!r} bukan ISO 8601") from exc
        if moment.tzinfo is None:
            raise AvlRejected(REASON_MALFORMED, f"waktu posisi {raw!r} tanpa zona waktu")
        return moment.astimezone(UTC)
    raise AvlRejected(REASON_MALFORMED, "waktu posisi (at / dateObserved / observedAt) wajib ada")


def _number(raw: Any, what: str, lo: float, hi: float) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise AvlRejected(REASON_MALFORMED, f"{what} harus angka")
    try:
        value = float(raw)
    except ValueError as exc:
        raise AvlRejected(REASON_MALFORMED, f"{what} harus angka") from exc
    if not math.isfinite(value) or not lo <= value <= hi:
        raise AvlRejected(REASON_MALFORMED, f"{what} {value} di luar rentang [{lo}, {hi}]")
    return value


def parse_position(payload: bytes | str | Mapping[str, Any], *, now: datetime | None = None) -> PositionFix:
    """Read a position message: `{lon, lat, at, speed?, heading?, status?}` or FleetVehicleStatus-shaped
    (`lastKnownPosition` GeoJSON Point, `dateObserved`/`observedAt`, `speed`, `bearing`, `currentStatus`).

    A message without a time gets `now` only when `now` is given (HTTP from the crew page); MQTT demands one.
    """
    if isinstance(payload, bytes | str):
        try:
            doc = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise AvlRejected(REASON_MALFORMED, "pesan bukan JSON yang valid") from exc
    else:
        doc = payload
    if not isinstance(doc, Mapping):
        raise AvlRejected(REASON_MALFORMED, "pesan harus objek JSON")
    point = _value(doc.get("lastKnownPosition") or doc.get("location"))
    if point is not None:
        if not isinstance(point, Mapping) or point.get("type") != "Point":
            raise AvlRejected(REASON_MALFORMED, "lastKnownPosition harus GeoJSON Point")
        coords = point.get("coordinates")
        if not isinstance(coords, list | tuple) or len(coords) < 2:
            raise AvlRejected(REASON_MALFORMED, "koordinat Point harus [lon, lat]")
        lon_raw, lat_raw = coords[0], coords[1]
    else:
        if "lon" not in doc or "lat" not in doc:
            raise AvlRejected(REASON_MALFORMED, "lon dan lat (atau lastKnownPosition) wajib ada")
        lon_raw, lat_raw = doc["lon"], doc["lat"]
    lon = _number(lon_raw, "lon", -180, 180)
    lat = _number(lat_raw, "lat", -90, 90)
    raw_time = next(
        (_value(doc[k]) for k in ("at", "dateObserved", "observedAt", "timestamp") if doc.get(k) is not None),
        None,
    )
    at = now if raw_time is None and now is not None else parse_time(raw_time)
    assert at is not None
    speed = _value(doc.get("speed"))
    heading = _value(doc.get("heading", doc.get("bearing")))
    status = _value(doc.get("status", doc.get("currentStatus")))
    return PositionFix(
        lon=lon,
        lat=lat,
        at=at,
        speed_kmh=None if speed is None else _number(speed, "speed", 0, 400),
        heading=None if heading is None else _number(heading, "heading", 0, 360),
        status=None if status is None else str(status),
    )


def judge_fix(at: datetime, last_at: datetime | None, now: datetime, stale_after_s: float) -> None:
    """Raise AvlRejected when a fix is from the future, older than `stale_after_s`, or not newer than the last."""
    if at > now + MAX_CLOCK_AHEAD:
        raise AvlRejected(
            REASON_FUTURE, f"waktu posisi {at.isoformat()} di masa depan (jam perangkat salah?)"
        )
    if (now - at).total_seconds() > stale_after_s:
        raise AvlRejected(
            REASON_STALE,
            f"posisi terlalu lama ({int((now - at).total_seconds())} s > {int(stale_after_s)} s)",
        )
    if last_at is not None and at <= last_at:
        raise AvlRejected(
            REASON_OUT_OF_ORDER,
            f"posisi {at.isoformat()} tidak lebih baru dari posisi terakhir {last_at.isoformat()}",
        )
