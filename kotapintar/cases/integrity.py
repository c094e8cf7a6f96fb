"""The case layer's invariants: no open task on a finished case; the case row's status is its log's status."""

from __future__ import annotations

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.cases.repository import CaseRepository, TaskRepository
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import EventType
from kotapintar.core.integrity import Problem
from kotapintar.metrics.performance import OPEN_TASKS

FINISHED_CASE_STATUSES = (CaseStatus.CLOSED.value, CaseStatus.REJECTED.value, CaseStatus.MERGED.value)
# The open task states (one definition, metrics.performance.OPEN_TASKS; equal to the SOP engine's, by test).
OPEN_TASK_STATUS_CODES = tuple(sorted(OPEN_TASKS))
# The status a case has after each status event (when the payload carries no "to").
STATUS_AFTER_EVENT: dict[str, str] = {
    EventType.CASE_CREATED: CaseStatus.RECEIVED.value,
    EventType.CASE_VERIFIED: CaseStatus.VERIFIED.value,
    EventType.CASE_ASSIGNED: CaseStatus.ASSIGNED.value,
    EventType.CASE_STARTED: CaseStatus.IN_PROGRESS.value,
    EventType.CASE_RESOLVED: CaseStatus.RESOLVED.value,
    EventType.CASE_CLOSED: CaseStatus.CLOSED.value,
    EventType.CASE_REJECTED: CaseStatus.REJECTED.value,
    EventType.CASE_MERGED: CaseStatus.MERGED.value,
    EventType.CASE_REOPENED: CaseStatus.IN_PROGRESS.value,
    EventType.CASE_UNMERGED: CaseStatus.RECEIVED.value,  # its payload's "to" says which status came back
}


def check_invariants(db: Database) -> list[Problem]:
    """Every broken case-layer invariant, one Problem per offending row."""
    problems: list[Problem] = []
    with db.reading() as uow:
        for row in uow.repo(TaskRepository).open_tasks_on_finished_cases(
            OPEN_TASK_STATUS_CODES, FINISHED_CASE_STATUSES
        ):
            problems.append(
                Problem(
                    "open_task_on_finished_case",
                    f"task {row.id} (case {row.case_id})",
                    f"step '{row.step_id}' of {row.agency_code} is '{row.status}' on a {row.case_status} case",
                )
            )
        for case_id, status, event_type, payload in uow.repo(CaseRepository).last_status_events(
            list(STATUS_AFTER_EVENT)
        ):
            if event_type is None:
                problems.append(
                    Problem(
                        "case_status_without_event", f"case {case_id}", f"status '{status}', no status event"
                    )
                )
                continue
            logged = (payload or {}).get("to") or STATUS_AFTER_EVENT[event_type]
            if logged != status:
                problems.append(
                    Problem(
                        "case_status_differs_from_log",
                        f"case {case_id}",
                        f"row says '{status}', last status event {event_type} says '{logged}'",
                    )
                )
    return problems
