"""Tables of triage: well-known places of the deployment (the gazetteer) and learned routing overrides.

The composite index on cases (h3_cell, created_at) serves the duplicate search: candidate cases are those
in a ring of H3 cells around the new report and inside the service's time window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases.models import Case
from kotapintar.catalog import models as _catalog_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType


class Place(Base):
    """A well-known place people name in reports (school, market, puskesmas, bridge, jalan) and its point."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(30))  # sekolah | pasar | puskesmas | jembatan | jalan | ...
    aliases: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    region_code: Mapped[str | None] = mapped_column(String(20))  # kecamatan/desa the deployment says
    source: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("name", "kind", name="uq_places_name_kind"),)


class RoutingOverride(Base):
    """A routing correction learned from a `bukan_wewenang` rejection: service + region -> agency."""

    __tablename__ = "routing_overrides"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    region_code: Mapped[str] = mapped_column(String(20))  # kecamatan or desa code; "*" for everywhere
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    learned_by: Mapped[str] = mapped_column(String(120))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    created_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("service_code", "region_code", name="uq_routing_overrides_service_code"),
    )


# Duplicate search: ring of H3 cells x time window (see kotapintar/triage/duplicates.py).
Index("ix_cases_h3_cell_created_at", Case.h3_cell, Case.created_at)
