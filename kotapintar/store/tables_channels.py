"""Tables of intake channels: conversations, processed provider messages, reply subscriptions, notifications,
sender flags (spam/prank) and stored photos.

Phone numbers and chat ids live only here (and in `reporters`), never in events or public views.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.store.tables import Base, BigId
from kotapintar.store.types import JSONType


class Conversation(Base):
    """The dialogue state of one sender on one channel (what the bot has asked and what it knows)."""

    __tablename__ = "channel_conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    sender: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(30))
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime]

    __table_args__ = (UniqueConstraint("channel", "sender", name="uq_channel_conversations_channel_sender"),)


class ChannelMessage(Base):
    """A provider message already handled: a webhook retry with the same id gets the same answer."""

    __tablename__ = "channel_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    provider_id: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    replies: Mapped[list[Any]] = mapped_column(JSONType, default=list)
    deliveries: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (
        UniqueConstraint("channel", "provider_id", name="uq_channel_messages_channel_provider_id"),
    )


class Subscription(Base):
    """Where status changes of a case go: the channel and address (phone, chat id, email) of a reporter."""

    __tablename__ = "channel_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    report_id: Mapped[int | None] = mapped_column(ForeignKey("reports.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    address: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class Notification(Base):
    """One status message for one subscription, held back until `due_at` (quiet hours), then sent once."""

    __tablename__ = "channel_notifications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(Integer)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("channel_subscriptions.id"), index=True)
    text: Mapped[str] = mapped_column(String(1000))
    due_at: Mapped[datetime] = mapped_column(index=True)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id", name="uq_channel_notifications_event_id"),
    )


class ChannelCursor(Base):
    """How far a background reader (the notifier) has read the events table."""

    __tablename__ = "channel_cursors"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


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
