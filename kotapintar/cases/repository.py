"""Cases, reports and reporters: storing them and the queries the services ask."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    bindparam,
    cast,
    column,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    table,
    update,
)
from sqlalchemy.orm import Session

from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.models import Case, Report, Reporter, Task
from kotapintar.catalog.models import Unit
from kotapintar.core.access.scope import CaseScope
from kotapintar.core.events.models import Event

# Intake statements built once, with bound parameters, so SQLAlchemy compiles each a single time.
_CASES: Table = Case.__table__  # type: ignore[assignment]
_REPORTS: Table = Report.__table__  # type: ignore[assignment]
_REPORTERS: Table = Reporter.__table__  # type: ignore[assignment]
_INSERT_CASE = insert(_CASES).returning(_CASES.c.id)
_INSERT_REPORT = insert(_REPORTS).returning(_REPORTS.c.id)
_INSERT_REPORTER = insert(_REPORTERS).returning(_REPORTERS.c.id)


@lru_cache(maxsize=8)
def _insert_with_ticket(dialect: str, columns: tuple[str, ...]) -> Any:
    """The INSERT … SELECT that numbers a case and formats its ticket, built once per dialect and columns."""
    prefix, year = bindparam("t_prefix", type_=String), bindparam("t_year", type_=String)
    if dialect == "postgresql":
        source = select(func.nextval(literal_column("'cases_id_seq'")).label("id")).subquery("n")
        ticket = func.format("%s-%s-%s", prefix, year, func.lpad(cast(source.c.id, String), 6, "0"))
    else:
        source = select((func.coalesce(func.max(_CASES.c.id), 0) + 1).label("id")).subquery("n")
        ticket = func.printf("%s-%s-%06d", prefix, year, source.c.id)
    picked = select(source.c.id, ticket, *[bindparam(f"v_{c}", type_=_CASES.c[c].type) for c in columns])
    return (
        insert(_CASES).from_select(["id", "ticket", *columns], picked).returning(_CASES.c.id, _CASES.c.ticket)
    )


# Dispatch's unit assignments, read by table name: `cases` sits below `dispatch` in the layers, yet an agency's
# reach includes the cases its units work. Only the two columns the scope needs are named.
_ASSIGNMENTS = table("unit_assignments", column("case_id"), column("unit_code"))


def _scope_clause(scope: CaseScope) -> ColumnElement[bool] | None:
    if scope.everything:
        return None
    clauses: list[ColumnElement[bool]] = []
    if scope.agency_code is not None:
        has_task = exists().where(and_(Task.case_id == Case.id, Task.agency_code == scope.agency_code))
        # A case one of the agency's units was sent to also touches it (a police patrol at a fire).
        has_unit = exists().where(
            and_(
                _ASSIGNMENTS.c.case_id == Case.id,
                _ASSIGNMENTS.c.unit_code == Unit.code,
                Unit.agency_code == scope.agency_code,
            )
        )
        if scope.tasks_only:
            clauses.append(or_(has_task, has_unit))
        else:
            clauses.append(or_(Case.agency_code == scope.agency_code, has_task, has_unit))
    if scope.public:
        clauses.append(Case.confidential.is_(False))
        clauses.append(Case.status != "merged")
    if not clauses:
        # A scope that names nobody sees nothing: fail closed.
        return Case.id < 0
    return and_(*clauses)


class CaseRepository:
    """All SQL about cases."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, case: Case) -> Case:
        """Store a new case and give it an id."""
        self.session.add(case)
        self.session.flush()
        return case

    def insert(self, **values: Any) -> int:
        """Insert a case row directly (the intake hot path); returns its id."""
        return int(self.session.connection().execute(_INSERT_CASE, values).scalar_one())

    def insert_with_ticket(self, prefix: str, year: int, **values: Any) -> tuple[int, str]:
        """Insert a case and give it its ticket (PREFIX-YEAR-000123 from its id) in one statement.

        The id is taken first (the sequence on PostgreSQL; max+1 on SQLite, safe because SQLite write
        transactions hold the write lock from BEGIN IMMEDIATE), so the ticket needs no second UPDATE.
        """
        conn = self.session.connection()
        stmt = _insert_with_ticket(conn.dialect.name, tuple(values))
        params = {f"v_{k}": v for k, v in values.items()}
        row = conn.execute(stmt, {**params, "t_prefix": prefix, "t_year": str(year)}).one()
        return int(row.id), str(row.ticket)

    def status_of(self, case_id: int) -> tuple[str, str | None] | None:
        """(status, ticket) of a case without loading it."""
        row = (
            self.session.connection()
            .execute(select(Case.status, Case.ticket).where(Case.id == case_id))
            .first()
        )
        return (row.status, row.ticket) if row is not None else None

    def get(self, case_id: int, *, for_update: bool = False) -> Case | None:
        """One case by id; `for_update` locks the row until the transaction ends (PostgreSQL)."""
        if for_update:
            return self.session.execute(
                select(Case).where(Case.id == case_id).with_for_update()
            ).scalar_one_or_none()
        return self.session.get(Case, case_id)

    def all_by_id_desc(self, before_id: int | None, limit: int) -> Sequence[Case]:
        """Every case, newest id first, keyset-paginated (audits walk the whole table)."""
        stmt = select(Case)
        if before_id is not None:
            stmt = stmt.where(Case.id < before_id)
        return self.session.scalars(stmt.order_by(Case.id.desc()).limit(limit)).all()

    def by_ticket(self, ticket: str) -> Case | None:
        """One case by its public ticket number."""
        return self.session.scalars(select(Case).where(Case.ticket == ticket)).first()

    def visible(self, case_id: int, scope: CaseScope) -> Case | None:
        """The case if `scope` may see it, else None."""
        stmt = select(Case).where(Case.id == case_id)
        clause = _scope_clause(scope)
        if clause is not None:
            stmt = stmt.where(clause)
        return self.session.scalars(stmt).first()

    def search(
        self, scope: CaseScope, flt: CaseFilter, *, limit: int, before_id: int | None = None
    ) -> Sequence[Case]:
        """Newest first, keyset-paginated by id (`before_id` is the cursor)."""
        stmt = select(Case)
        clause = _scope_clause(scope)
        if clause is not None:
            stmt = stmt.where(clause)
        if flt.statuses:
            stmt = stmt.where(Case.status.in_(flt.statuses))
        if flt.services:
            stmt = stmt.where(Case.service_code.in_(flt.services))
        if flt.priorities:
            stmt = stmt.where(Case.priority.in_(flt.priorities))
        if flt.region_prefix:
            prefix = flt.region_prefix
            stmt = stmt.where(
                or_(
                    Case.region_code == prefix,
                    Case.region_code.like(f"{prefix}.%"),
                    Case.kecamatan_code == prefix,
                )
            )
        if flt.agency_code:
            stmt = stmt.where(
                or_(
                    Case.agency_code == flt.agency_code,
                    exists().where(and_(Task.case_id == Case.id, Task.agency_code == flt.agency_code)),
                )
            )
        if flt.created_from is not None:
            stmt = stmt.where(Case.created_at >= flt.created_from)
        if flt.created_to is not None:
            stmt = stmt.where(Case.created_at < flt.created_to)
        if flt.updated_after is not None:
            stmt = stmt.where(Case.updated_at > flt.updated_after)
        if flt.bbox is not None:
            min_lon, min_lat, max_lon, max_lat = flt.bbox
            stmt = stmt.where(Case.lon.between(min_lon, max_lon), Case.lat.between(min_lat, max_lat))
        if flt.ids:
            stmt = stmt.where(Case.id.in_(flt.ids))
        if before_id is not None:
            stmt = stmt.where(Case.id < before_id)
        return self.session.scalars(stmt.order_by(Case.id.desc()).limit(limit)).all()

    def move_reports(self, from_case_id: int, to_case_id: int) -> list[int]:
        """Move every report of one case to another; returns the ids moved."""
        ids = list(self.session.scalars(select(Report.id).where(Report.case_id == from_case_id)))
        if ids:
            self.session.execute(update(Report).where(Report.id.in_(ids)).values(case_id=to_case_id))
        return ids

    def move_report_ids(self, ids: Sequence[int], from_case_id: int, to_case_id: int) -> list[int]:
        """Move the given reports of one case to another (those no longer on it stay); returns the ids moved."""
        found = list(
            self.session.scalars(
                select(Report.id).where(Report.id.in_(list(ids)), Report.case_id == from_case_id)
            )
        )
        if found:
            self.session.execute(update(Report).where(Report.id.in_(found)).values(case_id=to_case_id))
        return found

    def last_status_events(self, status_event_types: Sequence[str]) -> Sequence[Any]:
        """Each case's status beside the type and payload of its newest status event."""
        newest = (
            select(func.max(Event.id))
            .where(Event.case_id == Case.id, Event.type.in_(list(status_event_types)))
            .correlate(Case)
            .scalar_subquery()
        )
        return self.session.execute(
            select(Case.id, Case.status, Event.type, Event.payload)
            .outerjoin(Event, Event.id == newest)
            .order_by(Case.id)
        ).all()


