"""Response-time segments of emergency incidents (NFPA call processing, turnout, travel, total)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kotapintar.cases.repository import CaseRepository
from kotapintar.core import hooks
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.core.settings import Settings, get_settings
from kotapintar.dispatch.repository import DispatchRepository
from kotapintar.metrics.response_times import (
    Incident,
    IncidentSegments,
    TimelineEvent,
    load_targets,
    segments_of,
)


def _incidents(uow: UnitOfWork, cases: Sequence[Any]) -> list[Incident]:
    events = uow.repo(DispatchRepository).timeline_events([c.id for c in cases])
    by_case: dict[int, list[TimelineEvent]] = {}
    for e in events:
        assert e.case_id is not None
        by_case.setdefault(e.case_id, []).append(
            TimelineEvent(type=e.type, at=e.occurred_at, payload=dict(e.payload or {}))
        )
    return [
        Incident(
            case_id=c.id,
            service=c.service_code,
            agency=c.agency_code,
            kecamatan=c.kecamatan_code,
            events=by_case.get(c.id, []),
        )
        for c in cases
    ]


def case_segments(db: Database, actor: Actor, case_id: int) -> IncidentSegments:
    """The response-time segments of one case, against their targets."""
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        if case is None or (
            not actor.can(Permission.VIEW_ALL_CASES) and actor.agency_code != case.agency_code
        ):
            raise NotFound(f"Kasus {case_id} tidak ada.", code="not_found")
        incident = _incidents(uow, [case])[0]
    return segments_of(incident, load_targets())


def segments_summary(
    db: Database,
    actor: Actor,
    *,
    by: str = "service",
    period: str = "month",
    since: datetime | None = None,
    until: datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Mean and 90th percentile of each segment by agency, kecamatan, incident type or period, vs targets
    (the same definitions as `metrics.response_times.aggregate`, computed in SQL by analytics)."""
    actor.require(Permission.VIEW_ALL_CASES)
    settings = settings or get_settings()
    if by not in ("agency", "kecamatan", "service", "period") or period not in ("day", "week", "month"):
        raise ValidationFailed("by: agency|kecamatan|service|period; period: day|week|month.", field="by")
    return {
        "by": by,
        "period": period,
        "statistics": "mean (ISO 37120) and 90th percentile (NFPA/NENA), seconds",
        # computed in SQL over the analytics rollup (the same rows as /analitik's time to scene)
        "groups": hooks.segment_summary(db, by, period, since, until, settings.timezone),
    }
