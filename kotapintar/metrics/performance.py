"""Agency performance from task rows: on-time share, median and p90 times to accept and complete, late work.

Pure computation over plain rows (no database): the pages pass what the repository read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# Every state in which somebody still owes the work, escalated included (the SOP engine's open task states;
# a test keeps them equal). An escalated task left out here vanished from the late and open counts.
OPEN_TASKS = frozenset({"pending", "accepted", "in_progress", "escalated"})


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation between closest ranks; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class AgencyPerformance:
    """How one agency did with the tasks it got in a period."""

    agency_code: str
    tasks: int = 0
    open: int = 0
    late_open: int = 0
    completed: int = 0
    completed_on_time: int = 0
    accept_s: list[float] = field(default_factory=list)
    complete_s: list[float] = field(default_factory=list)

    @property
    def on_time_share(self) -> float | None:
        """Share of completed tasks with a due time that were completed by it (None with none such)."""
        return self.completed_on_time / self.completed if self.completed else None

    @property
    def median_accept_s(self) -> float | None:
        """Median seconds from task creation to acceptance."""
        return percentile(self.accept_s, 50)

    @property
    def p90_accept_s(self) -> float | None:
        """90th-percentile seconds from task creation to acceptance."""
        return percentile(self.accept_s, 90)

    @property
    def median_complete_s(self) -> float | None:
        """Median seconds from task creation to completion."""
        return percentile(self.complete_s, 50)

    @property
    def p90_complete_s(self) -> float | None:
        """90th-percentile seconds from task creation to completion."""
        return percentile(self.complete_s, 90)


def agency_performance(rows: Iterable[Any], now: datetime) -> dict[str, AgencyPerformance]:
    """Aggregate task rows (agency_code, status, created_at, accepted_at, completed_at, due_at) per agency."""
    now = _aware(now) or now
    out: dict[str, AgencyPerformance] = {}
    for row in rows:
        perf = out.setdefault(row.agency_code, AgencyPerformance(agency_code=row.agency_code))
        perf.tasks += 1
        created = _aware(row.created_at)
        accepted = _aware(row.accepted_at)
        completed = _aware(row.completed_at)
        due = _aware(row.due_at)
        if created is not None and accepted is not None:
            perf.accept_s.append(max(0.0, (accepted - created).total_seconds()))
        if row.status in OPEN_TASKS:
            perf.open += 1
            if due is not None and due < now:
                perf.late_open += 1
        elif completed is not None and row.status == "done":
            perf.completed += 1
            if created is not None:
                perf.complete_s.append(max(0.0, (completed - created).total_seconds()))
            if due is None or completed <= due:
                perf.completed_on_time += 1
    return out


def resolve_medians(rows: Iterable[Any]) -> dict[str, tuple[int, float | None]]:
    """Per agency: (cases resolved, median seconds from report to resolution)."""
    spans: dict[str, list[float]] = {}
    for row in rows:
        created, resolved = _aware(row.created_at), _aware(row.resolved_at)
        if created is None or resolved is None:
            continue
        spans.setdefault(row.agency_code, []).append(max(0.0, (resolved - created).total_seconds()))
    return {code: (len(values), percentile(values, 50)) for code, values in spans.items()}
