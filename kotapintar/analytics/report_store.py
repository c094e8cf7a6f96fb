"""The monthly report on a schedule: the worker generates last month's report (city-wide and per agency) once
the month has ended, keeps it in the database, and /supervisor lists the kept ones for download.

Once, even with several workers: the loop runs only while its process holds the `monthly-report` advisory
lock (`app.roles`), and the table's unique (month, agency) makes a second copy impossible anyway — a worker
that loses a race finds the row there and moves on. Generated figures are frozen as they were on the day
of generation (a meeting discusses the file it received; a fresh one is always one click away on
/analitik/laporan.pdf).
"""

from __future__ import annotations

import io
import logging
import threading
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kotapintar.analytics.models import StoredReport
from kotapintar.analytics.report import build_monthly, month_scope, to_csv, to_pdf
from kotapintar.analytics.repository import AnalyticsRepository
from kotapintar.core.access.actors import Actor, system_actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings

log = logging.getLogger(__name__)
CHECK_EVERY_S = 600.0  # a missing report appears within ten minutes of the month's end
FIRST_CHECK_AFTER_S = 60.0  # let a starting worker settle (and short-lived workers skip it) before building
CITY = ""  # the agency column of the city-wide report


@dataclass(frozen=True)
class StoredInfo:
    """A kept report without its bytes (what the list on /supervisor shows)."""

    id: int
    month: str
    agency: str
    pdf_bytes: int
    created_at: datetime

    @property
    def stem(self) -> str:
        """The download's file name without extension: laporan-2026-11[-pupr]."""
        return f"laporan-{self.month}" + (f"-{self.agency}" if self.agency else "")


def previous_month(now: datetime, tz: str) -> str:
    """The local calendar month before the one `now` falls in (YYYY-MM)."""
    first = now.astimezone(ZoneInfo(tz)).replace(day=1)
    return (first - timedelta(days=1)).strftime("%Y-%m")


def _zip(tables: dict[str, str], stem: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in tables.items():
            archive.writestr(f"{stem}-{name}", text.encode("utf-8"))
    return out.getvalue()


def _existing(db: Database, month: str) -> set[str]:
    with db.reading() as uow:
        return set(uow.session.scalars(select(StoredReport.agency).where(StoredReport.month == month)))


def agencies_with_work(db: Database, month: str, tz: str) -> list[str]:
    """The agencies a monthly report has something to say about (AnalyticsRepository.agencies_with_work):
    an agency with no work in the month gets no report; 18 empty PDFs a month bury the few that matter."""
    scope = month_scope(month, tz, None)
    with db.reading() as uow:
        return AnalyticsRepository(uow.session).agencies_with_work(scope.since, scope.until)


def generate_month(db: Database, settings: Settings, month: str, *, now: datetime | None = None) -> list[str]:
    """Generate and keep the month's missing reports (city-wide first, then each agency that had work);
    returns the agency codes stored by this call ('' for the city-wide one). Reports already kept are left
    as they are."""
    actor = system_actor("report")
    done = _existing(db, month)
    stored: list[str] = []
    for agency in [CITY, *agencies_with_work(db, month, settings.timezone)]:
        if agency in done:
            continue
        report = build_monthly(db, actor, month, agency or None, settings=settings)
        stem = f"laporan-{month}" + (f"-{agency}" if agency else "")
        pdf = to_pdf(report)
        row = StoredReport(
            month=month,
            agency=agency,
            pdf=pdf,
            csv_zip=_zip(to_csv(report), stem),
            pdf_bytes=len(pdf),
            created_at=now or utcnow(),
            created_by=actor.name,
        )
        try:
            with db.transaction() as uow:
                uow.session.add(row)
        except IntegrityError:  # another worker stored it between our check and our insert
            log.info("report %s %s was stored by another worker", month, agency or "(kota)")
            continue
        stored.append(agency)
    if stored:
        log.info("monthly report %s: %d stored", month, len(stored))
    return stored


def generate_due(db: Database, settings: Settings, now: datetime | None = None) -> list[str]:
    """The scheduled job: once a month has ended, make sure its reports are kept (idempotent)."""
    now = now or utcnow()
    return generate_month(db, settings, previous_month(now, settings.timezone), now=now)


def listing(db: Database, actor: Actor, *, months: int = 12) -> list[StoredInfo]:
    """The kept reports of the newest `months` months, newest month first, city-wide before agencies."""
    actor.require(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        recent = list(
            uow.session.scalars(
                select(StoredReport.month).distinct().order_by(StoredReport.month.desc()).limit(months)
            )
        )
        if not recent:
            return []
        rows = uow.session.execute(
            select(
                StoredReport.id,
                StoredReport.month,
                StoredReport.agency,
                StoredReport.pdf_bytes,
                StoredReport.created_at,
            )
            .where(StoredReport.month.in_(recent))
            .order_by(StoredReport.month.desc(), StoredReport.agency)
        ).all()
    return [StoredInfo(*row) for row in rows]


def fetch(db: Database, actor: Actor, report_id: int, kind: str) -> tuple[str, bytes]:
    """(file name, bytes) of a kept report's PDF ('pdf') or CSV zip ('zip')."""
    actor.require(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        row = uow.session.get(StoredReport, report_id)
        if row is None or kind not in ("pdf", "zip"):
            raise NotFound(f"Laporan {report_id} tidak ditemukan / report not found.")
        info = StoredInfo(row.id, row.month, row.agency, row.pdf_bytes, row.created_at)
        return f"{info.stem}.{kind}", row.pdf if kind == "pdf" else row.csv_zip


@dataclass
class ReportLoop:
    """The worker's thread that runs `generate_due` every `interval_s` (stopped by `stop`)."""

    stop_event: threading.Event
    thread: threading.Thread

    def stop(self) -> None:
        """Stop after the current pass (a report half-built is simply built again next time)."""
        self.stop_event.set()
        self.thread.join(timeout=60)


def start_report_loop(
    db: Database,
    settings: Settings,
    *,
    interval_s: float = CHECK_EVERY_S,
    first_after_s: float = FIRST_CHECK_AFTER_S,
    clock: Callable[[], datetime] = utcnow,
) -> ReportLoop:
    """Start the scheduled generation: a first check `first_after_s` after start (a worker started on the
    3rd catches up), then every `interval_s`. `clock` lets tests set the date by hand."""
    stop = threading.Event()

    def run() -> None:
        stop.wait(first_after_s)
        while not stop.is_set():
            try:
                generate_due(db, settings, clock())
            except Exception:  # a failed pass (database away) is retried next time, never kills the worker
                log.exception("monthly report generation failed")
            stop.wait(interval_s)

    thread = threading.Thread(target=run, name="kp-monthly-report", daemon=True)
    thread.start()
    return ReportLoop(stop, thread)
