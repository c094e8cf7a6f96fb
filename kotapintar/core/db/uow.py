"""The unit of work: one session and the repositories that share it, for one command or query."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session

from kotapintar.core import hooks
from kotapintar.core.access.repository import ApiKeyRepository, UserRepository
from kotapintar.core.events.notify import NOTIFY_SQL
from kotapintar.core.events.repository import EventRepository

R = TypeVar("R")


class UnitOfWork:
    """Repositories over one session; the Database commits or rolls it back as a whole.

    The core's own repositories (events, users, API keys) are attributes. A feature's repository is asked
    for by its class, `uow.repo(CaseRepository)`, so the core never imports a feature and every feature
    still shares the one session (one instance per class per unit of work).
    """

    def __init__(self, session: Session, dialect: str) -> None:
        self.session = session
        self.dialect = dialect
        self.users = UserRepository(session)
        self.api_keys = ApiKeyRepository(session)
        self.events = EventRepository(session)
        self._repositories: dict[type[Any], Any] = {}

    def repo(self, cls: type[R]) -> R:
        """The repository of class `cls` over this unit of work's session (made on first use)."""
        found = self._repositories.get(cls)
        if found is None:
            found = self._repositories[cls] = cls(self.session)  # type: ignore[call-arg]
        return found

    def flush(self) -> None:
        """Send pending changes so generated ids and constraints are checked now."""
        self.session.flush()

    def before_commit(self) -> None:
        """Last writes of the transaction: the analytics rollup rows of the cases changed (when wired: a
        script that never wires leaves them to `kotapintar analytics rebuild`), the heads of the event chains
        touched, and (PostgreSQL) the notification that wakes the outbox readers of every process once this
        commits (issue 19)."""
        if hooks.refresh_metrics.wired:
            hooks.refresh_metrics(self)
        if self.events.write_anchors() and self.dialect == "postgresql":
            self.session.execute(text(NOTIFY_SQL))
