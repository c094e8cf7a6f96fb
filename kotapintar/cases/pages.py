"""Server-rendered pages of the spine: the live page of incoming cases and public ticket tracking."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.core.access.actors import PUBLIC
from kotapintar.core.events.types import EventType
from kotapintar.core.http.deps import DbDep, SettingsDep
from kotapintar.core.http.templating import make_templates

router = APIRouter(include_in_schema=False)
templates = make_templates()


def base_context(request: Request, settings: Any, **extra: Any) -> dict[str, Any]:
    """What every page needs: the kabupaten's name and the navigation."""
    return {
        "kabupaten": "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code,
        "nav_items": [("/", "nav.home", request.url.path == "/"), ("/docs", "live_page.api_docs", False)],
        **extra,
    }


@router.get("/", response_class=HTMLResponse)
def live_page(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """Incoming cases, live: a map and a list that update as events are committed."""
    page = case_service.list_cases(db, PUBLIC, CaseFilter(), limit=50)
    context = base_context(
        request,
        settings,
        cases=page.items,
        statuses=list(CaseStatus),
        live_url="/api/v1/stream",
        # The stream names each event by its type; live.js listens to the names it is given.
        live_events=",".join(t.value for t in EventType),
    )
    return templates.TemplateResponse(request, "pages/live.html", context)
