"""Reference data: regions, agencies and the service catalogue."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from kotapintar.catalog.models import Agency, Region, Service, Unit


class RegionRepository:
    """All SQL about administrative regions."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Region | None:
        """One region by its Kemendagri code."""
        return self.session.get(Region, code)

    def all(self, level: str | None = None, parent_prefix: str | None = None) -> Sequence[Region]:
        """Regions, optionally of one level and under one code."""
        stmt = select(Region)
        if level is not None:
            stmt = stmt.where(Region.level == level)
        if parent_prefix is not None:
            stmt = stmt.where(Region.code.like(f"{parent_prefix}.%"))
        return self.session.scalars(stmt.order_by(Region.code)).all()

    def upsert(self, region: Region) -> bool:
        """Insert or replace a region; True when it was new."""
        existing = self.session.get(Region, region.code)
        if existing is None:
            self.session.add(region)
            return True
        for column in Region.__table__.columns:
            setattr(existing, column.key, getattr(region, column.key))
        return False


class AgencyRepository:
    """All SQL about agencies."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Agency | None:
        """One agency by code."""
        return self.session.get(Agency, code)

    def all(self) -> Sequence[Agency]:
        """Every agency, by code."""
        return self.session.scalars(select(Agency).order_by(Agency.code)).all()

    def command_center(self) -> Agency | None:
        """The agency that runs the command center."""
        return self.session.scalars(select(Agency).where(Agency.command_center.is_(True))).first()

    def add(self, agency: Agency) -> None:
        """Store a new or changed agency."""
        self.session.merge(agency)


class ServiceRepository:
    """All SQL about the service catalogue."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Service | None:
        """One service by code."""
        return self.session.get(Service, code)

    def routing(self, code: str) -> tuple[str, str, str, bool] | None:
        """(name, priority, agency code, active) of a service, without loading the whole row."""
        row = (
            self.session.connection()
            .execute(
                select(Service.name, Service.priority, Service.agency_code, Service.active).where(
                    Service.code == code
                )
            )
            .first()
        )
        return (row.name, row.priority, row.agency_code, row.active) if row is not None else None

    def all(self, active_only: bool = True) -> Sequence[Service]:
        """The catalogue, by code."""
        stmt = select(Service)
        if active_only:
            stmt = stmt.where(Service.active.is_(True))
        return self.session.scalars(stmt.order_by(Service.code)).all()

    def add(self, service: Service) -> None:
        """Store a new or changed service."""
        self.session.merge(service)


class UnitRepository:
    """All SQL about units."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Unit | None:
        """One unit by code."""
        return self.session.get(Unit, code)

    def all(self, agency_code: str | None = None) -> Sequence[Unit]:
        """Units, optionally of one agency."""
        stmt = select(Unit)
        if agency_code is not None:
            stmt = stmt.where(Unit.agency_code == agency_code)
        return self.session.scalars(stmt.order_by(Unit.code)).all()

    def add(self, unit: Unit) -> None:
        """Store a new or changed unit."""
        self.session.merge(unit)
