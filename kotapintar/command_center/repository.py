"""Read queries of the command-center pages: compact map points, the work queue, inboxes, exports, stats.

They select only the columns a page shows (no ORM objects for thousands of rows), so the operator page
stays fast with 100,000 cases in the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session

from kotapintar.cases.lifecycle import OPEN_STATUS_CODES
from kotapintar.cases.models import Case, Task
from kotapintar.catalog.models import Agency
from kotapintar.command_center.filters import QueueFilter
from kotapintar.core.events.models import Event
from kotapintar.metrics.performance import OPEN_TASKS


def _apply(stmt: Any, flt: QueueFilter) -> Any:
    if flt.statuses:
        stmt = stmt.where(Case.status.in_(flt.statuses))
    if flt.kecamatan_code:
        stmt = stmt.where(Case.kecamatan_code == flt.kecamatan_code)
    if flt.service_code:
        stmt = stmt.where(Case.service_code == flt.service_code)
    if flt.agency_code:
        stmt = stmt.where(
            or_(
                Case.agency_code == flt.agency_code,
                exists().where(and_(Task.case_id == Case.id, Task.agency_code == flt.agency_code)),
            )
        )
    if flt.bbox is not None:
        min_lon, min_lat, max_lon, max_lat = flt.bbox
        stmt = stmt.where(Case.lon.between(min_lon, max_lon), Case.lat.between(min_lat, max_lat))
    if flt.case_ids:
        stmt = stmt.where(Case.id.in_(flt.case_ids))
    return stmt


class UiRepository:
    """All SQL of the command-center, agency, supervisor and public pages."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # ---------------------------------------------------------------- operator

    def map_points(self, flt: QueueFilter, *, limit: int) -> Sequence[Any]:
        """(id, lon, lat, priority, status, title) of located cases, most urgent first, at most `limit`."""
        stmt = select(Case.id, Case.lon, Case.lat, Case.priority, Case.status, Case.title).where(
            Case.lon.is_not(None), Case.lat.is_not(None)
        )
        stmt = _apply(stmt, flt).order_by(Case.priority, Case.id.desc()).limit(limit)
        return self.session.execute(stmt).all()

    def queue(self, flt: QueueFilter, *, limit: int, offset: int = 0) -> Sequence[Any]:
        """Open cases by priority, then soonest due (none last), then oldest: the operator's work order."""
        stmt = select(
            Case.id,
            Case.ticket,
            Case.title,
            Case.priority,
            Case.status,
            Case.service_code,
            Case.kecamatan_code,
            Case.agency_code,
            Case.due_at,
            Case.created_at,
            Case.confidential,
        )
        stmt = _apply(stmt, flt).order_by(
            Case.priority, Case.due_at.is_(None), Case.due_at, Case.created_at, Case.id
        )
        return self.session.execute(stmt.limit(limit).offset(offset)).all()

    def count_by_priority(self, flt: QueueFilter) -> dict[str, int]:
        """How many cases match, per priority."""
        stmt = _apply(select(Case.priority, func.count()).select_from(Case), flt).group_by(Case.priority)
        return {str(p): int(n) for p, n in self.session.execute(stmt).all()}

    def triage_flags(self, *, limit: int) -> Sequence[Any]:
        """(case_id, payload) of the newest triage suggestions on still-received cases."""
        stmt = (
            select(Event.case_id, Event.payload)
            .join(Case, Case.id == Event.case_id)
            .where(Event.type == "triage_suggested", Case.status == "received")
            .order_by(Event.id.desc())
            .limit(limit)
        )
        return self.session.execute(stmt).all()

    def due_of_open_tasks(self, case_ids: Sequence[int]) -> dict[int, datetime]:
        """The soonest due time of the open tasks of each case (the running SOP step)."""
        if not case_ids:
            return {}
        stmt = (
            select(Task.case_id, func.min(Task.due_at))
            .where(Task.case_id.in_(case_ids), Task.status.in_(sorted(OPEN_TASKS)), Task.due_at.is_not(None))
            .group_by(Task.case_id)
        )
        return {int(cid): due for cid, due in self.session.execute(stmt).all() if due is not None}

    def titles(self, case_ids: Sequence[int]) -> dict[int, tuple[str | None, str, str]]:
        """(ticket, title, status) of some cases by id."""
        if not case_ids:
            return {}
        stmt = select(Case.id, Case.ticket, Case.title, Case.status).where(Case.id.in_(case_ids))
        return {int(r.id): (r.ticket, r.title, r.status) for r in self.session.execute(stmt).all()}

    # ---------------------------------------------------------------- agencies

    def inbox(self, agency_code: str, statuses: Sequence[str], *, limit: int) -> Sequence[Any]:
        """An agency's tasks with their case's ticket, title and priority, soonest due first."""
        stmt = (
            select(
                Task.id,
                Task.case_id,
                Task.title,
                Task.step_id,
                Task.status,
                Task.due_at,
                Task.created_at,
                Task.accepted_at,
                Task.completed_at,
                Task.task_key,
                Task.data,
                Case.ticket,
                Case.priority,
                Case.status.label("case_status"),
            )
            .join(Case, Case.id == Task.case_id)
            .where(Task.agency_code == agency_code)
        )
        if statuses:
            stmt = stmt.where(Task.status.in_(statuses))
        stmt = stmt.order_by(Task.due_at.is_(None), Task.due_at, Task.id.desc()).limit(limit)
        return self.session.execute(stmt).all()

    def escalations(self, *, limit: int) -> Sequence[Any]:
        """Escalation events on still-open cases, newest first (the supervisor's decisions)."""
        stmt = (
            select(
                Event.id,
                Event.case_id,
                Event.occurred_at,
                Event.payload,
                Case.ticket,
                Case.title,
                Case.priority,
            )
            .join(Case, Case.id == Event.case_id)
            .where(Event.type == "task_escalated", Case.status.in_(OPEN_STATUS_CODES))
            .order_by(Event.id.desc())
            .limit(limit)
        )
        return self.session.execute(stmt).all()

    def agencies(self) -> Sequence[Agency]:
        """Every agency, by name."""
        return self.session.scalars(select(Agency).order_by(Agency.name)).all()
