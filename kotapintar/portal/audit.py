"""The public audit page (/audit): the latest signed checkpoint of the event log, and the file itself.

Anyone may keep copies of `/audit/checkpoint.json`; with one of them, `kotapintar audit verify --checkpoint`
proves that no event recorded before it has been changed, removed or reordered since.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from kotapintar.core.events.checkpoint import read_checkpoint
from kotapintar.core.http.deps import ActorDep, SettingsDep
from kotapintar.core.http.pages import page_context, templates

router = APIRouter(include_in_schema=False)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, settings: SettingsDep, actor: ActorDep) -> Response:
    """The latest signed root, event count and time, and how to verify them."""
    path = settings.audit_checkpoint_path
    checkpoint = read_checkpoint(path) if path.is_file() else None
    context = page_context(request, settings, actor, checkpoint=checkpoint)
    return templates.TemplateResponse(request, "ui/audit.html", context)


@router.get("/audit/checkpoint.json")
def audit_checkpoint(settings: SettingsDep) -> Response:
    """The latest signed checkpoint as published by the worker (404 before the first one)."""
    path = settings.audit_checkpoint_path
    if not path.is_file():
        return Response(
            '{"error": {"code": "not_found", "message": "Belum ada checkpoint / no checkpoint yet.", "details": {}}}',
            status_code=404,
            media_type="application/json",
        )
    return Response(path.read_bytes(), media_type="application/json", headers={"Cache-Control": "no-cache"})
