"""The supervisor view (/supervisor): all agencies side by side over a period, late cases, escalations."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kotapintar.analytics import report_store
from kotapintar.command_center import queries
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.core.http.pages import SUPERVISOR_ROLES, page_context, require_roles, templates
from kotapintar.feedback import service as feedback_service

router = APIRouter(include_in_schema=False)
PERIODS = (1, 7, 30, 90, 365)


def _last_month(tz: str) -> str:
    """The previous local month (YYYY-MM): the one a monthly meeting looks back on."""
    first = utcnow().astimezone(ZoneInfo(tz)).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _period(value: int | None) -> int:
    return value if value in PERIODS else 30


@router.get("/supervisor", response_class=HTMLResponse)
def supervisor_page(
    request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep, hari: int | None = None
) -> Response:
    """Per agency (kotapintar.analytics, like every surface): backlog, late, on-time share, median/p90 time
    to accept and to complete; escalations."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    days = _period(hari)
    perf = queries.performance(db, actor, days)
    names = queries.agency_names(db)
    rows = sorted(perf.values(), key=lambda p: (-p.late_now, -p.late, -p.open_now, names.get(p.key, p.key)))
    context = page_context(
        request,
        settings,
        actor,
        rows=rows,
        names=names,
        days=days,
        periods=PERIODS,
        escalations=queries.escalations(db, actor),
        report_month=_last_month(settings.timezone),
        stored_reports=report_store.listing(db, actor) if actor is not None else [],
        live_url="/api/v1/stream",
        **_ikm(db, days),
    )
    return templates.TemplateResponse(request, "ui/supervisor.html", context)


def _ikm(db: Database, days: int) -> dict[str, object]:
    """The IKM block (issue 15): per agency and overall over the period."""
    since = utcnow() - timedelta(days=days)
    overall = feedback_service.ikm_table(db, "all", since=since).get("all")
    return {"ikm_scores": feedback_service.ikm_table(db, "agency", since=since), "ikm_overall": overall}


@router.get("/supervisor/terlambat", response_class=HTMLResponse)
def late_page(
    request: Request, db: DbDep, settings: SettingsDep, actor: ActorDep, instansi: str | None = None
) -> Response:
    """The late tasks (of one agency or all), longest overdue first, each linked to its case."""
    require_roles(request, actor, SUPERVISOR_ROLES)
    names = queries.agency_names(db)
    context = page_context(
        request,
        settings,
        actor,
        rows=queries.late_tasks(db, actor, instansi or None),
        names=names,
        agency=instansi or "",
        now=utcnow(),
    )
    return templates.TemplateResponse(request, "ui/late.html", context)
