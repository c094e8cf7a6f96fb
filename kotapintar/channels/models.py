"""Tables of intake channels: conversations, processed provider messages, reply subscriptions, notifications,
sender flags (spam/prank) and stored photos.

Phone numbers and chat ids live only here (and in `reporters`), never in events or public views.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kotapintar.cases import models as _cases_tables  # noqa: F401  (tables its foreign keys name)
from kotapintar.core.db.base import Base, BigId
from kotapintar.core.db.types import JSONType
from kotapintar.intake import models as _intake_tables  # noqa: F401  (tables its foreign keys name)


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
