"""What anyone may read without logging in: public cases as GeoJSON for maps and lists."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kotapintar.cases import public as public_view
from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.public import PublicCase
from kotapintar.cases.schemas import CaseSummary
from kotapintar.core.access.actors import PUBLIC
from kotapintar.core.http.bounds import IdPath
from kotapintar.core.http.deps import ReadDbDep

router = APIRouter(prefix="/api/v1/public", tags=["public"])


def feature_of(case: CaseSummary | PublicCase) -> dict[str, Any]:
    """A case as a GeoJSON Feature for the map (properties as the map module reads them)."""
    return {
        "type": "Feature",
        "id": case.id,
        "geometry": {"type": "Point", "coordinates": [case.lon, case.lat]}
        if case.lon is not None and case.lat is not None
        else None,
        "properties": {
            "id": case.id,
            "ticket": case.ticket,
            "service": case.service_code,
            "priority": case.priority,
            "status": case.status,
            "title": case.title,
            "kecamatan": case.kecamatan_code,
            "created_at": case.created_at.isoformat(),
            "url": f"/lacak/{case.ticket}" if case.ticket else None,
        },
    }


@router.get("/cases", response_model=dict[str, Any])
def public_cases(
    db: ReadDbDep,
    status: Annotated[str | None, Query(description="comma list")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 200,
) -> dict[str, Any]:
    """The newest public cases (never *rahasia* ones) as a GeoJSON FeatureCollection."""
    statuses = tuple(s for s in (status or "").split(",") if s)
    page = case_service.list_cases(db, PUBLIC, CaseFilter(statuses=statuses), limit=limit)
    return {"type": "FeatureCollection", "features": [feature_of(c) for c in page.items]}


@router.get("/cases/{case_id}", response_model=dict[str, Any])
def public_case(case_id: IdPath, db: ReadDbDep) -> dict[str, Any]:
    """One public case as a GeoJSON Feature (404 for confidential or unknown cases)."""
    return feature_of(public_view.public_case(db, case_id))
