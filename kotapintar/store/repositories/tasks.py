"""Tasks (disposisi) and units."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kotapintar.store.tables import Task, Unit


class TaskRepository:
    """All SQL about tasks."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, task: Task) -> Task:
        """Store a new task and give it an id."""
        self.session.add(task)
        self.session.flush()
        return task

    def get(self, task_id: int, *, for_update: bool = False) -> Task | None:
        """One task by id."""
        if for_update:
            return self.session.execute(
                select(Task).where(Task.id == task_id).with_for_update()
            ).scalar_one_or_none()
        return self.session.get(Task, task_id)

    def for_case(self, case_id: int) -> Sequence[Task]:
        """The tasks of a case, oldest first."""
        return self.session.scalars(select(Task).where(Task.case_id == case_id).order_by(Task.id)).all()

    def for_agency(self, agency_code: str, statuses: Sequence[str] = ()) -> Sequence[Task]:
        """An agency's tasks (its inbox), soonest due first."""
        stmt = select(Task).where(Task.agency_code == agency_code)
        if statuses:
            stmt = stmt.where(Task.status.in_(statuses))
        return self.session.scalars(stmt.order_by(Task.due_at, Task.id)).all()


class UnitRepository:
    """All SQL about units."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Unit | None:
        """One unit by code."""
        return self.session.get(Unit, code)

    def all(self, agency_code: str | None = None) -> Sequence[Unit]:
        """Units, optionally of one agency."""
        stmt = select(Unit)
        if agency_code is not None:
            stmt = stmt.where(Unit.agency_code == agency_code)
        return self.session.scalars(stmt.order_by(Unit.code)).all()

    def add(self, unit: Unit) -> None:
        """Store a new or changed unit."""
        self.session.merge(unit)
