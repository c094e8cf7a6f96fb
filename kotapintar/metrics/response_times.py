"""Response-time segments (NFPA 1710/1221/1225): call answering, processing, turnout, travel, total.

Pure over events: give each incident's timeline (type, time, payload) and its attributes; get per-incident
segments and aggregates (mean and 90th percentile, labelled) by agency, kecamatan, incident type and period,
each compared with its target.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

SEGMENTS = ("answering", "processing", "turnout", "travel", "total")
SEGMENT_LABELS = {
    "answering": "Menjawab panggilan / call answering",
    "processing": "Memproses panggilan / call processing",
    "turnout": "Persiapan berangkat / turnout",
    "travel": "Perjalanan / travel",
    "total": "Total waktu tanggap / total response",
}
TARGETS_PATH = Path(__file__).resolve().parent / "data" / "targets.yaml"
GROUPINGS = ("agency", "kecamatan", "service", "period")


@dataclass(frozen=True)
class TimelineEvent:
    """The part of an event the segments need."""

    type: str
    at: datetime
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Incident:
    """One case's timeline and the attributes it is grouped by."""

    case_id: int
    service: str
    agency: str | None
    kecamatan: str | None
    events: Sequence[TimelineEvent]


@dataclass(frozen=True)
class IncidentSegments:
    """Segment durations (seconds, None when not measurable yet) of one incident, and the targets met."""

    case_id: int
    service: str
    agency: str | None
    kecamatan: str | None
    started_at: datetime | None
    first_unit: str | None
    seconds: Mapping[str, float | None]
    targets: Mapping[str, float]

    def met(self, segment: str) -> bool | None:
        """True/False against the target, None when the segment is not measured."""
        value = self.seconds.get(segment)
        target = self.targets.get(segment)
        if value is None or target is None:
            return None
        return value <= target

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "case_id": self.case_id,
            "service": self.service,
            "agency": self.agency,
            "kecamatan": self.kecamatan,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "first_unit": self.first_unit,
            "segments": [
                {
                    "segment": s,
                    "label": SEGMENT_LABELS[s],
                    "seconds": self.seconds.get(s),
                    "target_s": self.targets.get(s),
                    "met": self.met(s),
                }
                for s in SEGMENTS
            ],
        }


@dataclass(frozen=True)
class Targets:
    """Target seconds per segment, with per-service overrides."""

    defaults: Mapping[str, float]
    services: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def for_service(self, service: str) -> dict[str, float]:
        """The targets that apply to one incident type."""
        return {**self.defaults, **self.services.get(service, {})}


@lru_cache(maxsize=4)
def load_targets(path: Path | str | None = None) -> Targets:
    """Read the targets file (defaults: fire 15 min total per Permendagri 114/2018; processing 60 s)."""
    with Path(path or TARGETS_PATH).open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    defaults = {str(k): float(v) for k, v in (doc.get("defaults") or {}).items() if k in SEGMENTS}
    services = {
        str(s): {str(k): float(v) for k, v in (m or {}).items() if k in SEGMENTS}
        for s, m in (doc.get("services") or {}).items()
    }
    return Targets(defaults=defaults, services=services)


def _first(events: Iterable[TimelineEvent], type_: str, unit: str | None = None) -> TimelineEvent | None:
    for e in events:
        if e.type == type_ and (unit is None or e.payload.get("unit") == unit):
            return e
    return None


def _span(a: TimelineEvent | None, b: TimelineEvent | None) -> float | None:
    if a is None or b is None:
        return None
    return max(0.0, (b.at - a.at).total_seconds())


def segments_of(incident: Incident, targets: Targets) -> IncidentSegments:
    """The segments of one incident.

    answering: first call rings → answered; processing: answered → first unit dispatched; turnout and
    travel: of the first unit on scene (dispatched → en route → on scene), or of the first unit en route
    while none has arrived; total: first call received (or the case's creation) → first unit on scene.
    Calls marked as duplicates do not start the clock.
    """
    events = sorted(incident.events, key=lambda e: e.at)
    calls = [e for e in events if not e.payload.get("duplicate")]
    received = _first(calls, "call_received")
    answered = _first(calls, "call_answered")
    start = received or _first(events, "case_created")
    dispatched = _first(events, "unit_dispatched")
    on_scene = _first(events, "unit_on_scene")
    lead = on_scene or _first(events, "unit_en_route")
    unit = str(lead.payload.get("unit")) if lead is not None and lead.payload.get("unit") else None
    unit_dispatched = _first(events, "unit_dispatched", unit) if unit else None
    unit_en_route = _first(events, "unit_en_route", unit) if unit else None
    unit_on_scene = _first(events, "unit_on_scene", unit) if unit else None
    seconds = {
        "answering": _span(received, answered),
        "processing": _span(answered, dispatched),
        "turnout": _span(unit_dispatched, unit_en_route),
        "travel": _span(unit_en_route, unit_on_scene),
        "total": _span(start, on_scene),
    }
    return IncidentSegments(
        case_id=incident.case_id,
        service=incident.service,
        agency=incident.agency,
        kecamatan=incident.kecamatan,
        started_at=start.at if start else None,
        first_unit=unit,
        seconds=seconds,
        targets=targets.for_service(incident.service),
    )


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0–100) by linear interpolation between closest ranks (numpy's default)."""
    if not values:
        raise ValueError("percentile of nothing")
    data = sorted(values)
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def period_key(moment: datetime | None, period: str, tz: str) -> str:
    """The period an instant falls in, in the local zone: day (2026-11-29), week (2026-W48), month (2026-11)."""
    if moment is None:
        return "-"
    local = moment.astimezone(ZoneInfo(tz))
    if period == "day":
        return local.strftime("%Y-%m-%d")
    if period == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    return local.strftime("%Y-%m")


def aggregate(
    rows: Sequence[IncidentSegments],
    by: str,
    *,
    period: str = "month",
    tz: str = "Asia/Jakarta",
    targets: Targets | None = None,
) -> list[dict[str, Any]]:
    """Per group (agency, kecamatan, service or period): n, mean and 90th percentile of each segment, vs target.

    A group's target for a segment is the default target, or the service's when the group is one service.
    """
    if by not in GROUPINGS:
        raise ValueError(f"group by one of {GROUPINGS}")
    groups: dict[str, list[IncidentSegments]] = {}
    for r in rows:
        key = period_key(r.started_at, period, tz) if by == "period" else (getattr(r, by) or "-")
        groups.setdefault(key, []).append(r)
    out = []
    for key in sorted(groups):
        members = groups[key]
        base = (
            targets.for_service(key)
            if targets and by == "service"
            else (dict(targets.defaults) if targets else {})
        )
        segs = []
        for s in SEGMENTS:
            vals = [float(v) for m in members if (v := m.seconds.get(s)) is not None]
            p90 = percentile(vals, 90) if vals else None
            target = base.get(s)
            segs.append(
                {
                    "segment": s,
                    "label": SEGMENT_LABELS[s],
                    "n": len(vals),
                    "mean_s": sum(vals) / len(vals) if vals else None,
                    "p90_s": p90,
                    "target_s": target,
                    "p90_met": None if p90 is None or target is None else p90 <= target,
                    "share_within_target": (
                        sum(1 for v in vals if v <= target) / len(vals)
                        if vals and target is not None
                        else None
                    ),
                }
            )
        out.append({"group": by, "key": key, "incidents": len(members), "segments": segs})
    return out
