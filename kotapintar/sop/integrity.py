"""The SOP's invariants: every task is a step of its case's SOP instance; a finished case finished its SOP."""

from __future__ import annotations

from kotapintar.cases.integrity import FINISHED_CASE_STATUSES
from kotapintar.core.db.database import Database
from kotapintar.core.integrity import Problem
from kotapintar.sop.repository import SopRepository


def check_invariants(db: Database) -> list[Problem]:
    """Every broken SOP invariant, one Problem per offending row."""
    problems: list[Problem] = []
    with db.reading() as uow:
        repo = uow.repo(SopRepository)
        for row in repo.tasks_outside_an_instance():
            problems.append(
                Problem(
                    "task_outside_sop",
                    f"task {row.id} (case {row.case_id})",
                    f"step '{row.step_id}' of {row.agency_code} ({row.status}) is not a step of the case's SOP",
                )
            )
        for row in repo.unfinished_instances_of_finished_cases(FINISHED_CASE_STATUSES):
            problems.append(
                Problem(
                    "sop_unfinished_on_finished_case",
                    f"case {row.case_id}",
                    f"SOP {row.sop_code} is '{row.status}' while the case is {row.case_status}",
                )
            )
    return problems
