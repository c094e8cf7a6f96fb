"""Users, their bearer tokens and client-application API keys."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from kotapintar.core.access.models import ApiKey, ApiToken, User


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
