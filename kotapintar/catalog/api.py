"""Reference data: agencies, services, regions (GeoJSON) and units."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kotapintar.catalog import service as catalog_service
from kotapintar.catalog.regions import regions_geojson
from kotapintar.core.http.deps import DbDep, UserDep

router = APIRouter(prefix="/api/v1", tags=["catalogue"])


class AgencyOut(BaseModel):
    """An agency."""

    code: str
    name: str
    short: str
    kind: str
    command_center: bool
    parent_code: str | None
    jurisdiction: list[str]


class ServiceOut(BaseModel):
    """A service of the catalogue."""

    code: str
    name: str
    name_en: str
    description: str
    group: str
    priority: str
    agency_code: str
    informed: list[str]
    emergency: bool
    sensitive: bool
    attributes: list[dict[str, Any]]


class UnitOut(BaseModel):
    """A response unit and where it is."""

    code: str
    name: str
    agency_code: str
    kind: str
    status: str
    lon: float | None
    lat: float | None
    base_name: str | None


@router.get("/agencies", response_model=list[AgencyOut])
def agencies(db: DbDep) -> list[AgencyOut]:
    """Every agency, internal OPD and external bodies."""
    return [AgencyOut.model_validate(a, from_attributes=True) for a in catalog_service.agencies(db)]


@router.get("/services", response_model=list[ServiceOut])
def services(db: DbDep) -> list[ServiceOut]:
    """The service catalogue (what can be reported)."""
    return [ServiceOut.model_validate(s, from_attributes=True) for s in catalog_service.services(db)]


@router.get("/regions", response_model=dict[str, Any])
def regions(
    db: DbDep,
    level: Annotated[str | None, Query(pattern="^(province|kabupaten|kecamatan|desa)$")] = None,
    parent: Annotated[str | None, Query(pattern=r"^\d{2}(\.\d{2}){0,2}$")] = None,
    simplify: Annotated[float, Query(ge=0, le=0.1, description="tolerance in degrees")] = 0.0,
) -> dict[str, Any]:
    """Regions as a GeoJSON FeatureCollection (lon, lat)."""
    return regions_geojson(db, level=level, parent=parent, simplify=simplify)


@router.get("/units", response_model=list[UnitOut])
def units(db: DbDep, actor: UserDep, agency: str | None = None) -> list[UnitOut]:
    """Units with their status and last position (staff only: live positions include police patrols)."""
    return [
        UnitOut.model_validate(u, from_attributes=True)
        for u in catalog_service.units(db, agency, actor=actor)
    ]
