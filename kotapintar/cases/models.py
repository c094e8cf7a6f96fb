"""Tables of cases: the incident, the reports merged into it, reporters (PII apart) and tasks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.catalog import models as _catalog_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType


class Reporter(Base):
    """Personal data of a reporter, kept apart from report text; shown only to roles allowed to see it."""

    __tablename__ = "reporters"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40), index=True)
    email: Mapped[str | None] = mapped_column(String(200))
    nik: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime]


class Case(Base):
    """One incident: the unit of work that reports merge into and the SOP drives."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket: Mapped[str | None] = mapped_column(String(40), unique=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"), index=True)
    priority: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    h3_cell: Mapped[str | None] = mapped_column(String(16), index=True)
    address: Mapped[str | None] = mapped_column(String(300))
    region_code: Mapped[str | None] = mapped_column(String(20), index=True)
    kecamatan_code: Mapped[str | None] = mapped_column(String(20), index=True)
    agency_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    reject_reason: Mapped[str | None] = mapped_column(Text)
    resolution: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    verified_at: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    # How the point was placed (of the first report): device accuracy in metres, and gps|map|manual|address.
    location_accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("ix_cases_status_priority_created", "status", "priority", "created_at"),
        Index("ix_cases_lon_lat", "lon", "lat"),
        # IKM's population (cases closed in the period, per agency or service) is counted from this index
        # alone; without it /supervisor and the public board scanned the whole cases table twice.
        Index(
            "ix_cases_closed",
            "closed_at",
            "agency_code",
            "service_code",
            sqlite_where=text("closed_at IS NOT NULL"),
            postgresql_where=text("closed_at IS NOT NULL"),
        ),
    )


class Report(Base):
    """One submission from one channel, as received; points at the case it belongs to."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    service_code: Mapped[str] = mapped_column(ForeignKey("services.code"))
    description: Mapped[str] = mapped_column(Text)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(300))
    channel: Mapped[str] = mapped_column(String(20))
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("reporters.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    external_id: Mapped[str | None] = mapped_column(String(200))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    media: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    received_at: Mapped[datetime]
    # How the point was placed: the device's stated accuracy (metres) and gps | map | manual | address.
    location_accuracy_m: Mapped[float | None] = mapped_column(Float)
    location_source: Mapped[str | None] = mapped_column(String(20))


class Task(Base):
    """One SOP step of one case, assigned to one agency (and optionally a unit), with a due time."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    step_id: Mapped[str] = mapped_column(String(80))
    title: Mapped[str] = mapped_column(String(300))
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    unit_code: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), index=True)
    due_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    # SOP runtime (issue 3): the engine's key of the task within its case, and the position it is for.
    task_key: Mapped[str | None] = mapped_column(String(200), index=True)
    position: Mapped[str | None] = mapped_column(String(40))
