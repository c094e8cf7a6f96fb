"""In-transaction hooks: a lower feature hands work to a higher one without importing it.

The layers point one way (see docs/architecture.md): `cases` sits below `sop`, yet an operator's manual
re-routing or resolution of a case must also move the case's SOP, in the same transaction. The lower feature
calls a hook declared here; the higher feature registers the implementation; `kotapintar.app.wiring.wire()`
registers them all at start-up. A hook that nobody registered raises `HookNotWired` instead of silently
doing nothing, so a process that forgot to wire cannot drift from the SOP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

if TYPE_CHECKING:
    from kotapintar.core.access.actors import Actor
    from kotapintar.core.db.database import Database
    from kotapintar.core.db.uow import UnitOfWork

P = ParamSpec("P")
R = TypeVar("R")


class HookNotWired(RuntimeError):
    """A hook was called before any feature registered it (call `kotapintar.app.wiring.wire()`)."""


class Hook(Generic[P, R]):
    """One named hand-over point with exactly one implementation."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._impl: Callable[P, R] | None = None

    def register(self, impl: Callable[P, R]) -> Callable[P, R]:
        """Install `impl` (registering again replaces it, so wiring twice is harmless)."""
        self._impl = impl
        return impl

    @property
    def wired(self) -> bool:
        """True once an implementation is registered."""
        return self._impl is not None

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._impl is None:
            raise HookNotWired(f"hook '{self.name}' has no implementation: call kotapintar.app.wiring.wire()")
        return self._impl(*args, **kwargs)


@dataclass(frozen=True)
class Workflow:
    """What the case layer needs to know of a case's SOP instance."""

    running: bool
    responsible_agency: str | None


# Lock the case's SOP instance (lock order: instance, then case) and describe it; None: the case has none.
lock_workflow: Hook[[UnitOfWork, int], Workflow | None] = Hook("lock_workflow")
# The operator disposed the case to another agency: (uow, actor name, case id, new agency, reason, at).
reroute_workflow: Hook[[UnitOfWork, str, int, str, str, datetime], None] = Hook("reroute_workflow")
# The case was resolved by hand: (uow, actor name, case id, resolution, at).
resolve_workflow: Hook[[UnitOfWork, str, int, str, datetime], None] = Hook("resolve_workflow")
# The operator verifies the case: the SOP completes its open verification step if it has one (True then):
# (uow, actor name, case id, note, at).
verify_workflow: Hook[[UnitOfWork, str, int, str, datetime], bool] = Hook("verify_workflow")
# The operator disposes the case: the SOP completes its open verification and disposition steps (True when
# it completed something): (uow, actor name, case id, note, at).
dispose_workflow: Hook[[UnitOfWork, str, int, str, datetime], bool] = Hook("dispose_workflow")
# The case ended by hand (closed, rejected, merged): its SOP stops now, not at its next timer:
# (uow, actor name, case id, final status, reason, at).
end_workflow: Hook[[UnitOfWork, str, int, str, str, datetime], None] = Hook("end_workflow")
# The operator reopens a resolved case: the SOP reopens at its reopen step if it allows it (True then):
# (uow, actor name, case id, reason, at).
reopen_workflow: Hook[[UnitOfWork, str, int, str, datetime], bool] = Hook("reopen_workflow")
# A merge was undone: the case's cancelled SOP starts again from its first step (True when an SOP started):
# (uow, actor, case id, at).
restart_workflow: Hook[[UnitOfWork, Actor, int, datetime], bool] = Hook("restart_workflow")
# The operator sets the due time of an SOP task: (uow, actor name, case id, task key, due at, at).
set_task_due: Hook[[UnitOfWork, str, int, str, datetime, datetime], None] = Hook("set_task_due")
# An agency accepts a task of the SOP; the engine decides what follows: (db, actor, task id).
accept_workflow_task: Hook[[Database, Actor, int], object] = Hook("accept_workflow_task")
# What the citizen's tracking page shows of the answer loop (approved answers, confirm/dispute, survey):
# (db, case id) -> template values. Registered by `feedback`, which sits above the citizen pages.
citizen_loop: Hook[[Database, int], dict[str, object]] = Hook("citizen_loop")
# Just before a transaction commits: the analytics rollup (narrow per-task and per-incident rows) refreshes
# the rows of the cases this unit of work changed or appended events to, so it is committed with them:
# (uow). Optional, unlike the others: a process that never wired it is repaired by `kotapintar analytics
# rebuild`.
refresh_metrics: Hook[[UnitOfWork], None] = Hook("refresh_metrics")
# The response-time summary of /api/v1/dispatch/segments, computed in SQL by analytics over its incident
# rollup: (db, by: agency|kecamatan|service|period, period: day|week|month, since, until, time zone) ->
# the groups (n, mean, p90 and share within target of each segment).
segment_summary: Hook[[Database, str, str, datetime | None, datetime | None, str], list[dict[str, Any]]] = (
    Hook("segment_summary")
)
