"""Read models of the UI pages, built from the UI repository; each checks who reads first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kotapintar.analytics import service as analytics
from kotapintar.command_center.filters import QueueFilter
from kotapintar.command_center.repository import UiRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import PermissionDenied
from kotapintar.metrics.definitions import TaskFigures
from kotapintar.triage import corrections as triage_corrections

MAP_LIMIT_MAX = 20000
PRIORITY_ORDER = ("P1", "P2", "P3", "P4")


def _ui(uow: Any) -> UiRepository:
    return UiRepository(uow.session)


def _require_all(actor: Actor) -> None:
    actor.require(Permission.VIEW_ALL_CASES)


@dataclass(frozen=True)
class QueueItem:
    """One line of the operator queue."""

    id: int
    ticket: str | None
    title: str
    priority: str
    status: str
    service_code: str
    kecamatan_code: str | None
    agency_code: str | None
    due_at: datetime | None
    created_at: datetime
    needs_review: bool = False
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(
        cls,
        row: Any,
        *,
        due_at: datetime | None = None,
        needs_review: bool = False,
        reasons: tuple[str, ...] = (),
    ) -> QueueItem:
        """The queue's columns of a case row; `due_at` overrides the case's own (the running task's)."""
        return cls(
            id=int(row.id),
            ticket=row.ticket,
            title=row.title,
            priority=row.priority,
            status=row.status,
            service_code=row.service_code,
            kecamatan_code=row.kecamatan_code,
            agency_code=row.agency_code,
            due_at=due_at or row.due_at,
            created_at=row.created_at,
            needs_review=needs_review,
            reasons=reasons,
        )


def queue(
    db: Database, actor: Actor, flt: QueueFilter, *, limit: int = 100, offset: int = 0
) -> list[QueueItem]:
    """Open cases in work order; the due time is the running step's (an open task's) when there is one."""
    _require_all(actor)
    with db.reading() as uow:
        rows = _ui(uow).queue(flt, limit=limit, offset=offset)
        task_due = _ui(uow).due_of_open_tasks([int(r.id) for r in rows])
    items = [QueueItem.of(r, due_at=task_due.get(int(r.id))) for r in rows]
    far = datetime.max.replace(tzinfo=UTC)
    items.sort(
        key=lambda i: (
            PRIORITY_ORDER.index(i.priority) if i.priority in PRIORITY_ORDER else 9,
            (i.due_at if i.due_at.tzinfo else i.due_at.replace(tzinfo=UTC)) if i.due_at else far,
            i.id,
        )
    )
    return items


def triage_queue(db: Database, actor: Actor, *, limit: int = 100) -> list[QueueItem]:
    """Cases triage was unsure about: the triage engineer's queue, shown with the queue's columns."""
    _require_all(actor)
    flagged = triage_corrections.triage_queue(db, actor, limit=limit)
    if flagged:
        ids = tuple(item.case_id for item in flagged)
        with db.reading() as uow:
            rows = {int(r.id): r for r in _ui(uow).queue(QueueFilter(statuses=(), case_ids=ids), limit=limit)}
        return [
            QueueItem.of(r, needs_review=True, reasons=tuple(item.reasons))
            for item in flagged
            if (r := rows.get(item.case_id)) is not None
        ]
    return _needs_review_fallback(db, limit)


def _needs_review_fallback(db: Database, limit: int) -> list[QueueItem]:
    """Received cases whose triage suggestion says needs_review (when the triage queue is empty)."""
    with db.reading() as uow:
        flags = _ui(uow).triage_flags(limit=limit * 3)
        ids = []
        for case_id, payload in flags:
            if isinstance(payload, dict) and payload.get("needs_review") and case_id not in ids:
                ids.append(int(case_id))
        if not ids:
            return []
        rows = _ui(uow).queue(QueueFilter(statuses=("received",), case_ids=tuple(ids[:limit])), limit=limit)
    return [QueueItem.of(r, needs_review=True) for r in rows]


def counts(db: Database, actor: Actor, flt: QueueFilter) -> dict[str, int]:
    """Open cases per priority for the header of the queue."""
    _require_all(actor)
    with db.reading() as uow:
        found = _ui(uow).count_by_priority(flt)
    return {p: found.get(p, 0) for p in PRIORITY_ORDER}


def map_features(db: Database, actor: Actor, flt: QueueFilter, *, limit: int) -> list[dict[str, Any]]:
    """Compact GeoJSON features of cases for the operator map (most urgent first, at most `limit`)."""
    _require_all(actor)
    limit = max(1, min(limit, MAP_LIMIT_MAX))
    with db.reading() as uow:
        rows = _ui(uow).map_points(flt, limit=limit)
    return [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [round(r.lon, 5), round(r.lat, 5)]},
            "properties": {
                "id": r.id,
                "priority": r.priority,
                "status": r.status,
                "title": r.title,
                "url": f"/operator/kasus/{r.id}",
            },
        }
        for r in rows
    ]


