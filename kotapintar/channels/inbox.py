"""One entry for every chat adapter: make webhook retries idempotent, run the dialogue, send the replies."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from kotapintar.channels.adapters.outbound import OutboundMessage, gateway_for
from kotapintar.channels.conversation import Inbound, handle_message
from kotapintar.channels.repository import ChannelRepository
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.intake import abuse


def receive(db: Database, settings: Settings, msg: Inbound) -> tuple[list[str], bool]:
    """Handle one provider message once: (replies, duplicate). A redelivery gets the first replies, unsent.

    The provider's message id is claimed first; if handling fails the claim is dropped again so the
    provider's retry is handled afresh. `submit_report` also gets the id as idempotency key, so two
    deliveries racing each other still open one case.
    """
    try:
        with db.transaction() as uow:
            ChannelRepository(uow.session).claim_message(msg.channel, msg.message_id, utcnow())
    except IntegrityError:
        with db.transaction() as uow:
            row = ChannelRepository(uow.session).message(msg.channel, msg.message_id, for_update=True)
            if row is None:
                return [], True
            row.deliveries += 1
            return list(row.replies), True
    try:
        abuse.check_sender(db, settings, msg.channel, msg.sender)
        replies = handle_message(db, settings, msg)
    except abuse.SenderBlocked as exc:
        replies = [exc.message]
    except BaseException:
        with db.transaction() as uow:
            ChannelRepository(uow.session).forget_message(msg.channel, msg.message_id)
        raise
    with db.transaction() as uow:
        row = ChannelRepository(uow.session).message(msg.channel, msg.message_id, for_update=True)
        if row is not None:
            row.replies = replies
    gateway = gateway_for(settings)
    for text in replies:
        gateway.send(OutboundMessage(msg.channel, msg.sender, text))
    return replies, False
