"""The open task states and the reference percentile (pure).

The figures themselves (late, on time, median/p90 to accept and complete) are defined in
`metrics.definitions` and computed in SQL by `kotapintar.analytics`; this module keeps the one set of open
task states every query uses, and the linear-interpolation percentile the SQL is checked against.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

# Every state in which somebody still owes the work, escalated included (the SOP engine's open task states;
# a test keeps them equal). An escalated task left out here vanished from the late and open counts.
OPEN_TASKS = frozenset({"pending", "accepted", "in_progress", "escalated"})


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
