"""Tables of intake: media files attached to reports, flags raised against abusive senders, and the
subscription a reporter makes (by submitting on a channel) to hear of the case's progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases import models as _cases_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId


class SenderFlag(Base):
    """An operator's mark that a sender sent spam or a prank; counted, never deleting their reports."""

    __tablename__ = "channel_sender_flags"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str] = mapped_column(String(200), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    flagged_by: Mapped[str] = mapped_column(String(120))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class MediaFile(Base):
    """A stored photo: re-encoded without metadata, with a thumbnail; `token` is its unguessable URL name."""

    __tablename__ = "media_files"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    original_type: Mapped[str] = mapped_column(String(40))
    original_bytes: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    thumb_bytes: Mapped[int] = mapped_column(Integer)
    confidential: Mapped[bool] = mapped_column(Boolean, default=False)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"))
    channel: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime]


class Subscription(Base):
    """Where status changes of a case go: the channel and address (phone, chat id, email) of a reporter."""

    __tablename__ = "channel_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
