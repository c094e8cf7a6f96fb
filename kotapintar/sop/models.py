"""Tables of the SOP runtime: published (immutable) SOP versions and the running SOP instance of each case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases import models as _cases_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType


class SopVersion(Base):
    """One published version of an SOP: never changed after publishing, a new version is a new row."""

    __tablename__ = "sop_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)  # the YAML text as published (parsed again on load)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONType)  # the validated spec as JSON, for the API
    published_at: Mapped[datetime]
    published_by: Mapped[str] = mapped_column(String(120))

    __table_args__ = (UniqueConstraint("code", "version", name="uq_sop_versions_code_version"),)


class SopInstance(Base):
    """The SOP run of one case: which version it is pinned to and the engine's state (with schema version)."""

    __tablename__ = "sop_instances"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    sop_code: Mapped[str] = mapped_column(String(60), index=True)
    sop_version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Timer(Base):
    """A thing to do at a due time (SLA due, reminder, escalation), claimed by a scheduler loop."""

    __tablename__ = "timers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    due_at: Mapped[datetime] = mapped_column(index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    created_at: Mapped[datetime]
    # SOP runtime (issue 3): failed firings so far (a failing timer is retried later, not lost).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
