"""Reading the city's reference data for pages and routers: regions, agencies, services and units.

Reference data is public within the staff screens; these reads exist so that pages and routers never touch a
repository (the layer rule), and so a later cache has one place to live.
"""

from __future__ import annotations

from collections.abc import Sequence

from kotapintar.catalog.models import Agency, Region, Service, Unit
from kotapintar.catalog.repository import (
    AgencyRepository,
    RegionRepository,
    ServiceRepository,
    UnitRepository,
)
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database


def agencies(db: Database) -> Sequence[Agency]:
    """Every agency, in the repository's order."""
    with db.reading() as uow:
        return uow.repo(AgencyRepository).all()


def agency_labels(db: Database) -> dict[str, str]:
    """code → the name a person reads (short name, else full name): screens show these, never bare codes."""
    return {a.code: a.short or a.name for a in agencies(db)}


def agency(db: Database, code: str | None) -> Agency | None:
    """One agency by code (None for no code or an unknown one)."""
    if not code:
        return None
    with db.reading() as uow:
        return uow.repo(AgencyRepository).get(code)


def services(db: Database, *, active_only: bool = True) -> Sequence[Service]:
    """The service catalogue (only the services open for reports unless `active_only` is False)."""
    with db.reading() as uow:
        return uow.repo(ServiceRepository).all(active_only=active_only)


def service(db: Database, code: str) -> Service | None:
    """One service by code."""
    with db.reading() as uow:
        return uow.repo(ServiceRepository).get(code)


def regions(db: Database, level: str) -> Sequence[Region]:
    """Every region of one level (kecamatan, desa …)."""
    with db.reading() as uow:
        return uow.repo(RegionRepository).all(level=level)


def units(db: Database, agency_code: str | None = None, *, actor: Actor | None = None) -> Sequence[Unit]:
    """Every unit, or one agency's units; an `actor` without dispatch rights sees its own agency's only."""
    with db.reading() as uow:
        rows = uow.repo(UnitRepository).all(agency_code)
    if actor is None or actor.can(Permission.DISPATCH_UNITS) or actor.can(Permission.VIEW_ALL_CASES):
        return rows
    return [u for u in rows if actor.agency_code is not None and u.agency_code == actor.agency_code]
