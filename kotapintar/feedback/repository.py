"""SQL of the answer loop and the IKM survey: survey rows, and the IKM sums grouped in the database."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case
from kotapintar.feedback.models import SurveyResponse
from kotapintar.intake.models import Subscription
from kotapintar.metrics.ikm import ELEMENTS


@dataclass(frozen=True)
class IkmSums:
    """One group's sums and counts per element, respondents, and the cases closed (the population)."""

    key: str
    totals: dict[str, int]
    answered: dict[str, int]
    respondents: int


class FeedbackRepository:
    """Queries and writes of the survey table, over the unit of work's session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def response(self, case_id: int, *, for_update: bool = False) -> SurveyResponse | None:
        """The survey row of a case, if its reporter started the survey."""
        stmt = select(SurveyResponse).where(SurveyResponse.case_id == case_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def add(self, row: SurveyResponse) -> SurveyResponse:
        """Store a new survey row."""
        self.session.add(row)
        self.session.flush()
        return row

    def subscribed_cases(self, channel: str, address: str, statuses: Sequence[str]) -> Sequence[Case]:
        """The cases this sender reported on this channel that are in one of `statuses`, newest first."""
        return self.session.scalars(
            select(Case)
            .join(Subscription, Subscription.case_id == Case.id)
            .where(
                Subscription.channel == channel, Subscription.address == address, Case.status.in_(statuses)
            )
            .order_by(Case.updated_at.desc(), Case.id.desc())
            .limit(5)
        ).all()

    def ikm_sums(
        self, group: str, since: datetime | None, until: datetime | None, agency: str | None = None
    ) -> list[IkmSums]:
        """SUM and COUNT of every element per `group` ('agency', 'service' or 'all'), one GROUP BY."""
        column: Any
        if group == "agency":
            column = SurveyResponse.agency_code
        elif group == "service":
            column = SurveyResponse.service_code
        else:
            column = literal("all")
        elements = [getattr(SurveyResponse, code) for code in ELEMENTS]
        answered_any = func.coalesce(*elements)
        stmt = select(
            column.label("key"),
            func.count(answered_any),
            *[func.coalesce(func.sum(col), 0) for col in elements],
            *[func.count(col) for col in elements],
        )
        if since is not None:
            stmt = stmt.where(SurveyResponse.created_at >= since)
        if until is not None:
            stmt = stmt.where(SurveyResponse.created_at < until)
        if agency is not None:
            stmt = stmt.where(SurveyResponse.agency_code == agency)
        if group in ("agency", "service"):
            stmt = stmt.group_by(column)
        out: list[IkmSums] = []
        n = len(ELEMENTS)
        for row in self.session.execute(stmt).all():
            if row[0] is None and group != "all":
                continue
            values = list(row)
            out.append(
                IkmSums(
                    key=str(values[0] or "all"),
                    respondents=int(values[1] or 0),
                    totals={code: int(values[2 + i] or 0) for i, code in enumerate(ELEMENTS)},
                    answered={code: int(values[2 + n + i] or 0) for i, code in enumerate(ELEMENTS)},
                )
            )
        return out

    def closed_counts(
        self, group: str, since: datetime | None, until: datetime | None, agency: str | None = None
    ) -> dict[str, int]:
        """Cases closed in the period per `group` (the population a sample size is judged against)."""
        column: Any
        if group == "agency":
            column = Case.agency_code
        elif group == "service":
            column = Case.service_code
        else:
            column = literal("all")
        stmt = select(column, func.count()).where(Case.closed_at.is_not(None))  # count(*): index-only
        if since is not None:
            stmt = stmt.where(Case.closed_at >= since)
        if until is not None:
            stmt = stmt.where(Case.closed_at < until)
        if agency is not None:
            stmt = stmt.where(Case.agency_code == agency)
        if group in ("agency", "service"):
            stmt = stmt.group_by(column)
        return {str(k or "all"): int(v) for k, v in self.session.execute(stmt).all() if k is not None}
