"""Tables of emergency dispatch: 112 calls, unit assignments, the unit status log and ingest counters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases import models as _cases_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.catalog import models as _catalog_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType


class Call(Base):
    """One 112 call as handled by a call-taker; every call is kept and counted, genuine or not.

    `caller_number` is personal data: it never goes into events or public views.
    """

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    answered_at: Mapped[datetime | None]
    classified_at: Mapped[datetime | None]
    caller_number: Mapped[str | None] = mapped_column(String(40))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    location_text: Mapped[str | None] = mapped_column(String(300))
    region_code: Mapped[str | None] = mapped_column(String(20))
    service_code: Mapped[str | None] = mapped_column(String(60))
    answers: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    priority: Mapped[str | None] = mapped_column(String(2))
    classification: Mapped[str | None] = mapped_column(String(20), index=True)
    notes: Mapped[str | None] = mapped_column(Text)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    operator: Mapped[str] = mapped_column(String(120))
    # The console's idempotency key of the call form: a retried "new call" finds this row again.
    client_key: Mapped[str | None] = mapped_column(String(64), unique=True, index=True)


class UnitAssignment(Base):
    """A unit sent to a case: from dispatch until it clears; an open one (cleared_at null) is current."""

    __tablename__ = "unit_assignments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    dispatched_at: Mapped[datetime]
    dispatched_by: Mapped[str] = mapped_column(String(120))
    eta_s: Mapped[float | None] = mapped_column(Float)
    method: Mapped[str | None] = mapped_column(String(20))
    override_reason: Mapped[str | None] = mapped_column(Text)
    cleared_at: Mapped[datetime | None]


class UnitStatusLog(Base):
    """Every status change of a unit with its time and position (the board's history, out-of-order checks)."""

    __tablename__ = "unit_status_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    unit_code: Mapped[str] = mapped_column(ForeignKey("units.code"))
    status: Mapped[str] = mapped_column(String(20))
    previous: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    source: Mapped[str] = mapped_column(String(20))

    __table_args__ = (Index("ix_unit_status_log_unit_at", "unit_code", "at"),)


class DispatchCounter(Base):
    """A named counter of the dispatch ingest (e.g. `avl.rejected.stale`), shared by HTTP and MQTT."""

    __tablename__ = "dispatch_counters"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_reason: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime]
