"""Dispatch's invariants: a unit on an incident was dispatched in the log; a working unit has an incident."""

from __future__ import annotations

from kotapintar.core.db.database import Database
from kotapintar.core.events.types import EventType
from kotapintar.core.integrity import Problem
from kotapintar.dispatch.engine.unitstatus import load_unit_status
from kotapintar.dispatch.repository import DispatchRepository


def check_invariants(db: Database) -> list[Problem]:
    """Every broken dispatch invariant, one Problem per offending row."""
    on_case = [s.name for s in load_unit_status().statuses.values() if s.on_case]
    problems: list[Problem] = []
    with db.reading() as uow:
        repo = uow.repo(DispatchRepository)
        for row in repo.open_assignments_without_dispatch_event(EventType.UNIT_DISPATCHED):
            problems.append(
                Problem(
                    "unit_on_incident_without_dispatch_event",
                    f"unit {row.unit_code} (case {row.case_id})",
                    f"assignment {row.id} is open but the case's log has no unit_dispatched for it",
                )
            )
        for row in repo.busy_units_without_assignment(on_case):
            problems.append(
                Problem(
                    "unit_busy_without_incident",
                    f"unit {row.code}",
                    f"status '{row.status}', no open assignment",
                )
            )
    return problems
