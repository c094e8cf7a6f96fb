"""Queries of triage: gazetteer places, routing overrides, duplicate candidates and the triage queue."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from kotapintar.cases.lifecycle import OPEN_STATUSES
from kotapintar.cases.models import Case
from kotapintar.core.events.models import Event
from kotapintar.triage.models import Place, RoutingOverride

OPEN_STATUS_VALUES = tuple(sorted(s.value for s in OPEN_STATUSES))
QUEUE_EVENT_TYPES = ("case_created", "triage_suggested", "triage_corrected")

# Built once with expanding bound lists: the statement stays in SQLAlchemy's compiled cache (hot path).
# service_code and status are wrapped in coalesce() (a no-op: both are NOT NULL) so that SQLite, which has
# no statistics unless ANALYZE ran, cannot pick their single-column indexes: with a million cases it chose
# ix_cases_service_code and scanned ~90k rows (300 ms); the (h3_cell, created_at) index reads a handful.
_CANDIDATES = (
    select(Case.id, Case.service_code, Case.lon, Case.lat, Case.description, Case.created_at)
    .where(
        Case.h3_cell.in_(bindparam("cells", expanding=True)),
        Case.created_at >= bindparam("since"),
        func.coalesce(Case.service_code, "").in_(bindparam("services", expanding=True)),
        func.coalesce(Case.status, "").in_(bindparam("statuses", expanding=True)),
        Case.merged_into_id.is_(None),
    )
    .order_by(Case.created_at.desc(), Case.id.desc())
    .limit(bindparam("limit"))
)


@dataclass(frozen=True)
class CandidateCase:
    """An open case near a new report: what the duplicate score needs."""

    id: int
    service_code: str
    lon: float
    lat: float
    description: str
    created_at: datetime


class TriageRepository:
    """Triage's own tables plus the read-only case queries triage needs."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---------------------------------------------------------------- places
    def places(self) -> Sequence[Place]:
        """Every gazetteer place."""
        return self.session.scalars(select(Place).order_by(Place.id)).all()

    def upsert_place(self, values: dict[str, Any]) -> bool:
        """Insert or update a place by (name, kind); True when it was new."""
        place = self.session.scalar(
            select(Place).where(Place.name == values["name"], Place.kind == values["kind"])
        )
        if place is None:
            self.session.add(Place(**values))
            return True
        for key, value in values.items():
            setattr(place, key, value)
        return False

    # ---------------------------------------------------------------- routing overrides
    def overrides(self) -> Sequence[RoutingOverride]:
        """Every learned routing override."""
        return self.session.scalars(select(RoutingOverride).order_by(RoutingOverride.id)).all()

    def upsert_override(self, values: dict[str, Any]) -> RoutingOverride:
        """Store the override for (service, region), replacing an earlier one."""
        row = self.session.scalar(
            select(RoutingOverride).where(
                RoutingOverride.service_code == values["service_code"],
                RoutingOverride.region_code == values["region_code"],
            )
        )
        if row is None:
            row = RoutingOverride(**values)
            self.session.add(row)
        else:
            for key, value in values.items():
                setattr(row, key, value)
        self.session.flush()
        return row

    # ---------------------------------------------------------------- duplicates
    def duplicate_candidates(
        self, cells: Sequence[str], services: Sequence[str], since: datetime, limit: int = 200
    ) -> list[CandidateCase]:
        """Open, unmerged cases of `services` in the H3 `cells` created at or after `since`, newest first."""
        if not cells or not services:
            return []
        rows = self.session.execute(
            _CANDIDATES,
            {
                "cells": list(cells),
                "since": since,
                "services": list(services),
                "statuses": list(OPEN_STATUS_VALUES),
                "limit": limit,
            },
        ).all()
        return [
            CandidateCase(int(r[0]), str(r[1]), float(r[2]), float(r[3]), str(r[4]), r[5])
            for r in rows
            if r[2] is not None and r[3] is not None
        ]

    # ---------------------------------------------------------------- triage queue
    def queue_events(self, statuses: Sequence[str], limit: int) -> list[tuple[Case, list[Event]]]:
        """The newest cases in `statuses` with their triage-relevant events (creation, suggestion, fix)."""
        cases = self.session.scalars(
            select(Case)
            .where(Case.status.in_(list(statuses)), Case.merged_into_id.is_(None))
            .order_by(Case.created_at.desc(), Case.id.desc())
            .limit(limit)
        ).all()
        if not cases:
            return []
        events = self.session.scalars(
            select(Event)
            .where(Event.case_id.in_([c.id for c in cases]), Event.type.in_(QUEUE_EVENT_TYPES))
            .order_by(Event.id)
        ).all()
        by_case: dict[int, list[Event]] = {}
        for event in events:
            if event.case_id is not None:
                by_case.setdefault(event.case_id, []).append(event)
        return [(case, by_case.get(case.id, [])) for case in cases]

    def case_for_update(self, case_id: int) -> Case | None:
        """A case locked for a triage correction."""
        return self.session.get(Case, case_id, with_for_update=True)
