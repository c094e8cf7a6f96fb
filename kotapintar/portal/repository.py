"""All SQL of the public portal: keyset pages of the public (non-confidential, non-merged) cases."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case, Report
from kotapintar.catalog.models import Service


class PublicRepository:
    """The portal's reads; every row it returns is public by construction (its WHERE clause)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def public_page(
        self,
        *,
        after_id: int,
        limit: int,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
    ) -> Sequence[Any]:
        """One keyset page (ids above `after_id`) of non-confidential, non-merged cases with service facts."""
        stmt = (
            select(
                Case.id,
                Case.ticket,
                Case.service_code,
                Service.name.label("service_name"),
                Service.sensitive,
                exists()
                .where(Report.case_id == Case.id, Report.anonymous.is_(True))
                .correlate(Case)
                .label("anonymous"),
                Case.priority,
                Case.status,
                Case.title,
                Case.lon,
                Case.lat,
                Case.region_code,
                Case.kecamatan_code,
                Case.agency_code,
                Case.channel,
                Case.created_at,
                Case.updated_at,
                Case.resolved_at,
                Case.closed_at,
            )
            .join(Service, Service.code == Case.service_code)
            .where(Case.confidential.is_(False), Case.status != "merged", Case.id > after_id)
        )
        if statuses:
            stmt = stmt.where(Case.status.in_(statuses))
        if since is not None:
            stmt = stmt.where(Case.created_at >= since)
        return self.session.execute(stmt.order_by(Case.id).limit(limit)).all()
