"""Web pages that draw an SOP the way a pemda prints it (PermenPANRB 35/2012) and a case's SOP progress."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kotapintar.catalog import service as catalog_service
from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.core.http.templating import make_templates
from kotapintar.sop import library
from kotapintar.sop import tasks as sop_tasks
from kotapintar.sop.render import flowchart_pages

router = APIRouter(tags=["pages"], include_in_schema=False)
templates = make_templates()


def _context(request: Request, settings: Any, **extra: Any) -> dict[str, Any]:
    return {
        "kabupaten": "Kabupaten Kapuas" if settings.region_code == "62.03" else settings.region_code,
        "nav_items": [("/", "nav.home", False), ("/sop", "sop.nav", request.url.path == "/sop")],
        **extra,
    }


@router.get("/sop", response_class=HTMLResponse)
def sop_index(request: Request, db: DbDep, settings: SettingsDep) -> HTMLResponse:
    """Every published SOP, newest version each."""
    return templates.TemplateResponse(
        request, "sop/index.html", _context(request, settings, sops=library.list_sops(db))
    )


@router.get("/sop/{code}", response_class=HTMLResponse)
def sop_page(
    request: Request, code: str, db: DbDep, settings: SettingsDep, version: int | None = None
) -> HTMLResponse:
    """One SOP: identity table, then the flowchart pages (the SVGs load as images: no inline styles, CSP)."""
    view, spec = library.get_spec(db, code, version)
    pages = len(flowchart_pages(spec))
    context = _context(
        request,
        settings,
        view=view,
        spec=spec,
        pages=range(1, pages + 1),
        versions=library.list_versions(db, code),
    )
    return templates.TemplateResponse(request, "sop/sop.html", context)


@router.get("/sop/case/{case_id}", response_class=HTMLResponse)
def case_sop_page(
    request: Request, case_id: int, db: DbDep, settings: SettingsDep, actor: ActorDep
) -> HTMLResponse:
    """A case's SOP: each step done, running, waiting or late, with its due time and agencies."""
    progress = sop_tasks.case_sop_progress(db, actor, case_id)
    _, spec = library.get_spec(db, progress.sop_code, progress.sop_version)
    names = {a.code: a.short or a.name for a in catalog_service.agencies(db)}  # names, never codes (issue 20)
    context = _context(
        request, settings, progress=progress, sop_title=spec.identitas.judul, agency_names=names
    )
    return templates.TemplateResponse(request, "sop/case.html", context)
