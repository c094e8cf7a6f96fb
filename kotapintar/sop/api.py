"""Published SOPs: list, versions, one version as JSON, and the PermenPANRB flowchart as SVG."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from kotapintar.core.errors import NotFound
from kotapintar.core.http.deps import DbDep
from kotapintar.sop import library as sop_library
from kotapintar.sop.render import flowchart_pages

router = APIRouter(prefix="/api/v1/sop", tags=["sop"])


@router.get("")
def list_sops(db: DbDep) -> list[dict[str, Any]]:
    """The newest published version of every SOP (SOPs are public documents)."""
    return [v.__dict__ for v in sop_library.list_sops(db)]


@router.get("/{code}/versions")
def versions(code: str, db: DbDep) -> list[dict[str, Any]]:
    """Every published version of one SOP, oldest first."""
    found = sop_library.list_versions(db, code)
    if not found:
        raise NotFound(f"SOP '{code}' belum diterbitkan.", code="sop_not_found")
    return [v.__dict__ for v in found]


@router.get("/{code}")
def get_sop(code: str, db: DbDep, version: int | None = None) -> dict[str, Any]:
    """One version (newest by default) as JSON: identity, actors, steps, escalation, closure."""
    view, spec = sop_library.get_spec(db, code, version)
    return {**view.__dict__, "spec": spec.model_dump(mode="json", by_alias=True)}


@router.get("/{code}/flowchart/{page}.svg")
def flowchart(code: str, page: int, db: DbDep, version: int | None = None) -> Response:
    """One page of the SOP table with its flowchart symbols (PermenPANRB 35/2012), as SVG."""
    _view, spec = sop_library.get_spec(db, code, version)
    pages = flowchart_pages(spec)
    if not 1 <= page <= len(pages):
        raise NotFound(f"SOP '{code}' hanya punya {len(pages)} halaman bagan.", code="page_not_found")
    return Response(
        pages[page - 1], media_type="image/svg+xml", headers={"Cache-Control": "public, max-age=300"}
    )
