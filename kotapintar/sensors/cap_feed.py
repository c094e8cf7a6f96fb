"""Public CAP messages one by one: what an aggregator fetches from a feed entry or a `references` entry."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound
from kotapintar.sensors.repository import SensorRepository


@dataclass(frozen=True)
class CapMessage:
    """One stored CAP 1.2 message: its XML and when it was sent (its Last-Modified)."""

    identifier: str
    sent: datetime
    xml: bytes


def cap_message(db: Database, identifier: str) -> CapMessage:
    """The CAP message with this identifier, current or superseded (an Update's `references` resolve to
    the messages it replaces); raises NotFound."""
    with db.reading() as uow:
        row = SensorRepository(uow.session).warning_by_identifier(identifier)
        if row is None:
            raise NotFound(
                f"Pesan CAP '{identifier}' tidak ada / no CAP message with this identifier.",
                identifier=identifier,
            )
        return CapMessage(identifier=row.identifier, sent=row.sent, xml=row.xml.encode("utf-8"))
