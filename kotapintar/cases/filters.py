"""The case list's filters: a value the API and pages build and the case repository applies."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class CaseFilter:
    """Filters of the case list; every field is optional."""

    statuses: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    region_prefix: str | None = None
    agency_code: str | None = None
    priorities: tuple[str, ...] = ()
    created_from: datetime | None = None
    created_to: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    updated_after: datetime | None = None
    ids: tuple[int, ...] = field(default_factory=tuple)
