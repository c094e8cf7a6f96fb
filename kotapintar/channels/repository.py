"""SQL of the intake channels: conversations, processed messages, subscriptions, notifications, flags, media."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case
from kotapintar.channels.models import ChannelCursor, ChannelMessage, Conversation, Notification
from kotapintar.intake.models import Subscription


class ChannelRepository:
    """Queries and writes of the channel tables, over the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # --- provider messages (webhook idempotency)
    def message(self, channel: str, provider_id: str, *, for_update: bool = False) -> ChannelMessage | None:
        """The processed message with this provider id, if any."""
        stmt = select(ChannelMessage).where(
            ChannelMessage.channel == channel, ChannelMessage.provider_id == provider_id
        )
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def claim_message(self, channel: str, provider_id: str, now: datetime) -> ChannelMessage:
        """Record a provider message as being handled (the unique key refuses a second claim)."""
        row = ChannelMessage(
            channel=channel, provider_id=provider_id, received_at=now, replies=[], deliveries=1
        )
        self.session.add(row)
        self.session.flush()
        return row

    def forget_message(self, channel: str, provider_id: str) -> None:
        """Drop a claim whose handling failed, so the provider's retry is handled afresh."""
        self.session.execute(
            delete(ChannelMessage).where(
                ChannelMessage.channel == channel, ChannelMessage.provider_id == provider_id
            )
        )

    # --- conversations
    def conversation(self, channel: str, sender: str, *, for_update: bool = False) -> Conversation | None:
        """The dialogue of one sender on one channel."""
        stmt = select(Conversation).where(Conversation.channel == channel, Conversation.sender == sender)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def save_conversation(
        self, channel: str, sender: str, state: str, data: dict[str, Any], now: datetime
    ) -> Conversation:
        """Create or update the dialogue of one sender."""
        row = self.conversation(channel, sender, for_update=True)
        if row is None:
            row = Conversation(channel=channel, sender=sender, state=state, data=data, updated_at=now)
            self.session.add(row)
        else:
            row.state, row.data, row.updated_at = state, dict(data), now
        self.session.flush()
        return row

    # --- subscriptions and notifications
    def add_notification(self, event_id: int, subscription_id: int, text: str, due_at: datetime) -> bool:
        """Queue one message unless this event was already queued for this subscription."""
        exists = self.session.scalars(
            select(Notification.id).where(
                Notification.event_id == event_id, Notification.subscription_id == subscription_id
            )
        ).first()
        if exists is not None:
            return False
        self.session.add(
            Notification(event_id=event_id, subscription_id=subscription_id, text=text, due_at=due_at)
        )
        self.session.flush()
        return True

    def due_notifications(
        self, now: datetime, limit: int = 200
    ) -> Sequence[tuple[Notification, Subscription]]:
        """Unsent messages whose time has come, oldest first, with where they go."""
        rows = self.session.execute(
            select(Notification, Subscription)
            .join(Subscription, Subscription.id == Notification.subscription_id)
            .where(Notification.sent_at.is_(None), Notification.due_at <= now)
            .order_by(Notification.id)
            .limit(limit)
            .with_for_update(of=Notification, skip_locked=True)
        ).all()
        return [(n, s) for n, s in rows]

    def cursor(self, name: str) -> int | None:
        """How far the reader `name` has read the events table; None when it never read."""
        row = self.session.get(ChannelCursor, name)
        return row.last_event_id if row else None

    def move_cursor(self, name: str, last_event_id: int, now: datetime) -> None:
        """Remember how far the reader `name` has read."""
        row = self.session.get(ChannelCursor, name, with_for_update=True)
        if row is None:
            self.session.add(ChannelCursor(name=name, last_event_id=last_event_id, updated_at=now))
        elif last_event_id > row.last_event_id:
            row.last_event_id, row.updated_at = last_event_id, now
        self.session.flush()

    def cases(self, case_ids: Sequence[int]) -> dict[int, Case]:
        """Cases by id."""
        if not case_ids:
            return {}
        return {c.id: c for c in self.session.scalars(select(Case).where(Case.id.in_(case_ids)))}

    # --- media
