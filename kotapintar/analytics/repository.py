"""All SQL of the accountability figures: GROUP BY aggregates and percentiles computed in the database.

The task and time-to-scene figures read the rollup (`analytics.models`: one narrow row per task and per
incident, refreshed by `refresh` in the transaction that changes a case, recomputed by `rebuild`).
PostgreSQL computes percentiles with `percentile_cont … WITHIN GROUP`; SQLite (no ordered-set aggregates)
reads the two order statistics around (n-1)·q off a (grouping, duration, created_at) index, or ranks with
window functions where no such index exists, and `metrics.definitions.interpolate` combines them — the
same linear interpolation as percentile_cont. Only a handful of numbers per group leave the database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    Integer,
    String,
    and_,
    bindparam,
    case,
    cast,
    delete,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    union,
    union_all,
)
from sqlalchemy.dialects.postgresql import BIT
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from kotapintar.analytics.models import CaseMetric, IncidentMetric, TaskMetric
from kotapintar.cases.models import Case, Report, Task
from kotapintar.core.events.models import Event
from kotapintar.dispatch.models import Call, UnitAssignment
from kotapintar.feedback.models import SurveyResponse
from kotapintar.metrics.definitions import DONE_TASK, PERCENTILES, interpolate
from kotapintar.metrics.performance import OPEN_TASKS
from kotapintar.metrics.response_times import SEGMENT_LABELS, SEGMENTS, Targets

Quantiles = dict[str, tuple[int, list[float | None]]]
INCIDENT_TEXT = ("ticket", "title", "service", "agency", "kecamatan", "desa", "channel")
# Groupings with a (key, duration, created_at) index per duration: SQLite reads their percentiles off it.
INDEXED_GROUPINGS = ("agency", "service", "kecamatan", "desa", "channel", "week", "month")
HOTSPOT_RESOLUTION = 7  # ~5 km² cells: coarse enough to publish, fine enough to see a street cluster
REFRESH_CHUNK = 500  # case ids per IN list when one transaction touched many cases
# The refresh statements per (dialect, time zone, UTC offset): built once, run by every command.
_REFRESH: dict[tuple[str, str, float], tuple[Any, ...]] = {}


@dataclass(frozen=True)
class Scope:
    """Which cases a figure covers: a period of creation and optional filters."""

    since: datetime
    until: datetime
    agency: str | None = None
    service: str | None = None
    channel: str | None = None
    kecamatan: str | None = None
    public_only: bool = False


class AnalyticsRepository:
    """Aggregate queries over tasks, cases and the event log."""

    def __init__(self, session: Session, *, tz: str = "Asia/Jakarta", utc_offset_h: float = 7.0) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.tz = tz
        self.offset_h = utc_offset_h

    # ------------------------------------------------------------------ expressions

    def seconds(self, start: Any, end: Any) -> ColumnElement[Any]:
        """end − start in seconds (never negative), computed in the database."""
        if self.dialect == "postgresql":
            # greatest() skips NULLs; the difference is NULL when either end is, and stays NULL here
            diff = func.extract("epoch", end - start)
            return case((diff.is_(None), None), else_=func.greatest(diff, 0))
        # Whole seconds from strftime('%s') plus the stored microseconds ('YYYY-MM-DD HH:MM:SS.ffffff'):
        # exact to the microsecond like Python, where a julianday difference is only good to ~50 µs.
        whole = cast(func.strftime("%s", end), Integer) - cast(func.strftime("%s", start), Integer)
        fraction = cast(func.substr(end, 20), Float) - cast(func.substr(start, 20), Float)
        return func.max(func.round(whole + fraction, 6), 0.0)

    def period(self, column: Any, period: str) -> ColumnElement[Any]:
        """The local week (its Monday, YYYY-MM-DD) or month (YYYY-MM) an instant falls in."""
        if self.dialect == "postgresql":
            local = func.timezone(self.tz, column)
            if period == "week":
                return func.to_char(func.date_trunc("week", local), "YYYY-MM-DD")
            return func.to_char(local, "YYYY-MM")
        shift = f"{self.offset_h:+g} hours"
        if period == "week":
            return func.date(column, shift, "-6 days", "weekday 1")
        return func.strftime("%Y-%m", column, shift)

    def parent_cell(self, cell: Any, resolution: int) -> ColumnElement[Any]:
        """The H3 cell (hex text) at `resolution` — `h3.cell_to_parent` in SQL: set the index's resolution
        field (bits 52–55) and mark every finer digit (3 bits each) unused (7). A cell already at or above
        the resolution stays as it is; text that is not 15 hex digits gives NULL (skipped, not an error in
        the transaction that refreshes the rollup)."""
        keep = (1 << (3 * (15 - resolution))) - 1
        value: Any
        if self.dialect == "postgresql":
            bits = cast(func.lpad(cell, 16, "0"), String)
            value = cast(cast(literal("x", String).concat(bits), BIT(64)), BigInteger)
            res = value.op(">>")(literal(52, Integer)).op("&")(literal(15, BigInteger))
            parent = func.to_hex(
                value.op("&")(literal(~(15 << 52), BigInteger))
                .op("|")(literal(resolution << 52, BigInteger))
                .op("|")(literal(keep, BigInteger))
            )
            valid = cell.bool_op("~")("^[0-9a-f]{15}$")
        else:
            value = literal(0)
            for k in range(1, 16):  # the 15 hex digits, each shifted into place
                value = value + (func.instr("0123456789abcdef", func.substr(cell, k, 1)) - 1).op("<<")(
                    4 * (15 - k)
                )
            res = value.op(">>")(52).op("&")(15)
            parent = func.printf(
                "%x",
                value.op("&")(literal(~(15 << 52))).op("|")(literal(resolution << 52)).op("|")(literal(keep)),
            )
            valid = and_(func.length(cell) == 15, cell.bool_op("NOT GLOB")("*[^0-9a-f]*"))
        return case((~valid, None), (res > resolution, parent), else_=cell)

    def key(self, by: str, created: Any) -> ColumnElement[Any]:
        """The grouping column of the tasks/cases query."""
        columns: Mapping[str, Any] = {
            "agency": Task.agency_code,
            "service": Case.service_code,
            "kecamatan": Case.kecamatan_code,
            "desa": Case.region_code,
            "channel": Case.channel,
        }
        if by in columns:
            return func.coalesce(columns[by], "-")
        if by in ("week", "month"):
            return self.period(created, by)
        return literal("all")

    def _case_filters(self, scope: Scope) -> list[ColumnElement[bool]]:
        where: list[ColumnElement[bool]] = []
        if scope.service:
            where.append(Case.service_code == scope.service)
        if scope.channel:
            where.append(Case.channel == scope.channel)
        if scope.kecamatan:
            where.append(Case.kecamatan_code == scope.kecamatan)
        if scope.public_only:
            where.append(Case.confidential.is_(False))
        return where

    def quantiles(self, key: Any, value: Any, from_: Any, where: Sequence[Any]) -> Quantiles:
        """Per key: (n, [value at each of PERCENTILES]) of the non-null values, computed in the database."""
        return self.quantiles_of(key, {"v": value}, from_, where)["v"]

    def quantiles_of(
        self, key: Any, values: Mapping[str, Any], from_: Any, where: Sequence[Any]
    ) -> dict[str, Quantiles]:
        """Per named value and key: (n, [quantiles]) — several values in one pass over the rows."""
        if self.dialect == "postgresql":
            cols: list[Any] = []
            for value in values.values():
                cols.append(func.count(value))
                cols.extend(func.percentile_cont(q).within_group(value) for q in PERCENTILES)
            stmt = select(key, *cols).select_from(from_).where(*where).group_by(key)
            rows = self.session.execute(stmt).all()
            width = 1 + len(PERCENTILES)
            out: dict[str, Quantiles] = {name: {} for name in values}
            for row in rows:
                for i, name in enumerate(values):
                    chunk = row[1 + i * width : 1 + (i + 1) * width]
                    if int(chunk[0]):
                        out[name][str(row[0])] = (
                            int(chunk[0]),
                            [None if v is None else float(v) for v in chunk[1:]],
                        )
            return out
        return self._window_quantiles(key, values, from_, where)

    def _window_quantiles(
        self, key: Any, values: Mapping[str, Any], from_: Any, where: Sequence[Any]
    ) -> dict[str, Quantiles]:
        """SQLite: each value computed once (a materialized CTE), ranked per key by a window function, and
        the two order statistics around (n-1)·q picked per quantile."""
        return self._window_quantiles_by({"k": key}, values, from_, where)["k"]

    def _window_quantiles_by(
        self, keys: Mapping[str, Any], values: Mapping[str, Any], from_: Any, where: Sequence[Any]
    ) -> dict[str, dict[str, Quantiles]]:
        """SQLite, several groupings in one statement: the values (and every grouping's key) computed once
        in a materialized CTE, then ranked per grouping; returns grouping → value name → Quantiles."""
        base = (
            select(
                *(k.label(f"k_{g}") for g, k in keys.items()),
                *(v.label(name) for name, v in values.items()),
            )
            .select_from(from_)
            .where(*where)
            .cte("vals")
            .prefix_with("MATERIALIZED")
        )
        parts = [self._ranked_picks(base, g, base.c[f"k_{g}"], values) for g in keys]
        # (An if-statement, not a conditional expression: joining Select and CompoundSelect in one expression
        # crashes mypy 2.4 on a cold cache.)
        stmt: Any
        if len(parts) == 1:  # noqa: SIM108 (see above)
            stmt = parts[0]
        else:
            stmt = union_all(*parts)
        width = 1 + 2 * len(PERCENTILES)
        out: dict[str, dict[str, Quantiles]] = {g: {name: {} for name in values} for g in keys}
        for row in self.session.execute(stmt).all():
            for i, name in enumerate(values):
                chunk = row[2 + i * width : 2 + (i + 1) * width]
                count = int(chunk[0] or 0)
                if count:
                    out[str(row[0])][name][str(row[1])] = (
                        count,
                        [
                            interpolate(chunk[1 + 2 * j], chunk[2 + 2 * j], count, q)
                            for j, q in enumerate(PERCENTILES)
                        ],
                    )
        return out

    def _ranked_picks(self, base: Any, grouping: str, key: Any, values: Mapping[str, Any]) -> Any:
        """(grouping, key, then per value: n and the two order statistics around each quantile's rank)."""
        ranked_cols: list[Any] = [key.label("k")]
        for name in values:
            col = base.c[name]
            ranked_cols.append(col.label(name))
            ranked_cols.append(
                (func.row_number().over(partition_by=(key, col.is_(None)), order_by=col) - 1).label(
                    f"{name}_rn"
                )
            )
            ranked_cols.append(func.count(col).over(partition_by=key).label(f"{name}_n"))
        ranked = select(*ranked_cols).subquery()
        picks: list[Any] = []
        for name in values:
            v, rn, n = ranked.c[name], ranked.c[f"{name}_rn"], ranked.c[f"{name}_n"]
            picks.append(func.max(n))
            for q in PERCENTILES:
                rank = cast((n - 1) * q, Integer)
                picks.append(func.max(case((and_(v.is_not(None), rn == rank), v))))
                picks.append(func.max(case((and_(v.is_not(None), rn == rank + 1), v))))
        return select(literal(grouping).label("g"), ranked.c.k, *picks).group_by(ranked.c.k)

    # ------------------------------------------------------------------ tasks (read from the rollup)

    def _task_where(self, scope: Scope, *, scan: bool = True) -> list[ColumnElement[bool]]:
        """The period cohort and the filters. On SQLite, `scan=False` compares `+created_at`, which keeps the
        planner on the (grouping, duration, created_at) index of the order-statistic walks instead of the
        created_at index."""
        created: Any = TaskMetric.created_at
        if self.dialect == "sqlite" and not scan:
            created = literal_column("+metric_tasks.created_at", type_=TaskMetric.__table__.c.created_at.type)
        return [created >= scope.since, created < scope.until, *self._metric_filters(scope)]

    def _metric_filters(
        self, scope: Scope, m: type[TaskMetric] | type[IncidentMetric] | type[CaseMetric] = TaskMetric
    ) -> list[ColumnElement[bool]]:
        """The scope's agency, service, channel, kecamatan and public-only filters on a rollup table. The
        case rollup has no agency (the case filters of `_case_filters`); its keys are stored '-' for none,
        and a filter value is never '-'."""
        where: list[ColumnElement[bool]] = []
        pairs: list[tuple[str | None, Any]] = [
            (scope.service, m.service),
            (scope.channel, m.channel),
            (scope.kecamatan, m.kecamatan),
        ]
        if m is not CaseMetric:
            pairs.insert(0, (scope.agency, m.agency))
        for value, column in pairs:
            if value:
                where.append(column == value)
        if scope.public_only:
            where.append(m.confidential.is_(False))
        return where

    def task_key(self, by: str) -> ColumnElement[Any]:
        """The grouping column of the task rollup (the keys are stored, never NULL)."""
        m = TaskMetric
        columns: Mapping[str, Any] = {
            "agency": m.agency,
            "service": m.service,
            "kecamatan": m.kecamatan,
            "desa": m.desa,
            "channel": m.channel,
            "week": m.week,
            "month": m.month,
        }
        return columns[by] if by in columns else literal("all")

    def task_counts(self, scope: Scope, by: str, now: datetime, accept_target_s: float) -> list[Any]:
        """Per group: tasks, open, late_open, completed, with due, on time, accepted within target, and the
        measured accept and complete durations."""
        return self.task_counts_by(scope, [by], now, accept_target_s)[by]

    def task_counts_by(
        self, scope: Scope, bys: Sequence[str], now: datetime, accept_target_s: float
    ) -> dict[str, list[tuple[Any, ...]]]:
        """`task_counts` for several groupings in ONE pass over the period's rows: GROUP BY every grouping's
        key at once (a few thousand combinations at most), then each grouping's sums of those partial
        counts — integer sums, so the same figures as one GROUP BY per grouping."""
        m = TaskMetric
        open_ = m.status.in_(sorted(OPEN_TASKS))
        done = and_(m.status == DONE_TASK, m.completed_at.is_not(None))

        def count_if(cond: ColumnElement[bool]) -> ColumnElement[Any]:
            return func.sum(case((cond, 1), else_=0))

        keyed = [by for by in dict.fromkeys(bys) if by in INDEXED_GROUPINGS]
        keys = [self.task_key(by).label(f"k_{by}") for by in keyed]
        stmt = (
            select(
                *keys,
                func.count(),
                count_if(open_),
                count_if(and_(open_, m.due_at.is_not(None), m.due_at < now)),
                count_if(done),
                count_if(and_(done, m.due_at.is_not(None))),
                count_if(and_(done, m.due_at.is_not(None), m.completed_at <= m.due_at)),
                count_if(m.accept_s <= accept_target_s),
                func.count(m.accept_s),
                func.count(m.complete_s),
            )
            .where(*self._task_where(scope, scan=True))
            .group_by(*keys)
        )
        rows = self.session.execute(stmt).all()
        out: dict[str, list[tuple[Any, ...]]] = {}
        for by in bys:
            at = keyed.index(by) if by in keyed else None
            sums: dict[str, list[int]] = {}
            for row in rows:
                total = sums.setdefault("all" if at is None else str(row[at]), [0] * 9)
                for i, value in enumerate(row[len(keys) :]):
                    total[i] += int(value or 0)
            out[by] = [(key, *values) for key, values in sorted(sums.items())]
        return out

    def task_quantiles(self, scope: Scope, by: str) -> dict[str, Quantiles]:
        """Median and p90 of time to accept (created → accepted) and to complete (created → done)."""
        return self.task_quantiles_by(scope, [by])[by]

    def task_quantiles_by(
        self,
        scope: Scope,
        bys: Sequence[str],
        counts: Mapping[str, Sequence[tuple[Any, ...]]] | None = None,
    ) -> dict[str, dict[str, Quantiles]]:
        """`task_quantiles` for several groupings, over the rollup's stored durations.

        PostgreSQL: percentile_cont. SQLite: each order statistic read off an index on (grouping key,
        duration, created_at) — `ORDER BY duration LIMIT 2 OFFSET rank` walks the index in order and stops
        at the rank, instead of ranking every row with window functions (10–30× faster at 300,000 tasks);
        `counts` (from `task_counts_by`) gives each group's n so the ranks are known without another pass."""
        m = TaskMetric
        values = {"accept": m.accept_s, "complete": m.complete_s}
        where = self._task_where(scope)
        if self.dialect == "postgresql":
            # One statement per (grouping, duration): each reads its (key, duration, created_at) index only
            # — already in order, so percentile_cont's sort is a pass over sorted input. Both durations in
            # one statement made PostgreSQL fetch every task from the heap (0.9 s instead of 2 × 0.1 s at
            # 200,000 cases).
            return {
                by: {
                    name: self.quantiles_of(self.task_key(by), {name: column}, m.__table__, where)[name]
                    for name, column in values.items()
                }
                for by in bys
            }
        indexed = [by for by in bys if by in INDEXED_GROUPINGS]
        windowed = {by: self.task_key(by) for by in bys if by not in indexed}
        out = self._window_quantiles_by(windowed, values, m.__table__, where) if windowed else {}
        if indexed:
            if counts is None:
                counts = self.task_counts_by(scope, indexed, datetime.now(UTC), 0.0)
            for by in indexed:
                out[by] = self._indexed_quantiles(scope, by, values, counts[by])
        return out

    def _indexed_quantiles(
        self, scope: Scope, by: str, values: Mapping[str, Any], counts: Sequence[tuple[Any, ...]]
    ) -> dict[str, Quantiles]:
        """SQLite: the two order statistics around each rank, one small index walk each, all in one
        UNION ALL statement; `interpolate` combines them as percentile_cont does."""
        key_col = self.task_key(by)
        where = self._task_where(scope, scan=False)
        out: dict[str, Quantiles] = {name: {} for name in values}
        for name, column in values.items():
            # One statement per duration, compiled once and run per group and rank (each a short index walk).
            picked = (
                select(column.label("v"))
                .where(key_col == bindparam("k"), column.is_not(None), *where)
                .order_by(column)
                .limit(2)
                .offset(bindparam("rank", type_=Integer))
                .subquery()
            )
            stmt = select(func.min(picked.c.v), func.max(picked.c.v))
            at = 8 if name == "accept" else 9
            for row in counts:
                key, n = str(row[0]), int(row[at] or 0)
                if not n:
                    continue
                picks = []
                for q in PERCENTILES:
                    low, high = self.session.execute(stmt, {"k": key, "rank": int((n - 1) * q)}).one()
                    picks.append(interpolate(low, high, n, q))
                out[name][key] = (n, picks)
        return out

    def backlog(self, scope: Scope, by: str, now: datetime) -> dict[str, tuple[int, int]]:
        """Per group: (open tasks, of which past due) right now, whenever they were created."""
        return self.backlog_by(scope, [by], now)[by]

    def backlog_by(
        self, scope: Scope, bys: Sequence[str], now: datetime
    ) -> dict[str, dict[str, tuple[int, int]]]:
        """`backlog` for several groupings in one pass over the open tasks (partial counts summed)."""
        m = TaskMetric
        late = func.sum(case((and_(m.due_at.is_not(None), m.due_at < now), 1), else_=0))
        keyed = [by for by in dict.fromkeys(bys) if by in INDEXED_GROUPINGS]
        keys = [self.task_key(by).label(f"k_{by}") for by in keyed]
        where = [m.status.in_(sorted(OPEN_TASKS)), *self._metric_filters(scope)]
        rows = self.session.execute(select(*keys, func.count(), late).where(*where).group_by(*keys)).all()
        out: dict[str, dict[str, tuple[int, int]]] = {}
        for by in bys:
            at = keyed.index(by) if by in keyed else None
            sums: dict[str, tuple[int, int]] = {}
            for row in rows:
                key = "all" if at is None else str(row[at])
                n, lt = sums.get(key, (0, 0))
                sums[key] = (n + int(row[-2]), lt + int(row[-1] or 0))
            out[by] = sums
        return out

    def late_tasks(self, now: datetime, agency: str | None, *, limit: int) -> Sequence[Any]:
        """Open tasks past their due time (escalated included), longest overdue first, with their case
        (found through the rollup's due-time index, then joined for the text)."""
        m = TaskMetric
        late = select(m.task_id, m.due_at).where(
            m.status.in_(sorted(OPEN_TASKS)), m.due_at.is_not(None), m.due_at < now
        )
        if agency:
            late = late.where(m.agency == agency)
        picked = late.order_by(m.due_at, m.task_id).limit(limit).subquery()
        stmt = (
            select(
                Task.id,
                Task.case_id,
                Task.agency_code,
                Task.title,
                Task.status,
                Task.due_at,
                Case.ticket,
                Case.priority,
            )
            .join(picked, picked.c.task_id == Task.id)
            .join(Case, Case.id == Task.case_id)
        )
        return self.session.execute(stmt.order_by(Task.due_at, Task.id)).all()

    def resolve_quantiles(self, scope: Scope) -> Quantiles:
        """Per agency: resolved public cases and the median/p90 seconds from report to resolution (stored in
        the case rollup: PostgreSQL reads them in order off its (agency, resolve_s, resolved_at) index)."""
        m = CaseMetric
        where = [
            m.resolved_at.is_not(None),
            m.resolved_at >= scope.since,
            m.resolved_at < scope.until,
            m.agency.is_not(None),
            *self._metric_filters(scope, CaseMetric),
        ]
        return self.quantiles(m.agency, m.resolve_s, m.__table__, where)

    # ------------------------------------------------------------------ incidents (time to scene)

    def incidents(self, scope: Scope) -> Any:
        """The incidents of the scope: a subquery over the rollup (one row per incident, segments stored)."""
        m = IncidentMetric
        where = [m.created_at >= scope.since, m.created_at < scope.until, *self._metric_filters(scope, m)]
        columns = [m.__table__.c[name] for name in ("case_id", *INCIDENT_TEXT, "created_at", "started_at")]
        return select(*columns, *(m.__table__.c[s] for s in SEGMENTS)).where(*where).subquery("incidents")

    # ------------------------------------------------------------------ the rollup: refresh and rebuild

    def refresh(self, case_ids: Sequence[int]) -> None:
        """Recompute the rollup rows of these cases (the case, its tasks, and the incident when it is one)
        from the cases, tasks and event log, in the caller's transaction. The statements are built once per
        dialect and time zone (an expanding IN), so a command pays only their execution; on PostgreSQL the
        deletes are one statement and the inserts another, which also returns which of the cases are
        incidents (data-modifying CTEs: two round trips for a case that is not an incident, three for one),
        and the incident's event-log query runs only for those."""
        ids = sorted(set(case_ids))
        statements = _REFRESH.get((self.dialect, self.tz, self.offset_h))
        if statements is None:
            statements = _REFRESH[(self.dialect, self.tz, self.offset_h)] = self._refresh_statements()
        writes, incident_ids, insert_incidents = statements
        connection = self.session.connection()  # Core statements with parameters (not ORM bulk mode)
        for start in range(0, len(ids), REFRESH_CHUNK):
            chunk = {"ids": ids[start : start + REFRESH_CHUNK]}
            for statement in writes:
                connection.execute(statement, chunk)
            incidents = [int(i) for i in connection.execute(incident_ids, chunk).scalars()]
            if incidents:
                connection.execute(insert_incidents, {"ids": incidents})

    def _refresh_statements(self) -> tuple[Sequence[Any], Any, Any]:
        """(the deletes and inserts, the query of which cases are incidents, the incident insert)."""
        ids: Any = bindparam("ids", expanding=True)
        tasks, incidents, cases = (
            self.task_rows_query(ids),
            self.incident_rows_query(ids),
            self.case_rows_query(ids),
        )
        deletes = [
            delete(TaskMetric).where(TaskMetric.case_id.in_(ids)),
            delete(IncidentMetric).where(IncidentMetric.case_id.in_(ids)),
            delete(CaseMetric).where(CaseMetric.case_id.in_(ids)),
        ]
        inserts = [
            insert(TaskMetric).from_select(list(tasks.selected_columns.keys()), tasks),
            insert(CaseMetric).from_select(list(cases.selected_columns.keys()), cases),
        ]
        incident_ids: Any = union(
            select(Call.case_id).where(Call.case_id.in_(ids)),
            select(UnitAssignment.case_id).where(UnitAssignment.case_id.in_(ids)),
        )
        insert_incidents = insert(IncidentMetric).from_select(
            list(incidents.selected_columns.keys()), incidents
        )
        if self.dialect != "postgresql":
            return [*deletes, *inserts], incident_ids, insert_incidents
        # PostgreSQL: ONE statement for a case that is not an incident. Rows are upserted, and an upsert
        # that would change nothing is skipped (IS DISTINCT FROM), so a command that changes one task
        # writes that one row instead of deleting and re-inserting every row of the case (each with its
        # entries in every index); rows whose source is gone are deleted. Each CTE touches rows the others
        # do not (different tables, or keys outside the upserted set), so their order does not matter.
        gone = [
            delete(TaskMetric)
            .where(
                TaskMetric.case_id.in_(ids),
                TaskMetric.task_id.not_in(select(Task.id).where(Task.case_id.in_(ids))),
            )
            .cte("gone_tasks"),
            delete(CaseMetric)
            .where(
                CaseMetric.case_id.in_(ids),
                CaseMetric.case_id.not_in(select(Case.id).where(Case.id.in_(ids))),
            )
            .cte("gone_cases"),
            delete(IncidentMetric)
            .where(IncidentMetric.case_id.in_(ids), IncidentMetric.case_id.not_in(incident_ids))
            .cte("gone_incidents"),
        ]
        upserts = [
            _upsert(TaskMetric, tasks, "task_id").cte("new_tasks"),
            _upsert(CaseMetric, cases, "case_id").cte("new_cases"),
        ]
        return [], incident_ids.add_cte(*gone, *upserts), _upsert(IncidentMetric, incidents, "case_id")

    def rebuild(self) -> tuple[int, int]:
        """Recompute the task and incident rollup (after an upgrade, or to repair it); returns (tasks,
        incidents). The case rollup is `rebuild_cases` (a later migration's table: migration 0019 runs this
        before it exists)."""
        for query, table in (
            (self.task_rows_query(None), TaskMetric),
            (self.incident_rows_query(None), IncidentMetric),
        ):
            self._refill(table, query)
        tasks = self.session.execute(select(func.count()).select_from(TaskMetric)).scalar_one()
        incidents = self.session.execute(select(func.count()).select_from(IncidentMetric)).scalar_one()
        return int(tasks), int(incidents)

    def rebuild_cases(self) -> int:
        """Recompute the case rollup; returns its rows."""
        self._refill(CaseMetric, self.case_rows_query(None))
        return int(self.session.execute(select(func.count()).select_from(CaseMetric)).scalar_one())

    def _refill(self, table: Any, query: Any) -> None:
        """Empty a rollup table and fill it with one INSERT … SELECT, its secondary indexes dropped before and
        built after (in the same transaction: DDL is transactional on both databases). Maintaining the task
        rollup's 18 indexes row by row made a rebuild of 1,500,000 tasks take many minutes; building each
        index once from the filled table is a sort. Readers wait for the rebuild's commit (a repair)."""
        connection = self.session.connection()
        indexes = sorted(table.__table__.indexes, key=lambda ix: ix.name)
        for index in indexes:
            index.drop(connection)
        self.session.execute(delete(table))
        # In creation order, as the commands write them: a month's rows then sit together on disk, so a
        # month's report reads a twelfth of the table, not every page of it.
        ordered = query.order_by(query.selected_columns.created_at)
        self.session.execute(insert(table).from_select(list(query.selected_columns.keys()), ordered))
        for index in indexes:
            index.create(connection)

    def agencies_with_work(self, since: datetime, until: datetime) -> list[str]:
        """Agencies with work in [since, until): a task of theirs open at some time in it (created before its
        end, still open or finished after its start), a case of theirs opened in it (112 incidents carry no
        task), or a citizen's IKM answer about them in it."""
        tasks = select(Task.agency_code).where(
            Task.created_at < until,
            or_(Task.status.in_(sorted(OPEN_TASKS)), Task.completed_at >= since),
        )
        cases = select(Case.agency_code).where(Case.created_at >= since, Case.created_at < until)
        rated = select(SurveyResponse.agency_code).where(
            SurveyResponse.created_at >= since,
            SurveyResponse.created_at < until,
            SurveyResponse.agency_code.is_not(None),
        )
        return sorted({str(c) for c in self.session.scalars(tasks.union(cases, rated)) if c})

    def case_rows_query(self, case_ids: Any) -> Any:
        """The case rollup rows (of these cases, or all): filter keys ('-' for none), the hotspot cell and
        the seconds from report to resolution (the same `seconds` expression the board always used)."""
        stmt = select(
            Case.id.label("case_id"),
            Case.agency_code.label("agency"),
            func.coalesce(Case.service_code, "-").label("service"),
            func.coalesce(Case.kecamatan_code, "-").label("kecamatan"),
            func.coalesce(Case.channel, "-").label("channel"),
            Case.confidential.label("confidential"),
            Case.created_at.label("created_at"),
            self.parent_cell(Case.h3_cell, HOTSPOT_RESOLUTION).label("cell"),
            Case.resolved_at.label("resolved_at"),
            self.seconds(Case.created_at, Case.resolved_at).label("resolve_s"),
        )
        if case_ids is not None:
            stmt = stmt.where(Case.id.in_(case_ids))
        return stmt

    def task_rows_query(self, case_ids: Any) -> Any:
        """The rollup rows of the tasks (of these cases, or all): keys from the case, durations in seconds
        (the same `seconds` expression the figures always used, so the stored values are the same)."""
        done = and_(Task.status == DONE_TASK, Task.completed_at.is_not(None))
        stmt = select(
            Task.id.label("task_id"),
            Task.case_id.label("case_id"),
            func.coalesce(Task.agency_code, "-").label("agency"),
            func.coalesce(Case.service_code, "-").label("service"),
            func.coalesce(Case.kecamatan_code, "-").label("kecamatan"),
            func.coalesce(Case.region_code, "-").label("desa"),
            func.coalesce(Case.channel, "-").label("channel"),
            Case.confidential.label("confidential"),
            Task.created_at.label("created_at"),
            self.period(Task.created_at, "week").label("week"),
            self.period(Task.created_at, "month").label("month"),
            Task.status.label("status"),
            Task.due_at.label("due_at"),
            Task.completed_at.label("completed_at"),
            case((Task.accepted_at.is_not(None), self.seconds(Task.created_at, Task.accepted_at))).label(
                "accept_s"
            ),
            case((done, self.seconds(Task.created_at, Task.completed_at))).label("complete_s"),
        ).join(Case, Case.id == Task.case_id)
        if case_ids is not None:
            stmt = stmt.where(Task.case_id.in_(case_ids))
        return stmt

    def incident_rows_query(self, case_ids: Any) -> Any:
        """One row per 112/dispatch incident (of these cases, or all) with its NFPA segment seconds (the pure
        `metrics.response_times.segments_of`, in SQL: duplicate calls do not start the clock; turnout and
        travel are of the first unit on scene, or of the first en route while none has arrived)."""
        unit = Event.payload["unit"].as_string()
        dup = Event.payload["duplicate"].as_boolean()
        not_dup = or_(dup.is_(None), dup == false())
        calls = select(Call.case_id).where(Call.case_id.is_not(None))
        sent = select(UnitAssignment.case_id)
        if case_ids is not None:
            calls = calls.where(Call.case_id.in_(case_ids))
            sent = sent.where(UnitAssignment.case_id.in_(case_ids))
        ids = union(calls, sent).subquery()
        in_scope = Event.case_id.in_(select(ids.c[0]))
        ranked = (
            select(
                Event.case_id.label("case_id"),
                Event.type.label("type"),
                unit.label("unit"),
                func.row_number()
                .over(partition_by=(Event.case_id, Event.type), order_by=(Event.occurred_at, Event.id))
                .label("rn"),
            )
            .where(in_scope, Event.type.in_(("unit_on_scene", "unit_en_route")))
            .subquery()
        )
        lead = (
            select(
                ranked.c.case_id,
                func.coalesce(
                    func.max(case((and_(ranked.c.type == "unit_on_scene", ranked.c.rn == 1), ranked.c.unit))),
                    func.max(case((and_(ranked.c.type == "unit_en_route", ranked.c.rn == 1), ranked.c.unit))),
                ).label("unit"),
            )
            .group_by(ranked.c.case_id)
            .subquery()
        )

        def first(type_: str, *extra: ColumnElement[bool]) -> ColumnElement[Any]:
            return func.min(case((and_(Event.type == type_, *extra), Event.occurred_at)))

        per_case = (
            select(
                Event.case_id.label("case_id"),
                first("call_received", not_dup).label("received"),
                first("case_created").label("created"),
                first("call_answered", not_dup).label("answered"),
                first("unit_dispatched").label("dispatched"),
                first("unit_on_scene").label("on_scene"),
                first("unit_dispatched", unit == lead.c.unit).label("u_dispatched"),
                first("unit_en_route", unit == lead.c.unit).label("u_en_route"),
                first("unit_on_scene", unit == lead.c.unit).label("u_on_scene"),
            )
            .select_from(Event)
            .outerjoin(lead, lead.c.case_id == Event.case_id)
            .where(in_scope)
            .group_by(Event.case_id)
            .subquery()
        )
        start = func.coalesce(per_case.c.received, per_case.c.created)
        return select(
            Case.id.label("case_id"),
            Case.ticket.label("ticket"),
            Case.title.label("title"),
            Case.service_code.label("service"),
            Case.agency_code.label("agency"),
            Case.kecamatan_code.label("kecamatan"),
            Case.region_code.label("desa"),
            Case.channel.label("channel"),
            Case.confidential.label("confidential"),
            Case.created_at.label("created_at"),
            start.label("started_at"),
            self.seconds(per_case.c.received, per_case.c.answered).label("answering"),
            self.seconds(per_case.c.answered, per_case.c.dispatched).label("processing"),
            self.seconds(per_case.c.u_dispatched, per_case.c.u_en_route).label("turnout"),
            self.seconds(per_case.c.u_en_route, per_case.c.u_on_scene).label("travel"),
            self.seconds(start, per_case.c.on_scene).label("total"),
        ).join(per_case, per_case.c.case_id == Case.id)

    def _incident_key(self, inc: Any, by: str) -> ColumnElement[Any]:
        if by in ("agency", "service", "kecamatan", "desa", "channel"):
            return func.coalesce(inc.c[by], "-")
        if by in ("week", "month"):
            return self.period(inc.c.created_at, by)
        return literal("all")

    def segment_counts(self, scope: Scope, by: str, targets: Targets) -> list[Any]:
        """Per group: incidents, and per segment the measured count and the count within its target."""
        inc = self.incidents(scope)
        key = self._incident_key(inc, by).label("k")
        cols: list[Any] = [key, func.count()]
        for segment in SEGMENTS:
            value = inc.c[segment]
            cols.append(func.count(value))
            cols.append(func.sum(case((value <= self._target(inc, segment, targets), 1), else_=0)))
        return list(self.session.execute(select(*cols).group_by(key)).all())

    def _target(self, inc: Any, segment: str, targets: Targets) -> ColumnElement[Any]:
        default = targets.defaults.get(segment, 1e12)
        whens = [
            (inc.c.service == service, literal(float(over[segment])))
            for service, over in targets.services.items()
            if segment in over
        ]
        return case(*whens, else_=literal(float(default))) if whens else literal(float(default))

    def segment_quantiles(self, scope: Scope, by: str) -> dict[str, Quantiles]:
        """Median and p90 of every segment per group, in one pass over the incidents."""
        inc = self.incidents(scope)
        return self.quantiles_of(self._incident_key(inc, by), {s: inc.c[s] for s in SEGMENTS}, inc, [])

    def iso_period(self, column: Any, period: str) -> ColumnElement[Any]:
        """The local day (YYYY-MM-DD), ISO week (YYYY-Www) or month (YYYY-MM) of an instant, '-' for none
        (`metrics.response_times.period_key` in SQL)."""
        if self.dialect == "postgresql":
            local = func.timezone(self.tz, column)
            pattern = {"day": "YYYY-MM-DD", "week": 'IYYY-"W"IW'}.get(period, "YYYY-MM")
            return func.coalesce(func.to_char(local, pattern), "-")
        shift = f"{self.offset_h:+g} hours"
        if period == "day":
            return func.coalesce(func.date(column, shift), "-")
        if period == "week":  # the ISO week is the week of its Thursday
            thursday = func.date(column, shift, "-3 days", "weekday 4")
            week = (cast(func.strftime("%j", thursday), Integer) - 1) / 7 + 1
            return func.coalesce(func.printf("%s-W%02d", func.strftime("%Y", thursday), week), "-")
        return func.coalesce(func.strftime("%Y-%m", column, shift), "-")

    def segment_summary(
        self, by: str, period: str, since: datetime | None, until: datetime | None, targets: Targets
    ) -> list[dict[str, Any]]:
        """Per group (agency, kecamatan, service or period of the first call): n, mean, p90 and share within
        the group's target of each segment — `metrics.response_times.aggregate`, computed in SQL."""
        m = IncidentMetric
        where: list[ColumnElement[bool]] = []
        if since is not None:
            where.append(m.created_at >= since)
        if until is not None:
            where.append(m.created_at < until)
        inc = select(*m.__table__.c).where(*where).subquery("inc")
        key = (
            self.iso_period(inc.c.started_at, period) if by == "period" else func.coalesce(inc.c[by], "-")
        ).label("k")
        cols: list[Any] = [key, func.count()]
        for segment in SEGMENTS:
            value = inc.c[segment]
            target = (
                self._target(inc, segment, targets)
                if by == "service"
                else literal(float(targets.defaults.get(segment, 1e12)))
            )
            cols += [func.count(value), func.avg(value), func.sum(case((value <= target, 1), else_=0))]
        counts = self.session.execute(select(*cols).group_by(key)).all()
        p90 = self.quantiles_of(key, {s: inc.c[s] for s in SEGMENTS}, inc, [])
        groups = []
        for row in sorted(counts, key=lambda r: str(r[0])):
            k = str(row[0])
            base = targets.for_service(k) if by == "service" else dict(targets.defaults)
            segments = []
            for i, segment in enumerate(SEGMENTS):
                n, mean, within = int(row[2 + 3 * i] or 0), row[3 + 3 * i], int(row[4 + 3 * i] or 0)
                q90 = p90[segment].get(k, (0, [None, None]))[1][PERCENTILES.index(0.9)] if n else None
                goal = base.get(segment)
                segments.append(
                    {
                        "segment": segment,
                        "label": SEGMENT_LABELS[segment],
                        "n": n,
                        "mean_s": None if mean is None else float(mean),
                        "p90_s": q90,
                        "target_s": goal,
                        "p90_met": None if q90 is None or goal is None else q90 <= goal,
                        "share_within_target": within / n if n and goal is not None else None,
                    }
                )
            groups.append({"group": by, "key": k, "incidents": int(row[1]), "segments": segments})
        return groups

    def segment_histogram(self, scope: Scope, segment: str, bucket_s: float) -> list[tuple[int, int]]:
        """(bucket index, incidents) of one segment's values in buckets of `bucket_s` seconds."""
        inc = self.incidents(scope)
        bucket = (
            cast(func.floor(inc.c[segment] / bucket_s), Integer)
            if self.dialect == "postgresql"
            else cast(inc.c[segment] / bucket_s, Integer)
        )
        stmt = (
            select(bucket, func.count()).where(inc.c[segment].is_not(None)).group_by(bucket).order_by(bucket)
        )
        return [(int(b), int(n)) for b, n in self.session.execute(stmt).all()]

    def incident_list(self, scope: Scope, *, limit: int) -> Sequence[Any]:
        """The newest incidents with their segments (the time-to-scene list)."""
        inc = self.incidents(scope)
        return self.session.execute(select(inc).order_by(inc.c.created_at.desc()).limit(limit)).all()

    # ------------------------------------------------------------------ hotspots and accuracy

    def cells(self, scope: Scope) -> list[tuple[str, int]]:
        """(H3 cell at the hotspot resolution, cases) of the cases created in the scope that have one — a
        GROUP BY over the case rollup, whose cells were coarsened when the row was written."""
        m = CaseMetric
        stmt = (
            select(m.cell, func.count())
            .where(
                m.cell.is_not(None),
                m.created_at >= scope.since,
                m.created_at < scope.until,
                *self._metric_filters(scope, CaseMetric),
            )
            .group_by(m.cell)
        )
        return [(str(c), int(n)) for c, n in self.session.execute(stmt).all()]

    def corrections(self, scope: Scope) -> list[Any]:
        """Per service: cases created in scope, of which with a service or priority change after triage."""
        changed = (
            select(Event.case_id)
            .where(Event.type.in_(("service_changed", "priority_changed", "triage_corrected")))
            .distinct()
            .subquery()
        )
        corrected = func.sum(case((changed.c.case_id.is_not(None), 1), else_=0))
        stmt = (
            select(Case.service_code, func.count(), corrected)
            .outerjoin(changed, changed.c.case_id == Case.id)
            .where(Case.created_at >= scope.since, Case.created_at < scope.until, *self._case_filters(scope))
            .group_by(Case.service_code)
        )
        return list(self.session.execute(stmt).all())

    def event_counts(self, scope: Scope, types: Sequence[str]) -> dict[str, int]:
        """How many events of each type were written in the scope's period."""
        stmt = (
            select(Event.type, func.count())
            .where(
                Event.type.in_(list(types)),
                Event.occurred_at >= scope.since,
                Event.occurred_at < scope.until,
            )
            .group_by(Event.type)
        )
        return {str(t): int(n) for t, n in self.session.execute(stmt).all()}

    def location_sources(self, scope: Scope) -> list[Any]:
        """Per location source of the reports received in scope: reports, and median accuracy in metres."""
        source = func.coalesce(Report.location_source, case((Report.lon.is_(None), "none"), else_="unknown"))
        stmt = (
            select(source.label("k"), func.count(), func.avg(Report.location_accuracy_m))
            .where(Report.received_at >= scope.since, Report.received_at < scope.until)
            .group_by(source)
        )
        return list(self.session.execute(stmt).all())

    def freshness(self) -> tuple[datetime | None, datetime | None, int]:
        """The newest change of a public case and of any case event (what the open-data exports are built
        from), and how many public cases there are."""
        latest_case, public = self.session.execute(
            select(func.max(Case.updated_at), func.count()).where(Case.confidential.is_(False))
        ).one()
        latest_event = self.session.execute(select(func.max(Event.occurred_at))).scalar()
        return _aware(latest_case), _aware(latest_event), int(public)


def _upsert(table: Any, rows: Any, key: str) -> Any:
    """PostgreSQL: INSERT the rows … ON CONFLICT (key) DO UPDATE only where a column differs."""
    columns = list(rows.selected_columns.keys())
    stmt = pg_insert(table).from_select(columns, rows)
    target = table.__table__.c
    changed = tuple_(*(target[c] for c in columns)).is_distinct_from(
        tuple_(*(stmt.excluded[c] for c in columns))
    )
    return stmt.on_conflict_do_update(
        index_elements=[key], set_={c: stmt.excluded[c] for c in columns if c != key}, where=changed
    )


def _aware(value: Any) -> datetime | None:
    """Aggregates bypass the column type: SQLite returns text or naive values (UTC)."""
    if value is None:
        return None
    moment: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
