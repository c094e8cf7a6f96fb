"""The public portal (/beranda): early warnings in force, links to report and track, the public map and list,
the agency scoreboard."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.catalog import service as catalog_service
from kotapintar.command_center import queries
from kotapintar.core.access.actors import PUBLIC
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.deps import ActorDep, ReadDbDep, SettingsDep
from kotapintar.core.http.pages import page_context, templates
from kotapintar.feedback import service as feedback_service
from kotapintar.metrics.ikm import IkmScore
from kotapintar.portal import case_pages
from kotapintar.portal.records import public_features
from kotapintar.sensors.warnings import active_warnings

router = APIRouter(include_in_schema=False)
router.include_router(case_pages.router)  # /kasus: the searchable list, its map and feed, one page per case
PERIODS = (7, 30, 90, 365)


@router.get("/beranda", response_class=HTMLResponse)
def portal_home(
    request: Request, db: ReadDbDep, settings: SettingsDep, actor: ActorDep, hari: int | None = None
) -> Response:
    """The public home: report, track, what is happening where, and how the agencies are doing."""
    days = hari if hari in PERIODS else 30
    page = case_service.list_cases(db, PUBLIC, CaseFilter(), limit=30)
    sensitive = {s.code for s in catalog_service.services(db, active_only=False) if s.sensitive}
    context = page_context(
        request,
        settings,
        actor,
        cases=page.items,
        sensitive=sensitive,
        names=queries.agency_names(db),
        board=queries.public_scoreboard(db, days),
        days=days,
        periods=PERIODS,
        tile_url=settings.tile_url,
        warnings=active_warnings(db),
        ikm_scores=_ikm(db, days),
    )
    return templates.TemplateResponse(request, "ui/portal.html", context)


def _ikm(db: Database, days: int) -> dict[str, IkmScore]:
    """The scoreboard's satisfaction column: IKM per agency over the period (issue 15)."""
    return feedback_service.ikm_table(db, "agency", since=utcnow() - timedelta(days=days))


@router.get("/beranda/lacak")
def track_redirect(ticket: Annotated[str, Query(max_length=40)] = "") -> Response:
    """The tracking form (GET, changes nothing): on to /lacak/{ticket}."""
    clean = "".join(ch for ch in ticket.strip().upper() if ch.isalnum() or ch == "-")
    return RedirectResponse(f"/lacak/{clean}" if clean else "/beranda", status_code=303)


@router.get("/beranda/peta.geojson")
def portal_map(db: ReadDbDep, limit: Annotated[int, Query(ge=1, le=5000)] = 2000) -> Response:
    """Open public cases for the portal map; sensitive ones at their desa's centre or left out."""
    features: list[dict[str, Any]] = public_features(db, open_only=True, limit=limit)
    body = json.dumps(
        {"type": "FeatureCollection", "features": features}, separators=(",", ":"), ensure_ascii=False
    )
    return Response(body, media_type="application/geo+json")
