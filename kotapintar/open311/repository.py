"""Open311 read queries that the general repositories do not answer in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case, Report


class Open311Repository:
    """Batch reads for Open311 lists (one query per page, not one per request)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def report_media(self, case_ids: Sequence[int]) -> dict[int, list[tuple[list[Any], dict[str, Any]]]]:
        """(media, attributes) of every report of the given cases, oldest report first, by case id."""
        out: dict[int, list[tuple[list[Any], dict[str, Any]]]] = {cid: [] for cid in case_ids}
        if not case_ids:
            return out
        rows = self.session.execute(
            select(Report.case_id, Report.media, Report.attributes)
            .where(Report.case_id.in_(list(case_ids)))
            .order_by(Report.id)
        ).all()
        for row in rows:
            out[row.case_id].append((list(row.media or []), dict(row.attributes or {})))
        return out

    def ticket_of_report(self, report_id: int) -> str | None:
        """The ticket of the case a report belongs to now (after merges too), or None."""
        return self.session.scalar(
            select(Case.ticket).join(Report, Report.case_id == Case.id).where(Report.id == report_id)
        )
