"""The analytics API (/api/v1/analitik/…): the same figures as /supervisor, /analitik and /beranda, as JSON."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kotapintar.analytics import service as analytics
from kotapintar.core.http.deps import ReadDbDep, SettingsDep, UserDep
from kotapintar.metrics.definitions import GROUPINGS

router = APIRouter(prefix="/api/v1/analitik", tags=["analytics"])
By = Annotated[str, Query(pattern="^(" + "|".join(GROUPINGS) + ")$")]
Days = Annotated[int, Query(ge=1, le=3660)]
Code = Annotated[str | None, Query(max_length=60, pattern=r"^[A-Za-z0-9_.\-]+$")]
DEFINITIONS = {
    "late": "open past due now (any open state, escalated included) + completed after due",
    "on_time_share": "completed by due / completed with a due time",
    "cohort": "tasks created in the period; open_now/late_now count every open task whenever created",
    "percentiles": "linear interpolation between closest ranks (PostgreSQL percentile_cont)",
    "within_share": "share of measured values at or under the target (fractile compliance)",
}


@router.get("/tugas")
def task_figures(
    db: ReadDbDep,
    actor: UserDep,
    settings: SettingsDep,
    by: By = "agency",
    hari: Days = 30,
    instansi: Code = None,
    layanan: Code = None,
    kanal: Code = None,
) -> dict[str, Any]:
    """Late, on time and time to accept/complete (median, p90, within target) per group."""
    scope = analytics.scope_of_days(hari, agency=instansi, service=layanan, channel=kanal)
    groups = analytics.task_figures(db, actor, scope, by, settings=settings)
    return {"by": by, "days": hari, "definitions": DEFINITIONS, "groups": [g.as_dict() for g in groups]}


@router.get("/waktu-tanggap")
def scene_figures(
    db: ReadDbDep,
    actor: UserDep,
    settings: SettingsDep,
    by: By = "service",
    hari: Days = 30,
    instansi: Code = None,
    layanan: Code = None,
    kanal: Code = None,
) -> dict[str, Any]:
    """Time to scene of 112/dispatch incidents: each NFPA segment's median, p90 and share within target."""
    scope = analytics.scope_of_days(hari, agency=instansi, service=layanan, channel=kanal)
    groups = analytics.segment_figures(db, actor, scope, by, settings=settings)
    return {"by": by, "days": hari, "definitions": DEFINITIONS, "groups": [g.as_dict() for g in groups]}
