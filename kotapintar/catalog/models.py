"""Tables of the city's reference data: regions, agencies, services and units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.core.db.base import Base
from kotapintar.core.db.types import JSONType


class Region(Base):
    """An administrative area (province, kabupaten/kota, kecamatan, desa/kelurahan) with its boundary."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(20), index=True)
    parent_code: Mapped[str | None] = mapped_column(String(20), index=True)
    geometry: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    label_lon: Mapped[float | None] = mapped_column(Float)
    label_lat: Mapped[float | None] = mapped_column(Float)
    min_lon: Mapped[float | None] = mapped_column(Float)
    min_lat: Mapped[float | None] = mapped_column(Float)
    max_lon: Mapped[float | None] = mapped_column(Float)
    max_lat: Mapped[float | None] = mapped_column(Float)
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str | None] = mapped_column(String(300))


class Agency(Base):
    """Who acts on a case: an OPD of the pemda or an external body, with its jurisdiction."""

    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    short: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(20))  # internal | external
    command_center: Mapped[bool] = mapped_column(Boolean, default=False)
    parent_code: Mapped[str | None] = mapped_column(String(40))
    jurisdiction: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))


class Service(Base):
    """A kind of problem citizens can report (Open311 service) and how it is handled by default."""

    __tablename__ = "services"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    description_en: Mapped[str] = mapped_column(Text, default="")
    group: Mapped[str] = mapped_column(String(40))
    priority: Mapped[str] = mapped_column(String(2))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"))
    informed: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    keywords: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    dedupe: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    attributes: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Unit(Base):
    """A response resource (ambulance, fire truck, patrol car, team) with its status and position."""

    __tablename__ = "units"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    status: Mapped[str] = mapped_column(String(20), default="available")
    base_name: Mapped[str | None] = mapped_column(String(200))
    base_lon: Mapped[float | None] = mapped_column(Float)
    base_lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    crew: Mapped[int] = mapped_column(Integer, default=0)
    capabilities: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    mutual_aid: Mapped[bool] = mapped_column(Boolean, default=False)
    position_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]
