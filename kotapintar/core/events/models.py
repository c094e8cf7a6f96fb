"""Tables of the event log: one hash chain per stream and its entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType


class EventStream(Base):
    """The anchor of one hash chain: its last sequence number and hash, locked while appending."""

    __tablename__ = "event_streams"

    stream: Mapped[str] = mapped_column(String(80), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class Event(Base):
    """One append-only entry of a log (a case's, a unit's or the system's), linked in a hash chain.

    `id` orders all events globally: it is the cursor the outbox readers (SSE, notifications,
    webhooks) tail, and only committed rows are ever visible to them.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    stream: Mapped[str] = mapped_column(String(80))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40), index=True)
    actor: Mapped[str] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("stream", "seq", name="uq_events_stream_seq"),)
