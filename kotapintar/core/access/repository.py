"""Users, their bearer tokens and client-application API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kotapintar.core.access.models import ApiKey, ApiToken, User, UserSession


class UserRepository:
    """All SQL about users and tokens."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, user_id: int) -> User | None:
        """One user by id."""
        return self.session.get(User, user_id)

    def by_username(self, username: str) -> User | None:
        """One user by login name."""
        return self.session.scalars(select(User).where(User.username == username)).first()

    def all(self) -> Sequence[User]:
        """Every user, by username."""
        return self.session.scalars(select(User).order_by(User.username)).all()

    def add(self, user: User) -> User:
        """Store a new user and give it an id."""
        self.session.add(user)
        self.session.flush()
        return user

    def add_token(self, token: ApiToken) -> None:
        """Store a new bearer token (hash only)."""
        self.session.add(token)

    def token(self, token_hash: str) -> ApiToken | None:
        """A bearer token by its hash."""
        return self.session.scalars(select(ApiToken).where(ApiToken.token_hash == token_hash)).first()

    def add_session(self, row: UserSession) -> None:
        """Store a new browser session (hash of its id only)."""
        self.session.add(row)

    def browser_session(self, sid_hash: str) -> UserSession | None:
        """A browser session by the hash of its id."""
        return self.session.scalars(select(UserSession).where(UserSession.sid_hash == sid_hash)).first()

    def revoke_credentials(self, user_id: int, at: datetime) -> int:
        """End every open browser session and bearer token of a user; returns how many were open."""
        sessions = self.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        tokens = self.session.execute(
            update(ApiToken)
            .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=at)
        )
        return int(getattr(sessions, "rowcount", 0) or 0) + int(getattr(tokens, "rowcount", 0) or 0)


class ApiKeyRepository:
    """All SQL about client-application API keys."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def by_name(self, name: str) -> ApiKey | None:
        """A key by the client's name."""
        return self.session.scalars(select(ApiKey).where(ApiKey.name == name)).first()

    def by_hash(self, key_hash: str) -> ApiKey | None:
        """A key by its hash."""
        return self.session.scalars(select(ApiKey).where(ApiKey.key_hash == key_hash)).first()

    def add(self, key: ApiKey) -> None:
        """Store a new key."""
        self.session.add(key)

    def all(self) -> Sequence[ApiKey]:
        """Every key, by name."""
        return self.session.scalars(select(ApiKey).order_by(ApiKey.name)).all()

    def revoke(self, key: ApiKey, at: datetime) -> None:
        """Mark a key revoked."""
        key.revoked_at = at
