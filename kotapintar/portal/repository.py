"""All SQL of the public portal: pages of the public (non-confidential, non-merged) cases.

Full-text search: SQLite uses the FTS5 table `cases_fts` (migration 0011, kept by triggers), PostgreSQL the
GIN index on `to_tsvector('simple', title || ' ' || description)`; a SQLite without FTS5 (or whose triggers
a later table rebuild dropped) falls back to LIKE over the same two columns. Cases of sensitive services are
never matched by words: their title and description are not public.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, literal, or_, select, text
from sqlalchemy.orm import Session

from kotapintar.cases.models import Case, Report
from kotapintar.catalog.models import Service
from kotapintar.portal.filters import PortalFilter

# The PostgreSQL expression of index ix_cases_fts_simple (migration 0011), written the same way.
_PG_MATCH = text(
    "to_tsvector('simple', coalesce(cases.title, '') || ' ' || coalesce(cases.description, '')) "
    "@@ to_tsquery('simple', :portal_tsquery)"
)
_SQLITE_MATCH = text("cases.id IN (SELECT rowid FROM cases_fts WHERE cases_fts MATCH :portal_fts)")


def _public_columns() -> tuple[Any, ...]:
    return (
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


def _escape_like(word: str) -> str:
    return word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class PublicRepository:
    """The portal's reads; every row it returns is public by construction (its WHERE clause)."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def _public(self, *columns: Any) -> Select[Any]:
        return (
            select(*columns)
            .join(Service, Service.code == Case.service_code)
            .where(Case.confidential.is_(False), Case.status != "merged")
        )

    def public_page(
        self,
        *,
        after_id: int,
        limit: int,
        statuses: Sequence[str] = (),
        since: datetime | None = None,
    ) -> Sequence[Any]:
        """One keyset page (ids above `after_id`) of non-confidential, non-merged cases with service facts."""
        stmt = self._public(*_public_columns()).where(Case.id > after_id)
        if statuses:
            stmt = stmt.where(Case.status.in_(statuses))
        if since is not None:
            stmt = stmt.where(Case.created_at >= since)
        return self.session.execute(stmt.order_by(Case.id).limit(limit)).all()

    # ------------------------------------------------------------------ the filtered portal list

    def fts_mode(self) -> str:
        """How words are matched here: `fts5`, `tsvector` or `like`."""
        dialect = self.session.get_bind().dialect.name
        if dialect == "postgresql":
            return "tsvector"
        if dialect == "sqlite":
            found = self.session.execute(
                text("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'cases_fts_a_'")
            ).scalar_one()
            return "fts5" if int(found) == 3 else "like"
        return "like"

    def _words_clause(self, words: Sequence[str]) -> ColumnElement[bool]:
        mode = self.fts_mode()
        if mode == "tsvector":
            query = " & ".join(f"{w}:*" for w in words)
            return _PG_MATCH.bindparams(portal_tsquery=query)  # type: ignore[return-value]
        if mode == "fts5":
            query = " AND ".join(f'"{w}"*' for w in words)
            return _SQLITE_MATCH.bindparams(portal_fts=query)  # type: ignore[return-value]
        haystack = func.lower(
            func.coalesce(Case.title, "") + literal(" ") + func.coalesce(Case.description, "")
        )
        return and_(*[haystack.like(f"%{_escape_like(w)}%", escape="\\") for w in words])

    def _filtered(self, stmt: Select[Any], flt: PortalFilter) -> Select[Any]:
        if flt.service:
            stmt = stmt.where(Case.service_code == flt.service)
        if flt.desa:
            stmt = stmt.where(Case.region_code == flt.desa)
        elif flt.kecamatan:
            stmt = stmt.where(Case.kecamatan_code == flt.kecamatan)
        if flt.statuses:
            stmt = stmt.where(Case.status.in_(flt.statuses))
        if flt.created_from is not None:
            stmt = stmt.where(Case.created_at >= flt.created_from)
        if flt.created_to is not None:
            stmt = stmt.where(Case.created_at < flt.created_to)
        matches: list[ColumnElement[bool]] = []
        if flt.words:
            matches.append(and_(Service.sensitive.is_(False), self._words_clause(flt.words)))
        if flt.ticket:
            matches.append(Case.ticket == flt.ticket)
        if matches:
            stmt = stmt.where(or_(*matches))
        return stmt

    def count(self, flt: PortalFilter) -> int:
        """How many public cases the filter keeps."""
        stmt = self._filtered(self._public(func.count(Case.id)), flt)
        return int(self.session.execute(stmt).scalar_one())

    def search(
        self, flt: PortalFilter, *, offset: int, limit: int, located_only: bool = False
    ) -> Sequence[Any]:
        """One page of the public cases the filter keeps, newest first."""
        stmt = self._filtered(self._public(*_public_columns()), flt)
        if located_only:
            stmt = stmt.where(Case.lon.is_not(None), Case.lat.is_not(None))
        stmt = stmt.order_by(Case.created_at.desc(), Case.id.desc()).offset(offset).limit(limit)
        return self.session.execute(stmt).all()
