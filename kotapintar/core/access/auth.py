"""Accounts and credentials: users, argon2 passwords, bearer tokens, client API keys, session cookies."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.models import ApiKey, ApiToken, User, UserSession
from kotapintar.core.access.passwords import DEMO_PASSWORD
from kotapintar.core.access.roles import Role
from kotapintar.core.access.throttle import LoginThrottled, login_throttle
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, NotAuthenticated, NotFound
from kotapintar.core.events.types import utcnow

_hasher = PasswordHasher()
# A hash of a random password, verified on unknown usernames so both paths take the same time.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


def _sha256(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """An argon2id hash of a password."""
    return _hasher.hash(password)


def actor_for(user: User) -> Actor:
    """The actor a stored user acts as."""
    return Actor(
        kind="user",
        name=f"user:{user.username}",
        user_id=user.id,
        agency_code=user.agency_code,
        roles=frozenset(Role(r) for r in user.roles),
        position=user.position,
    )


def authenticate(
    db: Database,
    username: str,
    password: str,
    *,
    address: str | None = None,
    production: bool = False,
    throttle_storage: str = "memory://",
) -> User:
    """The user with these credentials, or NotAuthenticated (same answer for unknown user or bad password).

    Failed attempts are counted per account and per `address`; past the limit every attempt is refused
    with LoginThrottled (429), logged as a `login_throttled` event. In `production` the published demo
    password never logs anyone in.
    """
    throttle = login_throttle(throttle_storage)
    blocked = throttle.blocked_for(username, address)
    if blocked is not None:
        scope, retry = blocked
        _log_throttled(db, username, address, scope, retry)
        raise LoginThrottled(
            f"Terlalu banyak percobaan masuk yang gagal; coba lagi dalam {retry} detik / too many failed "
            f"logins, retry in {retry} s.",
            retry_after_s=retry,
            scope=scope,
        )
    with db.reading() as uow:
        user = uow.users.by_username(username)
    stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        user = None
    if production and password == DEMO_PASSWORD:
        user = None
    if user is None or not user.active:
        throttle.failed(username, address)
        raise NotAuthenticated("Nama pengguna atau kata sandi salah / wrong username or password.")
    return user


def _log_throttled(db: Database, username: str, address: str | None, scope: str, retry: int) -> None:
    """The refusal as an event of the system stream (the address only as a hash)."""
    with db.transaction() as uow:
        uow.events.append(
            stream="system",
            case_id=None,
            type="login_throttled",
            actor="system:auth",
            at=utcnow(),
            payload={
                "username": username[:80],
                "address_sha256": hashlib.sha256(address.encode()).hexdigest() if address else None,
                "scope": scope,
                "retry_after_s": retry,
            },
        )


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued bearer token; the clear text is shown once."""

    token: str
    expires_in: int


def issue_token(db: Database, user: User, max_age_s: int) -> IssuedToken:
    """A new bearer token for `user`; only its hash is stored."""
    token = "kpt_" + secrets.token_urlsafe(32)
    now = utcnow()
    with db.transaction() as uow:
        uow.users.add_token(
            ApiToken(
                user_id=user.id,
                token_hash=_sha256(token),
                created_at=now,
                expires_at=now + timedelta(seconds=max_age_s),
                revoked_at=None,
            )
        )
    return IssuedToken(token=token, expires_in=max_age_s)


def actor_from_token(db: Database, token: str) -> Actor:
    """The actor behind a bearer token, or NotAuthenticated."""
    with db.reading() as uow:
        row = uow.users.token(_sha256(token))
        user = uow.users.get(row.user_id) if row is not None else None
        if row is None or user is None or not user.active or row.revoked_at is not None:
            raise NotAuthenticated("Token tidak berlaku / invalid token.")
        if row.expires_at <= utcnow():
            raise NotAuthenticated("Token kedaluwarsa, silakan masuk lagi / token expired, log in again.")
        return actor_for(user)


