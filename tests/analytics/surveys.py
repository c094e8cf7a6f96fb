"""Hand-set IKM answers for the analytics history (the figures of tests/feedback/test_feedback_ikm.py):
four Dinas PUPR respondents → NRR u9 = 10/3 = 3,333, IKM 82,18 (grade B), 82,09 with the rounded 0,111."""

from __future__ import annotations

from datetime import datetime

from kotapintar.core.db.database import Database
from kotapintar.feedback.models import SurveyResponse
from kotapintar.metrics.ikm import ELEMENTS

ROWS: list[list[int | None]] = [
    [4, 4, 4, 4, 4, 4, 4, 4, 4],
    [3, 3, 3, 3, 3, 3, 3, 3, 3],
    [3, 4, 2, 4, 3, 3, 4, 2, 3],
    [2, 3, 3, 4, 3, 2, 4, 3, None],
]


def add_surveys(db: Database, case_ids: list[int], at: datetime) -> None:
    """One answered survey per case (all Dinas PUPR, jalan_rusak, web), answered at `at`."""
    with db.transaction() as uow:
        for case_id, row in zip(case_ids, ROWS, strict=True):
            uow.session.add(
                SurveyResponse(
                    case_id=case_id,
                    agency_code="pupr",
                    service_code="jalan_rusak",
                    channel="web",
                    created_at=at,
                    updated_at=at,
                    **dict(zip(ELEMENTS, row, strict=True)),
                )
            )
