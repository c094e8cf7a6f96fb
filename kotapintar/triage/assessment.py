"""Triage's answer for one report, as a value: what intake stores with the case and the SOP starts from.

It lives in triage (below intake and the SOP) so that the SOP runtime can read it without importing intake.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog.geo import Location
from kotapintar.triage.duplicates import DEFAULT_DEDUPE


@dataclass(frozen=True)
class ServiceRoute:
    """What intake needs to know of a catalogue service."""

    code: str
    name: str
    priority: Priority
    agency_code: str
    informed: tuple[str, ...]
    emergency: bool
    sensitive: bool
    dedupe_radius_m: float = DEFAULT_DEDUPE["radius_m"]
    dedupe_window_hours: float = DEFAULT_DEDUPE["window_hours"]


@dataclass(frozen=True)
class Assessment:
    """Triage's answer for one report: the decisions intake stores with the case."""

    service: ServiceRoute
    priority: Priority
    agency_code: str
    informed: tuple[str, ...]
    location: Location | None
    place_name: str | None
    lon: float | None
    lat: float | None
    needs_review: bool = False
    suggestions: tuple[tuple[str, float], ...] = ()
    cues: tuple[str, ...] = ()
    merge_into_case_id: int | None = None  # a confident duplicate: the report joins that case
    possible_duplicates: tuple[tuple[int, float], ...] = ()
    notes: tuple[str, ...] = field(default_factory=tuple)
    other_issues: tuple[str, ...] = ()  # other services a multi-issue report names (suggestions)
    priority_reason: str = "bawaan_layanan"  # triage.classify.priority reason code
