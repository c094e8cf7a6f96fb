"""The public case list (/kasus): read the citizen's filters, then one page, the map's points or a feed.

Every item is an open-data record (`records.public_record`): built from the whitelist of public fields, with
sensitive and anonymous cases coarsened exactly as in the open data. The words of a sensitive case are never
searched (its title and description are not public).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from kotapintar.cases.lifecycle import OPEN_STATUS_CODES, CaseStatus
from kotapintar.catalog import service as catalog_service
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.portal.filters import PortalFilter, search_words
from kotapintar.portal.records import feature, public_record
from kotapintar.portal.repository import PublicRepository

PAGE_SIZE = 20
MAX_PAGE = 10_000
FEED_SIZE = 50
MAP_LIMIT = 5000
OPEN = "terbuka"
# What the status box offers: every public status (never `merged`: merged duplicates are not listed).
PUBLIC_STATUSES: tuple[str, ...] = tuple(s.value for s in CaseStatus if s is not CaseStatus.MERGED)
# Query parameters of a filter, in the order the links carry them.
PARAMS = ("q", "layanan", "kecamatan", "desa", "status", "dari", "sampai")


@dataclass(frozen=True)
class Choices:
    """What the filter boxes offer: services, kecamatan and desa (grouped by kecamatan), by code."""

    services: list[tuple[str, str]]
    kecamatan: list[tuple[str, str]]
    desa: list[tuple[str, str, str]]  # code, name, kecamatan code

    def service_name(self, code: str | None) -> str | None:
        """The name of a service code (None when unknown)."""
        return dict(self.services).get(code or "")

    def desa_of(self, kecamatan_code: str) -> list[tuple[str, str]]:
        """The desa of one kecamatan as (code, name)."""
        return [(code, name) for code, name, parent in self.desa if parent == kecamatan_code]

    def region_name(self, code: str | None) -> str | None:
        """The name of a kecamatan or desa code (None when unknown)."""
        names = dict(self.kecamatan) | {d[0]: d[1] for d in self.desa}
        return names.get(code or "")


@dataclass(frozen=True)
class Query:
    """The filter as read from a request: the filter itself, the raw values to show back, the errors."""

    filter: PortalFilter
    values: dict[str, str]
    errors: dict[str, str] = field(default_factory=dict)  # parameter -> i18n key
    page: int = 1

    def link(self, **changes: str | int | None) -> str:
        """The query string of this filter with `changes` (e.g. `halaman=3`); empty values and page 1 are
        left out, so every filter has one canonical, shareable address."""
        values = {k: self.values.get(k, "") for k in PARAMS}
        values.update({k: "" if v is None else str(v) for k, v in changes.items()})
        if values.get("halaman") == "1":
            values["halaman"] = ""
        return urlencode([(k, v) for k, v in values.items() if v])


@dataclass(frozen=True)
class Page:
    """One page of the list: its records, how many match in all, and where the page stands."""

    items: list[dict[str, Any]]
    total: int
    page: int
    pages: int
    search_mode: str

    @property
    def first(self) -> int:
        """The 1-based number of the first item on this page (0 when empty)."""
        return (self.page - 1) * PAGE_SIZE + 1 if self.items else 0

    @property
    def last(self) -> int:
        """The 1-based number of the last item on this page (0 when empty)."""
        return self.first + len(self.items) - 1 if self.items else 0


def choices(db: Database, locale: str = "id") -> Choices:
    """The services (named in `locale` where the catalogue has it) and regions the filter boxes offer."""
    english = locale == "en"
    services = sorted(
        (
            (s.code, (s.name_en if english and s.name_en else s.name))
            for s in catalog_service.services(db, active_only=False)
        ),
        key=lambda s: s[1],
    )
    kec = sorted(((r.code, r.name) for r in catalog_service.regions(db, "kecamatan")), key=lambda r: r[1])
    desa = sorted(
        ((r.code, r.name, r.parent_code or "") for r in catalog_service.regions(db, "desa")),
        key=lambda r: r[1],
    )
    return Choices(services, kec, desa)


def _day(raw: str) -> date | None:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        raise ValueError(raw)
    return date.fromisoformat(raw)


def _ticket_shape(text: str, prefix: str) -> str | None:
    clean = text.strip().upper()
    return clean if re.fullmatch(rf"{re.escape(prefix.upper())}-\d{{4}}-\d{{1,12}}", clean) else None


def read_query(params: dict[str, str], settings: Settings, options: Choices) -> Query:
    """The citizen's filter from query parameters; a value that cannot be used is dropped and named in
    `errors` (an i18n key), so the page says what to fix and still lists with the other filters."""
    values = {k: (params.get(k) or "").strip()[:200] for k in PARAMS}
    errors: dict[str, str] = {}
    service = values["layanan"] or None
    if service and options.service_name(service) is None:
        errors["layanan"], service = "portal.error.service", None
    kecamatan = values["kecamatan"] or None
    if kecamatan and kecamatan not in dict(options.kecamatan):
        errors["kecamatan"], kecamatan = "portal.error.region", None
    desa = values["desa"] or None
    if desa and desa not in {d[0] for d in options.desa}:
        errors["desa"], desa = "portal.error.region", None
    status = values["status"]
    statuses: tuple[str, ...] = ()
    if status == OPEN:
        statuses = OPEN_STATUS_CODES
    elif status in PUBLIC_STATUSES:
        statuses = (status,)
    elif status:
        errors["status"] = "portal.error.status"
    zone = ZoneInfo(settings.timezone)
    days: dict[str, date | None] = {}
    for key in ("dari", "sampai"):
        try:
            days[key] = _day(values[key]) if values[key] else None
        except ValueError:
            errors[key], days[key] = "portal.error.date", None
    start, end = days["dari"], days["sampai"]
    if start and end and start > end:
        errors["sampai"], end = "portal.error.date_order", None
    page = 1
    raw_page = (params.get("halaman") or "").strip()
    if raw_page:
        if raw_page.isdigit() and 1 <= int(raw_page) <= MAX_PAGE:
            page = int(raw_page)
        else:
            errors["halaman"] = "portal.error.page"
    flt = PortalFilter(
        service=service,
        kecamatan=kecamatan,
        desa=desa,
        statuses=statuses,
        created_from=datetime.combine(start, time(0), zone).astimezone(UTC) if start else None,
        created_to=datetime.combine(end + timedelta(days=1), time(0), zone).astimezone(UTC) if end else None,
        words=search_words(values["q"]),
        ticket=_ticket_shape(values["q"], settings.ticket_prefix),
    )
    return Query(flt, values, errors, page)


def _record(row: Any) -> dict[str, Any]:
    record = public_record(row)
    record["url"] = f"/kasus/{record['ticket']}" if record["ticket"] else None
    record["when"] = row.created_at  # for the page's own date formats (the record carries ISO text)
    return record


def list_page(db: Database, query: Query) -> Page:
    """The page of public cases the query asks for, newest first, with the total that match."""
    with db.reading() as uow:
        repo = uow.repo(PublicRepository)
        total = repo.count(query.filter)
        pages = max(1, math.ceil(total / PAGE_SIZE))
        rows = repo.search(query.filter, offset=(query.page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        mode = repo.fts_mode()
    return Page([_record(r) for r in rows], total, query.page, pages, mode)


def newest(db: Database, query: Query, *, limit: int = FEED_SIZE) -> list[dict[str, Any]]:
    """The newest public cases of a filter (for the feed), as records."""
    with db.reading() as uow:
        rows = uow.repo(PublicRepository).search(query.filter, offset=0, limit=limit)
    return [_record(r) for r in rows]


def map_features(db: Database, query: Query, *, limit: int = MAP_LIMIT) -> list[dict[str, Any]]:
    """The located public cases of a filter as GeoJSON features, each linking to its public page."""
    with db.reading() as uow:
        rows = uow.repo(PublicRepository).search(query.filter, offset=0, limit=limit, located_only=True)
    features = []
    for row in rows:
        record = _record(row)
        if record["lon"] is None or record["lat"] is None:
            continue
        record.pop("when")
        item = feature(record)
        item["properties"]["url"] = record["url"]
        features.append(item)
    return features
