"""The accountability figures, one function per question; every surface (supervisor, agency page, public
scoreboard, /analitik, the API, the report) calls these, so they always agree.

Each function checks who reads, runs the aggregate queries of `analytics.repository` and returns the
records of `metrics.definitions` (no task or case rows reach Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import h3
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from kotapintar.analytics.repository import AnalyticsRepository, Scope
from kotapintar.cases.models import Case, Task
from kotapintar.core import hooks
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.metrics.definitions import (
    GROUPINGS,
    Distribution,
    SegmentFigures,
    TaskFigures,
    task_targets,
)
from kotapintar.metrics.response_times import SEGMENTS, load_targets
from kotapintar.sensors import queries as sensor_queries


def scope_of_days(days: int, *, now: datetime | None = None, **filters: Any) -> Scope:
    """The last `days` days up to now (inclusive of this second)."""
    now = now or utcnow()
    return Scope(since=now - timedelta(days=days), until=now + timedelta(seconds=1), **filters)


# PostgreSQL's default work_mem (4 MB) makes percentile_cont sort a year of durations on disk at 200,000
# cases; a read session of the figures may use more, for its own transaction only (SET LOCAL).
READ_WORK_MEM = "64MB"


def _repo(uow: Any, settings: Settings | None, *, reading: bool = True) -> AnalyticsRepository:
    if reading and uow.dialect == "postgresql":
        uow.session.execute(text(f"SET LOCAL work_mem = '{READ_WORK_MEM}'"))
    return rollup_repository(uow.session, settings)


def rollup_repository(session: Session, settings: Settings | None = None) -> AnalyticsRepository:
    """The repository over a session, in the city's time zone (the rollup's week and month keys are local:
    changing the zone needs `kotapintar analytics rebuild`)."""
    settings = settings or get_settings()
    offset = datetime.now(ZoneInfo(settings.timezone)).utcoffset()  # Indonesia keeps no summer time
    hours = offset.total_seconds() / 3600 if offset is not None else 0.0
    return AnalyticsRepository(session, tz=settings.timezone, utc_offset_h=hours)


def _check(actor: Actor | None, scope: Scope) -> None:
    """Staff with the all-cases view read everything; an agency user reads only their own agency."""
    if actor is None:
        return  # the public scoreboard: callers pass public_only scopes and whitelist what they show
    if scope.agency is not None and scope.agency == actor.agency_code:
        return
    actor.require(Permission.VIEW_ALL_CASES)


def _grouping(by: str) -> str:
    if by not in GROUPINGS:
        raise ValidationFailed(f"Kelompokkan menurut salah satu dari {', '.join(GROUPINGS)}.", field="by")
    return by


def task_figures(
    db: Database,
    actor: Actor | None,
    scope: Scope,
    by: str = "agency",
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> list[TaskFigures]:
    """Late, on time, time to accept and complete (median, p90, within target) per group, with the backlog."""
    return task_figures_by(db, actor, scope, (by,), now=now, settings=settings)[by]


def task_figures_by(
    db: Database,
    actor: Actor | None,
    scope: Scope,
    bys: Sequence[str],
    *,
    now: datetime | None = None,
    settings: Settings | None = None,
    backlog: bool = True,
    quantiles: bool = True,
) -> dict[str, list[TaskFigures]]:
    """`task_figures` for several groupings in one read (a page's league, breakdown and trend): the
    per-task durations are computed once for all of them (the same figures as separate calls: tested).
    `backlog=False` skips open-now/late-now (a pass over every open task, whenever created) for a reader
    that shows only the period's figures, such as the monthly report; `quantiles=False` skips the
    duration percentiles (their distributions then say n = 0) for a reader that shows none, such as the
    public board."""
    _check(actor, scope)
    bys = [_grouping(by) for by in dict.fromkeys(bys)]
    now = now or utcnow()
    accept_target = task_targets().accept_s
    with db.reading() as uow:
        repo = _repo(uow, settings)
        counts = repo.task_counts_by(scope, bys, now, accept_target)
        picked = (
            repo.task_quantiles_by(scope, bys, counts)
            if quantiles
            else {by: {"accept": {}, "complete": {}} for by in bys}
        )
        owed = (
            repo.backlog_by(scope, [by for by in bys if by not in ("week", "month")], now) if backlog else {}
        )
        parts = {by: (counts[by], owed.get(by, {})) for by in bys}
    return {
        by: _task_figures(rows, picked[by], owed_by, accept_target) for by, (rows, owed_by) in parts.items()
    }


def _task_figures(
    counts: Sequence[Any],
    quantiles: dict[str, Any],
    backlog: dict[str, tuple[int, int]],
    accept_target: float,
) -> list[TaskFigures]:
    accept, complete = quantiles["accept"], quantiles["complete"]
    out: dict[str, TaskFigures] = {}
    for row in counts:
        key = str(row[0])
        a_n, (a_med, a_p90) = accept.get(key, (0, [None, None]))
        c_n, (c_med, c_p90) = complete.get(key, (0, [None, None]))
        open_now, late_now = backlog.get(key, (0, 0))
        out[key] = TaskFigures(
            key=key,
            tasks=int(row[1]),
            open=int(row[2] or 0),
            late_open=int(row[3] or 0),
            completed=int(row[4] or 0),
            completed_with_due=int(row[5] or 0),
            completed_on_time=int(row[6] or 0),
            accept=Distribution(a_n, a_med, a_p90, int(row[7] or 0), accept_target),
            complete=Distribution(c_n, c_med, c_p90, int(row[6] or 0), None),
            open_now=open_now,
            late_now=late_now,
        )
    for key, (open_now, late_now) in backlog.items():
        if key not in out:  # an agency with only older open work still shows its backlog
            out[key] = TaskFigures(key=key, open_now=open_now, late_now=late_now)
    return [out[k] for k in sorted(out)]


def late_tasks(db: Database, actor: Actor, agency: str | None, *, limit: int = 200) -> list[Any]:
    """Open tasks past due (escalated included), longest overdue first: the rows behind `late_now`."""
    actor.require(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        return list(_repo(uow, None).late_tasks(utcnow(), agency, limit=limit))


@dataclass(frozen=True)
class BoardRow:
    """One agency on the public scoreboard (a whitelist: nothing else is shown)."""

    code: str
    tasks: int
    late: int
    on_time_share: float | None
    resolved: int
    median_resolve_s: float | None
    satisfaction: float | None = None


def public_scoreboard(db: Database, days: int, *, now: datetime | None = None) -> list[BoardRow]:
    """Per agency: tasks, late, on-time share (the supervisor's figures) and cases resolved with the median
    time from report to resolution (public cases only)."""
    scope = scope_of_days(days, now=now)
    # The board shows counts and the on-time share only: no duration percentiles, no backlog.
    period = task_figures_by(db, None, scope, ("agency",), now=now, backlog=False, quantiles=False)
    figures = {f.key: f for f in period["agency"]}
    with db.reading() as uow:
        resolved = _repo(uow, None).resolve_quantiles(
            Scope(since=scope.since, until=scope.until, public_only=True)
        )
    board = []
    for code in sorted(set(figures) | set(resolved)):
        f = figures.get(code, TaskFigures(key=code))
        if not f.tasks and code not in resolved:
            continue  # backlog only: the scoreboard is about the period
        n, (median, _p90) = resolved.get(code, (0, [None, None]))
        board.append(BoardRow(code, f.tasks, f.late, f.on_time_share, n, median))
    return board


def segment_figures(
    db: Database, actor: Actor, scope: Scope, by: str = "service", *, settings: Settings | None = None
) -> list[SegmentFigures]:
    """Time to scene of 112/dispatch incidents per group: each NFPA segment's median, p90 and share within
    its target (Permendagri 114/2018's 15 minutes for fire; the targets file for the rest)."""
    _check(actor, scope)
    by = _grouping(by)
    with db.reading() as uow:
        return _segment_figures(_repo(uow, settings), scope, by)


def _segment_figures(repo: AnalyticsRepository, scope: Scope, by: str) -> list[SegmentFigures]:
    targets = load_targets()
    counts = repo.segment_counts(scope, by, targets)
    quantiles = repo.segment_quantiles(scope, by)
    out = []
    for row in counts:
        key = str(row[0])
        segments = {}
        for i, s in enumerate(SEGMENTS):
            _n, (median, p90) = quantiles[s].get(key, (0, [None, None]))
            target = targets.for_service(key).get(s) if by == "service" else targets.defaults.get(s)
            segments[s] = Distribution(
                int(row[2 + 2 * i] or 0), median, p90, int(row[3 + 2 * i] or 0), target
            )
        out.append(SegmentFigures(key=key, incidents=int(row[1]), segments=segments))
    return sorted(out, key=lambda f: f.key)


def incident_list(db: Database, actor: Actor, scope: Scope, *, limit: int = 50) -> Sequence[Any]:
    """The newest incidents with their segment seconds, each linking to /112/kasus/{id}."""
    _check(actor, scope)
    with db.reading() as uow:
        return _repo(uow, None).incident_list(scope, limit=limit)


def segment_histogram(
    db: Database, actor: Actor, scope: Scope, segment: str = "total", *, bucket_s: float = 120.0
) -> list[tuple[float, int]]:
    """The distribution of one segment: (bucket start in seconds, incidents), empty buckets included."""
    _check(actor, scope)
    if segment not in SEGMENTS:
        raise ValidationFailed(f"Segmen harus salah satu dari {', '.join(SEGMENTS)}.", field="segment")
    with db.reading() as uow:
        return _histogram(_repo(uow, None), scope, segment, bucket_s)


def _histogram(
    repo: AnalyticsRepository, scope: Scope, segment: str, bucket_s: float
) -> list[tuple[float, int]]:
    found = dict(repo.segment_histogram(scope, segment, bucket_s))
    if not found:
        return []
    return [(b * bucket_s, found.get(b, 0)) for b in range(0, max(found) + 1)]


@dataclass(frozen=True)
class IncidentOverview:
    """The time-to-scene view of one request: group figures, one segment's histogram, the newest list."""

    segments: list[SegmentFigures]
    histogram: list[tuple[float, int]]
    incidents: Sequence[Any]


def incident_overview(
    db: Database,
    actor: Actor,
    scope: Scope,
    by: str = "service",
    segment: str = "total",
    *,
    bucket_s: float = 120.0,
    limit: int = 50,
    settings: Settings | None = None,
) -> IncidentOverview:
    """`segment_figures`, `segment_histogram` and `incident_list` in one read over the incident rollup (the
    same figures as calling each: tested equal)."""
    _check(actor, scope)
    by = _grouping(by)
    if segment not in SEGMENTS:
        raise ValidationFailed(f"Segmen harus salah satu dari {', '.join(SEGMENTS)}.", field="segment")
    with db.reading() as uow:
        repo = _repo(uow, settings)
        return IncidentOverview(
            segments=_segment_figures(repo, scope, by),
            histogram=_histogram(repo, scope, segment, bucket_s),
            incidents=list(repo.incident_list(scope, limit=limit)),
        )


def hotspots(db: Database, actor: Actor, scope: Scope, *, top: int = 200) -> list[tuple[str, int]]:
    """Cases per H3 cell (resolution 7) in the scope, busiest first: a GROUP BY over the case rollup, whose
    rows carry the case's cell at that resolution (coarsened in SQL when the row was written)."""
    _check(actor, scope)
    with db.reading() as uow:
        counted = _repo(uow, None).cells(scope)
    ranked = sorted(counted, key=lambda kv: (-kv[1], kv[0]))
    return [(cell, n) for cell, n in ranked if h3.is_valid_cell(cell)][:top]  # garbage in old data: skipped


@dataclass(frozen=True)
class Accuracy:
    """How accurate the data shown is: triage corrections, merges, location precision."""

    corrections: list[tuple[str, int, int]]  # service, cases, corrected after triage
    merges: dict[str, int]
    locations: list[tuple[str, int, float | None]]  # source, reports, mean stated accuracy (m)

    @property
    def corrected_share(self) -> float | None:
        """Share of all cases in scope whose service or priority was changed after triage."""
        total = sum(c[1] for c in self.corrections)
        return sum(c[2] for c in self.corrections) / total if total else None


def accuracy(db: Database, actor: Actor, scope: Scope) -> Accuracy:
    """The data-accuracy figures of the scope's period."""
    _check(actor, scope)
    with db.reading() as uow:
        repo = _repo(uow, None)
        corrections = [(str(s), int(n), int(c or 0)) for s, n, c in repo.corrections(scope)]
        merges = repo.event_counts(scope, ("case_merged", "report_merged", "case_unmerged"))
        locations = [
            (str(k), int(n), None if acc is None else float(acc))
            for k, n, acc in repo.location_sources(scope)
        ]
    return Accuracy(corrections=sorted(corrections), merges=merges, locations=sorted(locations))


def sensor_completeness(db: Database, actor: Actor, scope: Scope) -> dict[str, Any]:
    """Completeness and flagged share per sensor kind over the last day (the sensors' own quality report)."""
    _check(actor, scope)
    return sensor_queries.quality_report(db, hours=24)["kinds"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Freshness:
    """How current the open data is."""

    latest_case_change: datetime | None
    latest_event: datetime | None
    public_cases: int

    def age_s(self, now: datetime) -> float | None:
        """Seconds since the newest public case change."""
        return None if self.latest_case_change is None else (now - self.latest_case_change).total_seconds()


def open_data_freshness(db: Database, actor: Actor) -> Freshness:
    """The newest public change the open-data exports (/data/kasus.csv, .geojson) carry."""
    actor.require(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        return Freshness(*_repo(uow, None).freshness())


CHANGED_CASES = "kp_metric_cases"  # session.info key: the cases whose task or case rows were flushed


def _collect_flushed(session: Session, _context: Any) -> None:
    """after_flush: remember the cases whose task or case rows this flush wrote (ids assigned by now)."""
    changed: set[int] = session.info.setdefault(CHANGED_CASES, set())
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Task) and obj.case_id is not None:
            changed.add(obj.case_id)
        elif isinstance(obj, Case) and obj.id is not None:
            changed.add(obj.id)


def refresh_rollup(uow: UnitOfWork) -> None:
    """The `refresh_metrics` hook: just before a transaction commits, recompute the rollup rows of every
    case it changed — a task or case row written through the session, or an event appended to its log —
    so the narrow tables the figures read are committed with the change (docs/metrics.md, Scale)."""
    session = uow.session
    session.flush()  # pending task/case changes: collected by the after_flush listener, read back below
    case_ids = set(uow.events.case_ids) | session.info.pop(CHANGED_CASES, set())
    if case_ids:
        _repo(uow, None, reading=False).refresh(sorted(case_ids))
    uow.events.case_ids.clear()


def rebuild_rollup(db: Database, *, settings: Settings | None = None) -> tuple[int, int]:
    """Recompute the whole rollup from the tasks, cases and event log (`kotapintar analytics rebuild`);
    returns (task rows, incident rows)."""
    with db.transaction() as uow:
        repo = _repo(uow, settings, reading=False)
        counts = repo.rebuild()
        repo.rebuild_cases()
        return counts


def segment_summary(
    db: Database, by: str, period: str, since: datetime | None, until: datetime | None, tz: str
) -> list[dict[str, Any]]:
    """The `segment_summary` hook behind /api/v1/dispatch/segments (dispatch checked who reads): mean, p90
    and share within target of each segment per group, in SQL over the incident rollup."""
    with db.reading() as uow:
        repo = _repo(uow, None)
        offset = datetime.now(ZoneInfo(tz)).utcoffset()
        repo.tz, repo.offset_h = tz, (offset.total_seconds() / 3600 if offset is not None else 0.0)
        return repo.segment_summary(by, period, since, until, load_targets())


def install() -> None:
    """Register the rollup's refresh as the core's `refresh_metrics` hook (idempotent)."""
    hooks.refresh_metrics.register(refresh_rollup)
    hooks.segment_summary.register(segment_summary)
    if not event.contains(Session, "after_flush", _collect_flushed):
        event.listen(Session, "after_flush", _collect_flushed)
