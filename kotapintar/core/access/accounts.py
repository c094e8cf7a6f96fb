"""Administering accounts: disable, enable, reset a password, revoke tokens. Each one ends the user's open
sessions and tokens where it must, and is logged as an event of the system stream."""

from __future__ import annotations

from dataclasses import dataclass

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import hash_password
from kotapintar.core.access.models import User
from kotapintar.core.access.passwords import check_password
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import NotFound
from kotapintar.core.events.types import utcnow


@dataclass(frozen=True)
class AccountChange:
    """What a command did: the user, and how many open sessions and tokens it ended."""

    username: str
    active: bool
    revoked: int


def _user(uow: UnitOfWork, username: str) -> User:
    user = uow.users.by_username(username)
    if user is None:
        raise NotFound(f"Pengguna '{username}' tidak ada / no user named '{username}'.")
    return user


def _log(uow: UnitOfWork, actor: Actor, type_: str, username: str, revoked: int) -> None:
    uow.events.append(
        stream="system",
        case_id=None,
        type=type_,
        actor=actor.name,
        at=utcnow(),
        payload={"username": username, "revoked": revoked},
    )


def disable_user(db: Database, actor: Actor, username: str) -> AccountChange:
    """The user can no longer log in; every open session and token ends now."""
    actor.require(Permission.MANAGE_USERS)
    with db.transaction() as uow:
        user = _user(uow, username)
        user.active = False
        revoked = uow.users.revoke_credentials(user.id, utcnow())
        _log(uow, actor, "user_disabled", username, revoked)
        return AccountChange(username, False, revoked)


def enable_user(db: Database, actor: Actor, username: str) -> AccountChange:
    """The user may log in again (earlier sessions and tokens stay ended)."""
    actor.require(Permission.MANAGE_USERS)
    with db.transaction() as uow:
        user = _user(uow, username)
        user.active = True
        _log(uow, actor, "user_enabled", username, 0)
        return AccountChange(username, True, 0)


def reset_password(db: Database, actor: Actor, username: str, password: str) -> AccountChange:
    """Set a new (strong) password; every open session and token of the user ends now."""
    actor.require(Permission.MANAGE_USERS)
    check_password(password, username=username)
    with db.transaction() as uow:
        user = _user(uow, username)
        user.password_hash = hash_password(password)
        revoked = uow.users.revoke_credentials(user.id, utcnow())
        _log(uow, actor, "user_password_reset", username, revoked)
        return AccountChange(username, user.active, revoked)


def revoke_user_tokens(db: Database, actor: Actor, username: str) -> AccountChange:
    """End every open session and bearer token of a user (a leaked token, a lost laptop)."""
    actor.require(Permission.MANAGE_USERS)
    with db.transaction() as uow:
        user = _user(uow, username)
        revoked = uow.users.revoke_credentials(user.id, utcnow())
        _log(uow, actor, "user_tokens_revoked", username, revoked)
        return AccountChange(username, user.active, revoked)
