"""Staff accounts of the city's agencies: creating a user checks the agency exists (the catalog's data)."""

from __future__ import annotations

from kotapintar.catalog.repository import AgencyRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import hash_password
from kotapintar.core.access.models import User
from kotapintar.core.access.passwords import check_password
from kotapintar.core.access.roles import Permission, Role
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow


def create_user(
    db: Database,
    actor: Actor,
    *,
    username: str,
    password: str,
    full_name: str,
    agency_code: str,
    roles: list[str],
    position: str | None = None,
    password_hash: str | None = None,
    demo: bool = False,
) -> User:
    """Create a user account; only admins (or the system, e.g. the first-admin CLI) may.

    The password must pass the strength check; `demo` (the demo city's accounts) allows the published
    demo password and nothing else weak.
    """
    actor.require(Permission.MANAGE_USERS)
    check_password(password, username=username, allow_demo=demo)
    try:
        role_set = [Role(r).value for r in roles]
    except ValueError as exc:
        raise ValidationFailed(
            f"Peran tidak dikenal: {roles}; pilih dari {', '.join(r.value for r in Role)}."
        ) from exc
    if not role_set:
        raise ValidationFailed("Pengguna perlu minimal satu peran / a user needs at least one role.")
    with db.transaction() as uow:
        if uow.users.by_username(username) is not None:
            raise Conflict(f"Nama pengguna '{username}' sudah dipakai / username already taken.")
        if uow.repo(AgencyRepository).get(agency_code) is None:
            raise NotFound(f"Instansi '{agency_code}' tidak ada / unknown agency.")
        user = User(
            username=username,
            full_name=full_name,
            password_hash=password_hash or hash_password(password),
            agency_code=agency_code,
            roles=role_set,
            position=position,
            active=True,
            created_at=utcnow(),
        )
        uow.users.add(user)
        uow.events.append(
            stream="system",
            case_id=None,
            type="user_created",
            actor=actor.name,
            at=user.created_at,
            payload={"username": username, "agency": agency_code, "roles": role_set},
        )
    return user