class ReportRepository:
    """All SQL about reports and reporters."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, report: Report) -> Report:
        """Store a new report."""
        self.session.add(report)
        return report

    def by_idempotency_key(self, key: str) -> Report | None:
        """The report first submitted with this key, if any."""
        return self.session.scalars(select(Report).where(Report.idempotency_key == key)).first()

    def ids_for_key(self, key: str) -> tuple[int, int] | None:
        """(report id, case id) of the report first submitted with this key, if any."""
        row = self.session.execute(
            select(Report.id, Report.case_id).where(Report.idempotency_key == key)
        ).first()
        return (row.id, row.case_id) if row is not None else None

    def insert(self, **values: Any) -> int:
        """Insert a report row directly (the intake hot path); returns its id."""
        return int(self.session.connection().execute(_INSERT_REPORT, values).scalar_one())

    def insert_reporter(self, **values: Any) -> int:
        """Insert a reporter's personal data; returns its id (the prepared Core INSERT: the intake hot path,
        no statement built and cache-keyed per call)."""
        return int(self.session.connection().execute(_INSERT_REPORTER, values).scalar_one())

    def for_case(self, case_id: int) -> Sequence[Report]:
        """The reports of a case, oldest first."""
        return self.session.scalars(select(Report).where(Report.case_id == case_id).order_by(Report.id)).all()

    def reporters(self, ids: Sequence[int]) -> dict[int, Reporter]:
        """Reporters by id."""
        if not ids:
            return {}
        rows = self.session.scalars(select(Reporter).where(Reporter.id.in_(ids))).all()
        return {r.id: r for r in rows}

    def anonymous_case_ids(self, case_ids: Sequence[int]) -> set[int]:
        """Which of these cases hold at least one anonymous report (their public location is coarsened)."""
        if not case_ids:
            return set()
        stmt = (
            select(Report.case_id)
            .where(Report.case_id.in_(list(case_ids)), Report.anonymous.is_(True))
            .distinct()
        )
        return {int(cid) for cid in self.session.scalars(stmt).all()}


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

    # --- invariants (kotapintar check)
    def open_tasks_on_finished_cases(
        self, open_statuses: Sequence[str], finished: Sequence[str]
    ) -> Sequence[Any]:
        """Tasks still open on a case that is closed, rejected or merged."""
        return self.session.execute(
            select(
                Task.id,
                Task.case_id,
                Task.step_id,
                Task.agency_code,
                Task.status,
                Case.status.label("case_status"),
            )
            .join(Case, Case.id == Task.case_id)
            .where(Task.status.in_(list(open_statuses)), Case.status.in_(list(finished)))
            .order_by(Task.id)
        ).all()
