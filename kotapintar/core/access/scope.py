"""How far an actor's sight reaches over cases: decided from roles, applied by the case repository."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseScope:
    """Which cases a reader may see, decided by the service layer from the actor's roles."""

    everything: bool = False
    agency_code: str | None = None  # cases this agency is responsible for or has a task in
    tasks_only: bool = False  # only cases with a task handed to `agency_code` (liaisons)
    public: bool = False  # non-confidential cases only
