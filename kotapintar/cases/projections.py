"""Rebuilding case rows from the event log and comparing them with the tables (`audit verify --projections`).

The hash chains protect the events; the `cases` and `reporters` rows are projections of them that a database
admin could edit directly. This module recomputes, per case, the status, service, priority and ticket the
events say, and checks every reporter row against the fingerprint its report's event recorded (a salted
SHA-256 of the personal data, never the data itself), naming each row that no longer matches.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from kotapintar.cases.models import Case, Reporter
from kotapintar.cases.repository import CaseRepository, ReportRepository
from kotapintar.core.db.database import Database
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType

# Events whose payload `to` is the case's new status.
STATUS_MOVES = frozenset(
    {
        EventType.CASE_VERIFIED,
        EventType.CASE_ASSIGNED,
        EventType.CASE_STARTED,
        EventType.CASE_RESOLVED,
        EventType.CASE_CLOSED,
        EventType.CASE_REOPENED,
        EventType.CASE_REJECTED,
        EventType.CASE_MERGED,
        EventType.CASE_UNMERGED,
    }
)
_PAGE = 500


def pii_fingerprint(
    name: str | None, phone: str | None, email: str | None, nik: str | None, salt: str | None = None
) -> str:
    """`salt$sha256(salt|name|phone|email|nik)`: proves the personal data later, without storing it."""
    salt = salt or secrets.token_hex(8)
    text = "|".join([salt, name or "", phone or "", email or "", nik or ""])
    return f"{salt}${hashlib.sha256(text.encode('utf-8')).hexdigest()}"


def reporter_matches(fingerprint: str, reporter: Reporter) -> bool:
    """True when the reporter row still holds the personal data the fingerprint was taken of."""
    salt, _, _digest = fingerprint.partition("$")
    again = pii_fingerprint(reporter.name, reporter.phone, reporter.email, reporter.nik, salt)
    return hmac.compare_digest(again, fingerprint)


@dataclass
class Projected:
    """What the events say a case row holds."""

    ticket: str | None = None
    status: str | None = None
    service_code: str | None = None
    priority: str | None = None


def project(events: list[Any]) -> Projected:
    """Fold a case's events (in sequence order) into the fields of its row."""
    out = Projected()
    for e in events:
        payload = e.payload or {}
        if e.type == EventType.CASE_CREATED:
            out.ticket = payload.get("ticket")
            out.status = payload.get("status")
            out.service_code = payload.get("service")
            out.priority = payload.get("priority")
        elif e.type in STATUS_MOVES and isinstance(payload.get("to"), str):
            out.status = payload["to"]
        elif e.type == EventType.SERVICE_CHANGED and isinstance(payload.get("to"), str):
            out.service_code = payload["to"]
        elif e.type == EventType.PRIORITY_CHANGED and isinstance(payload.get("to"), str):
            out.priority = payload["to"]
    return out


def _cases(db: Database) -> Iterator[Case]:
    before: int | None = None
    while True:
        with db.reading() as uow:
            rows = list(uow.repo(CaseRepository).all_by_id_desc(before, _PAGE))
        yield from rows
        if len(rows) < _PAGE:
            return
        before = rows[-1].id


def _check_case(db: Database, case: Case, received: dict[int, dict[str, Any]]) -> list[str]:
    with db.reading() as uow:
        events = list(uow.events.stream_events(case_stream(case.id)))
        reports = list(uow.repo(ReportRepository).for_case(case.id))
        reporters = uow.repo(ReportRepository).reporters([r.reporter_id for r in reports if r.reporter_id])
    if not events:
        return [f"case {case.id}: has no events at all (created or rewritten outside the log)"]
    problems: list[str] = []
    projected = project(events)
    for name in ("ticket", "status", "service_code", "priority"):
        table, logged = getattr(case, name), getattr(projected, name)
        if logged is not None and table != logged:
            problems.append(f"case {case.id}: {name} is '{table}' in the table but the events say '{logged}'")
    for report in reports:
        if not report.reporter_id:
            continue
        fingerprint = (received.get(report.id) or {}).get("reporter_sha256")
        person = reporters.get(report.reporter_id)
        if isinstance(fingerprint, str) and person is not None and not reporter_matches(fingerprint, person):
            problems.append(
                f"report {report.id} (case {case.id}): the reporter's personal data was changed outside the log"
            )
    return problems


def check_projections(db: Database) -> tuple[int, list[str]]:
    """(cases checked, every mismatch between the tables and what the events say)."""
    with db.reading() as uow:
        received = {
            int(e.payload["report_id"]): dict(e.payload)
            for e in uow.events.of_type(EventType.REPORT_RECEIVED)
            if isinstance((e.payload or {}).get("report_id"), int)
        }
    checked, problems = 0, []
    for case in _cases(db):
        checked += 1
        problems.extend(_check_case(db, case, received))
    return checked, problems
