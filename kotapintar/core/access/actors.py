"""Who is acting: the actor every command and query receives, and the access rules derived from it."""

from __future__ import annotations

from dataclasses import dataclass, field

from kotapintar.core.access.roles import Permission, Role, permissions_of
from kotapintar.core.access.scope import CaseScope
from kotapintar.core.errors import NotAuthenticated, PermissionDenied


@dataclass(frozen=True)
class Actor:
    """A logged-in user, a client application, the public, or the system itself."""

    kind: str  # user | public | system | client
    name: str  # what the event log records, e.g. "user:operator", "public", "system:demo"
    user_id: int | None = None
    agency_code: str | None = None
    roles: frozenset[Role] = field(default_factory=frozenset)
    position: str | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        """Everything this actor may do."""
        if self.kind == "system":
            return frozenset(Permission)
        return permissions_of(self.roles)

    @property
    def reads_as_public(self) -> bool:
        """True for readers who see only public outputs: the anonymous public and client applications
        (a back office trusted with an operator's role for its status updates excepted)."""
        return self.kind == "public" or (self.kind == "client" and not self.can(Permission.VIEW_ALL_CASES))

    def can(self, permission: Permission) -> bool:
        """True when the actor holds `permission`."""
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        """Raise unless the actor holds `permission`."""
        if self.kind == "public":
            raise NotAuthenticated("Silakan masuk (login) terlebih dahulu / please log in first.")
        if not self.can(permission):
            raise PermissionDenied(
                f"Peran Anda tidak mengizinkan tindakan ini ({permission.value}) / "
                f"your role does not allow this ({permission.value}).",
                permission=permission.value,
            )

    def case_scope(self) -> CaseScope:
        """Which cases this actor may read."""
        if self.can(Permission.VIEW_ALL_CASES):
            return CaseScope(everything=True)
        if self.kind == "user" and self.agency_code is not None:
            if Role.LIAISON in self.roles and Role.AGENCY_OFFICER not in self.roles:
                return CaseScope(agency_code=self.agency_code, tasks_only=True)
            return CaseScope(agency_code=self.agency_code)
        return CaseScope(public=True)


PUBLIC = Actor(kind="public", name="public")
SYSTEM = Actor(kind="system", name="system")


def system_actor(component: str) -> Actor:
    """The system acting through one of its components (scheduler, sensor rule, simulator)."""
    return Actor(kind="system", name=f"system:{component}")


def channel_actor(channel: str) -> Actor:
    """A citizen reaching us through a channel (web, sms, whatsapp, open311 client…)."""
    return Actor(kind="public", name=f"public:{channel}")
