"""Tables of the SOP runtime: published (immutable) SOP versions and the running SOP instance of each case."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.store.tables import Base, BigId
from kotapintar.store.types import JSONType


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
