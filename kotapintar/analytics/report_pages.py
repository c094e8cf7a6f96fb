"""Downloads of the kept monthly reports (the worker's scheduled ones, listed on /supervisor)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kotapintar.analytics import report_store
from kotapintar.core.http.deps import ActorDep, DbDep
from kotapintar.core.http.pages import SUPERVISOR_ROLES, require_roles

router = APIRouter(include_in_schema=False)


def _download(request: Request, db: DbDep, actor: ActorDep, report_id: int, kind: str) -> Response:
    require_roles(request, actor, SUPERVISOR_ROLES)
    assert actor is not None
    name, data = report_store.fetch(db, actor, report_id, kind)
    return Response(
        data,
        media_type="application/pdf" if kind == "pdf" else "application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/analitik/arsip/{report_id}/pdf")
def stored_pdf(request: Request, db: DbDep, actor: ActorDep, report_id: int) -> Response:
    """A kept monthly report's PDF, exactly as the worker generated it."""
    return _download(request, db, actor, report_id, "pdf")


@router.get("/analitik/arsip/{report_id}/csv")
def stored_csv(request: Request, db: DbDep, actor: ActorDep, report_id: int) -> Response:
    """A kept monthly report's tables, one CSV each, in a zip."""
    return _download(request, db, actor, report_id, "zip")
