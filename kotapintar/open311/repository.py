"""Open311 read queries that the general repositories do not answer in one statement."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case, Report

PARTNER_ID_KEY = "open311_request_id"


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

    # ---------------------------------------------------------------- partner request ids
    # The service_request_id handed to a partner for each of its reports is kept in the report's attributes
    # under PARTNER_ID_KEY: a report that triage merged into an existing case gets `<ticket>.<report id>`.

    def set_partner_id(self, report_id: int, request_id: str) -> None:
        """Remember the service_request_id a partner was given for a report."""
        report = self.session.get(Report, report_id)
        if report is not None and (report.attributes or {}).get(PARTNER_ID_KEY) != request_id:
            report.attributes = {**(report.attributes or {}), PARTNER_ID_KEY: request_id}
            self.session.flush()

    def partner_id(self, report_id: int) -> str | None:
        """The service_request_id a partner was given for a report, if any."""
        report = self.session.get(Report, report_id)
        value = (report.attributes or {}).get(PARTNER_ID_KEY) if report is not None else None
        return str(value) if value else None

    def case_of_report(self, report_id: int) -> int | None:
        """The case a report belongs to now (reports move with a merge)."""
        return self.session.scalar(select(Report.case_id).where(Report.id == report_id))

    def partner_ids(self, case_ids: Sequence[int]) -> dict[int, list[tuple[int, str]]]:
        """(report id, partner request id) of every Open311 report of the given cases, by case id."""
        out: dict[int, list[tuple[int, str]]] = {cid: [] for cid in case_ids}
        if not case_ids:
            return out
        rows = self.session.execute(
            select(Report.id, Report.case_id, Report.attributes)
            .where(Report.case_id.in_(list(case_ids)), Report.channel == "open311")
            .order_by(Report.id)
        ).all()
        for row in rows:
            value = (row.attributes or {}).get(PARTNER_ID_KEY)
            if value:
                out[row.case_id].append((row.id, str(value)))
        return out