def case_titles(db: Database, actor: Actor, ids: list[int]) -> dict[int, tuple[str | None, str, str]]:
    """(ticket, title, status) of some cases (possible duplicates)."""
    _require_all(actor)
    with db.reading() as uow:
        return _ui(uow).titles(ids)


@dataclass(frozen=True)
class InboxItem:
    """One task in an agency inbox."""

    id: int
    case_id: int
    title: str
    step_id: str
    status: str
    due_at: datetime | None
    created_at: datetime
    ticket: str | None
    priority: str
    case_status: str
    task_key: str | None = None
    answer_required: bool = False  # a LAPOR! answer step: drafted by the officer, approved by the pejabat
    answer_draft: str | None = None
    completed_at: datetime | None = None  # when the task ended: its clock stops there


def inbox(db: Database, actor: Actor, *, open_only: bool = True, limit: int = 200) -> list[InboxItem]:
    """The actor's agency's tasks (a liaison's body only), soonest due first."""
    actor.require(Permission.WORK_OWN_TASKS)
    if actor.agency_code is None:
        raise PermissionDenied("Hanya pengguna instansi yang memiliki kotak tugas / agency users only.")
    statuses = ("pending", "accepted", "in_progress", "escalated") if open_only else ()
    with db.reading() as uow:
        rows = _ui(uow).inbox(actor.agency_code, statuses, limit=limit)
    return [
        InboxItem(
            id=int(r.id),
            case_id=int(r.case_id),
            title=r.title,
            step_id=r.step_id,
            status=r.status,
            due_at=r.due_at,
            created_at=r.created_at,
            ticket=r.ticket,
            priority=r.priority,
            case_status=r.case_status,
            task_key=r.task_key,
            answer_required=bool((r.data or {}).get("answer_required")),
            answer_draft=(r.data or {}).get("answer_draft"),
            completed_at=r.completed_at,
        )
        for r in rows
    ]


def performance(
    db: Database, actor: Actor, days: int, agency_code: str | None = None
) -> dict[str, TaskFigures]:
    """Per agency: the period's task figures (tasks created in the last `days` days) and the backlog now;
    computed by `kotapintar.analytics` like every other surface."""
    scope = analytics.scope_of_days(days, agency=agency_code)
    return {f.key: f for f in analytics.task_figures(db, actor, scope, "agency")}


def late_tasks(db: Database, actor: Actor, agency_code: str | None, *, limit: int = 200) -> list[Any]:
    """Open tasks past due (all agencies, or one), for the supervisor's drill-down."""
    return analytics.late_tasks(db, actor, agency_code, limit=limit)


def escalations(db: Database, actor: Actor, *, limit: int = 50) -> list[Any]:
    """Escalations on open cases waiting for a decision."""
    _require_all(actor)
    with db.reading() as uow:
        return list(_ui(uow).escalations(limit=limit))


def agency_names(db: Database) -> dict[str, str]:
    """code → short name of every agency (public facts)."""
    with db.reading() as uow:
        return {a.code: a.short or a.name for a in _ui(uow).agencies()}


def public_scoreboard(db: Database, days: int) -> list[dict[str, Any]]:
    """What the public may read per agency (a whitelist): tasks, late, on-time share, cases resolved and the
    median time to resolve — the supervisor's figures, from the same queries."""
    names = agency_names(db)
    rows = analytics.public_scoreboard(db, days)
    return sorted(
        (
            {
                "code": r.code,
                "name": names.get(r.code, r.code),
                "tasks": r.tasks,
                "late": r.late,
                "on_time_share": r.on_time_share,
                "resolved": r.resolved,
                "median_resolve_s": r.median_resolve_s,
                "satisfaction": r.satisfaction,
            }
            for r in rows
        ),
        key=lambda b: str(b["name"]),
    )
