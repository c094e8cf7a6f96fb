"""Domain errors: every refusal carries a stable code so API, web and channels can explain it."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A rule of the domain refused a command; `code` is stable, `message` is for a person."""

    code: str = "domain_error"
    http_status: int = 400

    def __init__(self, message: str, *, code: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = details

    def __str__(self) -> str:
        return self.message


class IllegalTransition(DomainError):
    """A status change that the lifecycle does not allow from the current status."""

    code = "illegal_transition"
    http_status = 409


class ValidationFailed(DomainError):
    """Input that cannot be accepted as it is; the message says what to fix."""

    code = "invalid_input"
    http_status = 422


class NotFound(DomainError):
    """The thing asked for does not exist (or the caller may not know it exists)."""

    code = "not_found"
    http_status = 404


class PermissionDenied(DomainError):
    """The actor's roles do not allow this command."""

    code = "permission_denied"
    http_status = 403


class NotAuthenticated(DomainError):
    """The command needs a logged-in actor."""

    code = "not_authenticated"
    http_status = 401


class Conflict(DomainError):
    """The command clashes with the current state (other than a lifecycle transition)."""

    code = "conflict"
    http_status = 409
