"""Filters of the operator queue and map: a value pages build and the read model's repository applies."""

from __future__ import annotations

from dataclasses import dataclass

from kotapintar.cases.lifecycle import OPEN_STATUS_CODES


@dataclass(frozen=True)
class QueueFilter:
    """Filters of the operator queue and map; every field is optional."""

    kecamatan_code: str | None = None
    agency_code: str | None = None
    service_code: str | None = None
    statuses: tuple[str, ...] = OPEN_STATUS_CODES
    bbox: tuple[float, float, float, float] | None = None
    case_ids: tuple[int, ...] = ()