def open_session(db: Database, user: User, max_age_s: int) -> str:
    """A new server-side browser session for `user`; returns its id (to be signed into the cookie)."""
    sid = secrets.token_urlsafe(24)
    now = utcnow()
    with db.transaction() as uow:
        uow.users.add_session(
            UserSession(
                user_id=user.id,
                sid_hash=_sha256(sid),
                created_at=now,
                expires_at=now + timedelta(seconds=max_age_s),
                revoked_at=None,
            )
        )
    return sid


def actor_from_session(db: Database, user_id: int, sid: str) -> Actor:
    """The actor of a signed session cookie, checked against the server-side session on every request."""
    with db.reading() as uow:
        row = uow.users.browser_session(_sha256(sid)) if sid else None
        user = uow.users.get(user_id)
        if (
            row is None
            or row.user_id != user_id
            or row.revoked_at is not None
            or row.expires_at <= utcnow()
            or user is None
            or not user.active
        ):
            raise NotAuthenticated("Sesi tidak berlaku, silakan masuk lagi / session no longer valid.")
        return actor_for(user)


def close_session(db: Database, sid: str | None) -> None:
    """End one browser session (logout); unknown or already closed ones are ignored."""
    if not sid:
        return
    with db.transaction() as uow:
        row = uow.users.browser_session(_sha256(sid))
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()


def revoke_token(db: Database, token: str) -> bool:
    """Revoke one bearer token by its clear value; False when it was unknown or already revoked."""
    with db.transaction() as uow:
        row = uow.users.token(_sha256(token))
        if row is None or row.revoked_at is not None:
            return False
        row.revoked_at = utcnow()
        return True


def create_api_key(db: Database, name: str) -> str:
    """A new key for a client application; returns the clear key (shown once)."""
    key = "kpk_" + secrets.token_urlsafe(32)
    with db.transaction() as uow:
        existing = uow.api_keys.by_name(name)
        if existing is not None and existing.revoked_at is None:
            raise Conflict(
                f"Kunci API '{name}' sudah ada; cabut dulu / key '{name}' exists, revoke it first."
            )
        if existing is not None:
            existing.key_hash = _sha256(key)
            existing.created_at = utcnow()
            existing.revoked_at = None
        else:
            uow.api_keys.add(ApiKey(name=name, key_hash=_sha256(key), created_at=utcnow(), revoked_at=None))
    return key


def revoke_api_key(db: Database, name: str) -> None:
    """Revoke a client application's key."""
    with db.transaction() as uow:
        key = uow.api_keys.by_name(name)
        if key is None or key.revoked_at is not None:
            raise NotFound(f"Tidak ada kunci API aktif bernama '{name}' / no active key named '{name}'.")
        uow.api_keys.revoke(key, utcnow())


def client_for_api_key(db: Database, key: str) -> Actor | None:
    """The client application behind a valid key, or None."""
    with db.reading() as uow:
        row = uow.api_keys.by_hash(_sha256(key))
        if row is None or row.revoked_at is not None:
            return None
        return Actor(kind="client", name=f"client:{row.name}")


class SessionSigner:
    """Signs and checks browser session cookies (user id + issue time) with the secret key."""

    def __init__(self, secret: str, max_age_s: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret, salt="kotapintar-session")
        self.max_age_s = max_age_s

    def sign(self, user_id: int, sid: str | None = None) -> str:
        """A cookie value for a logged-in user; carries the session id (server-side session, CSRF binding)."""
        return self._serializer.dumps({"uid": user_id, "sid": sid or secrets.token_urlsafe(16)})

    def read(self, value: str) -> tuple[int, str] | None:
        """(user id, session id) from a valid, unexpired cookie, else None."""
        try:
            data = self._serializer.loads(value, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("uid"), int):
            return None
        return int(data["uid"]), str(data.get("sid", ""))
