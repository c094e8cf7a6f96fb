"""One definition of each accountability figure (late, on time, time to accept/complete/scene, fractiles).

Pure: what each figure means, the groupings and periods it can be split by, the targets it is compared with,
and the record that carries one group's figures. The SQL that computes them lives in `kotapintar.analytics`
(aggregates in the database); every page, the public scoreboard, the API and the report read the same
`TaskFigures` and `SegmentFigures`, so they cannot disagree. `docs/metrics.md` says the same in prose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from kotapintar.metrics.performance import OPEN_TASKS
from kotapintar.metrics.response_times import SEGMENTS, TARGETS_PATH

# What a figure can be split by (the analytics query maps each to a column) and the trend periods.
GROUPINGS = ("all", "agency", "service", "kecamatan", "desa", "channel", "week", "month")
PERIODS = ("week", "month")
PERCENTILES = (0.5, 0.9)
DONE_TASK = "done"  # the one completed task state; rejected/cancelled tasks are not owed any more
TASK_DURATIONS = ("accept", "complete")

# The i18n key of each figure's help text (shown next to the figure, written out in docs/metrics.md).
HELP = {
    "open_now": "metrics.help.open_now",
    "late_now": "metrics.help.late_now",
    "tasks": "metrics.help.tasks",
    "late": "metrics.help.late",
    "on_time": "metrics.help.on_time",
    "accept": "metrics.help.accept",
    "complete": "metrics.help.complete",
    "within": "metrics.help.within",
    "segments": "metrics.help.segments",
    "corrected": "metrics.help.corrected",
    "merges": "metrics.help.merges",
    "location": "metrics.help.location",
}

assert frozenset({"pending", "accepted", "in_progress", "escalated"}) == OPEN_TASKS


@dataclass(frozen=True)
class TaskTargets:
    """Target seconds of the task durations (time to complete is judged against each task's own due time)."""

    accept_s: float = 3600.0


@lru_cache(maxsize=4)
def task_targets(path: Path | str | None = None) -> TaskTargets:
    """The `tasks:` block of the targets file (accept within an hour unless the file says otherwise)."""
    with Path(path or TARGETS_PATH).open(encoding="utf-8") as fh:
        doc = yaml.safe_load(fh) or {}
    block = doc.get("tasks") or {}
    return TaskTargets(accept_s=float(block.get("accept", 3600.0)))


@dataclass(frozen=True)
class Distribution:
    """Median, 90th percentile and share within target of one duration over one group."""

    n: int = 0
    median_s: float | None = None
    p90_s: float | None = None
    within: int = 0
    target_s: float | None = None

    @property
    def within_share(self) -> float | None:
        """Fractile compliance: the share of measured values at or under the target (None without any)."""
        return self.within / self.n if self.n and self.target_s is not None else None


def interpolate(low: float | None, high: float | None, n: int, q: float) -> float | None:
    """The q-quantile from the two order statistics around rank (n-1)·q (linear, as percentile_cont)."""
    if low is None or n == 0:
        return None
    rank = (n - 1) * q
    frac = rank - int(rank)
    if frac == 0 or high is None:
        return float(low)
    return float(low) + (float(high) - float(low)) * frac


@dataclass(frozen=True)
class TaskFigures:
    """The task figures of one group (an agency, service, kecamatan, desa, channel, week or month).

    The cohort is the tasks *created* in the period. late = open past due now + completed after due;
    on time = completed by due / completed with a due time; open_now and late_now count every open task
    whenever it was created (the backlog), escalated ones included.
    """

    key: str
    tasks: int = 0
    open: int = 0
    late_open: int = 0
    completed: int = 0
    completed_with_due: int = 0
    completed_on_time: int = 0
    accept: Distribution = field(default_factory=Distribution)
    complete: Distribution = field(default_factory=Distribution)
    open_now: int = 0
    late_now: int = 0

    @property
    def completed_late(self) -> int:
        """Completed after their due time."""
        return self.completed_with_due - self.completed_on_time

    @property
    def late(self) -> int:
        """Open past due, or completed after due."""
        return self.late_open + self.completed_late

    @property
    def on_time_share(self) -> float | None:
        """Completed by due / completed with a due time (None when none was completed with a due time)."""
        return self.completed_on_time / self.completed_with_due if self.completed_with_due else None

    # The supervisor template's names (kept so the page reads the same).
    @property
    def agency_code(self) -> str:
        """The key, when grouped by agency."""
        return self.key

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form (the API's)."""
        return {
            "key": self.key,
            "tasks": self.tasks,
            "open": self.open,
            "late": self.late,
            "late_open": self.late_open,
            "completed": self.completed,
            "completed_with_due": self.completed_with_due,
            "completed_on_time": self.completed_on_time,
            "completed_late": self.completed_late,
            "on_time_share": self.on_time_share,
            "open_now": self.open_now,
            "late_now": self.late_now,
            "accept": _dist(self.accept),
            "complete": _dist(self.complete),
        }


def _dist(d: Distribution) -> dict[str, object]:
    return {
        "n": d.n,
        "median_s": d.median_s,
        "p90_s": d.p90_s,
        "target_s": d.target_s,
        "within": d.within,
        "within_share": d.within_share,
    }


@dataclass(frozen=True)
class SegmentFigures:
    """The NFPA response-time segments of one group of 112/dispatch incidents."""

    key: str
    incidents: int = 0
    segments: dict[str, Distribution] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "key": self.key,
            "incidents": self.incidents,
            "segments": {s: _dist(self.segments.get(s, Distribution())) for s in SEGMENTS},
        }


def share_text(value: float | None, locale: str = "id") -> str:
    """A share as a percentage with one decimal, Indonesian comma (83,3 %); an em dash for none."""
    if value is None:
        return "—"
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text.replace('.', ',') if locale == 'id' else text} %"


def number_text(value: float | int | None, decimals: int = 0, locale: str = "id") -> str:
    """A number with Indonesian separators (1.234.567,5); an em dash for none."""
    if value is None:
        return "—"
    text = f"{value:,.{decimals}f}"
    if locale != "id":
        return text
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
