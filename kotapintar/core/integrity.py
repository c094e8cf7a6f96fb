"""Invariants over the whole database: what must always hold when every change went through the SOP.

Each feature states its own invariants (`<feature>/integrity.py`) as queries over its tables; `kotapintar
check` runs them all and names every offending row, so drift between the case rows, the SOP instances, the
tasks and the event log is found instead of shown to the public.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One broken invariant on one row."""

    invariant: str  # a stable code, e.g. "open_task_on_finished_case"
    subject: str  # what is wrong, e.g. "task 12 (case 7)"
    detail: str  # enough for a person to find and understand it

    def line(self) -> str:
        """One line for the terminal and the test report."""
        return f"{self.invariant}: {self.subject} — {self.detail}"
