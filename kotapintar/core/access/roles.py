"""Roles and the permissions that follow from them; checked by the services, not only the routes."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a user may do. A user belongs to one agency and holds one or more roles."""

    ADMIN = "admin"
    OPERATOR = "operator"
    SUPERVISOR = "supervisor"
    AGENCY_OFFICER = "agency_officer"
    LIAISON = "liaison"
    AGENCY_HEAD = "agency_head"  # kepala of one agency: its own cases only, never the city-wide reach


class Permission(StrEnum):
    """A single thing an actor may be allowed to do."""

    VIEW_ALL_CASES = "view_all_cases"
    VIEW_REPORTER_PII = "view_reporter_pii"
    TRIAGE_CASES = "triage_cases"  # verify, reject, merge, dispose, re-route
    RESOLVE_CASES = "resolve_cases"
    CLOSE_CASES = "close_cases"
    WORK_OWN_TASKS = "work_own_tasks"
    MANAGE_USERS = "manage_users"
    MANAGE_CATALOGUE = "manage_catalogue"
    VIEW_AUDIT = "view_audit"
    DISPATCH_UNITS = "dispatch_units"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            Permission.VIEW_ALL_CASES,
            Permission.VIEW_REPORTER_PII,
            Permission.TRIAGE_CASES,
            Permission.RESOLVE_CASES,
            Permission.CLOSE_CASES,
            Permission.DISPATCH_UNITS,
        }
    ),
    Role.SUPERVISOR: frozenset(
        {
            Permission.VIEW_ALL_CASES,
            Permission.VIEW_REPORTER_PII,
            Permission.TRIAGE_CASES,
            Permission.RESOLVE_CASES,
            Permission.CLOSE_CASES,
            Permission.VIEW_AUDIT,
            Permission.DISPATCH_UNITS,
        }
    ),
    Role.AGENCY_OFFICER: frozenset({Permission.WORK_OWN_TASKS, Permission.RESOLVE_CASES}),
    # The head of an agency approves and resolves its agency's work; the case scope (own agency) follows
    # from holding no VIEW_ALL_CASES, exactly as for its officers.
    Role.AGENCY_HEAD: frozenset({Permission.WORK_OWN_TASKS, Permission.RESOLVE_CASES}),
    Role.LIAISON: frozenset({Permission.WORK_OWN_TASKS}),
}


def permissions_of(roles: frozenset[Role] | set[Role]) -> frozenset[Permission]:
    """The union of the permissions of every role held."""
    out: set[Permission] = set()
    for role in roles:
        out |= ROLE_PERMISSIONS[role]
    return frozenset(out)
