"""Operators and triage: the triage queue, corrections of service/priority, and their export for training."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kotapintar.cases.lifecycle import CaseStatus, Priority
from kotapintar.cases.repository import CaseRepository
from kotapintar.catalog.repository import ServiceRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.triage.repository import TriageRepository

QUEUE_STATUSES = (CaseStatus.RECEIVED.value, CaseStatus.VERIFIED.value)


@dataclass(frozen=True)
class Correction:
    """What a correction changed."""

    case_id: int
    service: str
    priority: str
    previous_service: str
    previous_priority: str


@dataclass(frozen=True)
class QueueItem:
    """A case waiting for an operator's look: why, and what triage suggests."""

    case_id: int
    ticket: str | None
    service: str
    priority: str
    status: str
    created_at: str
    reasons: list[str]  # low_confidence | possible_duplicate | location_unknown
    suggestions: list[tuple[str, float]] = field(default_factory=list)
    possible_duplicates: list[tuple[int, float]] = field(default_factory=list)
    cues: list[str] = field(default_factory=list)
    precision: str = "unknown"
    other_issues: list[str] = field(default_factory=list)  # other services a multi-issue report names
    priority_reason: str | None = None  # triage.classify.priority reason code

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form for the API and the web UI."""
        return {
            "case_id": self.case_id,
            "ticket": self.ticket,
            "service": self.service,
            "priority": self.priority,
            "status": self.status,
            "created_at": self.created_at,
            "reasons": self.reasons,
            "suggestions": [{"service": s, "confidence": c} for s, c in self.suggestions],
            "possible_duplicates": [{"case_id": c, "score": s} for c, s in self.possible_duplicates],
            "cues": self.cues,
            "precision": self.precision,
            "other_issues": self.other_issues,
            "priority_reason": self.priority_reason,
        }


def correct_triage(
    db: Database,
    actor: Actor,
    case_id: int,
    service: str | None = None,
    priority: str | None = None,
    reason: str | None = None,
) -> Correction:
    """An operator fixes triage's service and/or priority of an open case; recorded for the learning loop.

    `reason` (why triage was wrong) goes into the `triage_corrected` event, so whoever reviews a retrained
    candidate can read why the label changed.
    """
    actor.require(Permission.TRIAGE_CASES)
    if service is None and priority is None:
        raise ValidationFailed("Isi layanan dan/atau prioritas yang benar.", field="service")
    if priority is not None and priority not in {p.value for p in Priority}:
        raise ValidationFailed(f"Prioritas '{priority}' tidak sah; pilih P1..P4.", field="priority")
    with db.transaction() as uow:
        case = TriageRepository(uow.session).case_for_update(case_id)
        if case is None or uow.repo(CaseRepository).visible(case_id, actor.case_scope()) is None:
            raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.", case_id=case_id)
        if not CaseStatus(case.status).is_open:
            raise Conflict(
                f"Kasus {case.ticket or case_id} sudah {case.status}; triase hanya untuk kasus terbuka.",
                case_id=case_id,
            )
        if service is not None and uow.repo(ServiceRepository).get(service) is None:
            raise ValidationFailed(f"Layanan '{service}' tidak dikenal.", field="service")
        now = utcnow()
        before_service, before_priority = case.service_code, case.priority
        new_service = service or before_service
        new_priority = priority or before_priority
        stream = case_stream(case_id)
        if new_service != before_service:
            case.service_code = new_service
            uow.events.append(
                stream=stream,
                case_id=case_id,
                type=EventType.SERVICE_CHANGED,
                actor=actor.name,
                at=now,
                payload={"from": before_service, "to": new_service, "by": "triage_correction"},
            )
        if new_priority != before_priority:
            case.priority = new_priority
            uow.events.append(
                stream=stream,
                case_id=case_id,
                type=EventType.PRIORITY_CHANGED,
                actor=actor.name,
                at=now,
                payload={"from": before_priority, "to": new_priority, "by": "triage_correction"},
            )
        case.updated_at = now
        uow.events.append(
            stream=stream,
            case_id=case_id,
            type=EventType.TRIAGE_CORRECTED,
            actor=actor.name,
            at=now,
            payload={
                "service": new_service,
                "priority": new_priority,
                "previous_service": before_service,
                "previous_priority": before_priority,
                **({"reason": reason.strip()[:500]} if reason and reason.strip() else {}),
            },
        )
    return Correction(case_id, new_service, new_priority, before_service, before_priority)


def triage_queue(db: Database, actor: Actor, limit: int = 100) -> list[QueueItem]:
    """Open cases not yet confirmed whose triage was unsure (low confidence, possible duplicate, no place).

    Newest first; a case leaves the queue once an operator corrected (or confirmed) its triage.
    """
    actor.require(Permission.TRIAGE_CASES)
    items: list[QueueItem] = []
    with db.reading() as uow:
        scanned = TriageRepository(uow.session).queue_events(QUEUE_STATUSES, limit=max(limit * 5, 200))
    for case, events in scanned:
        if any(e.type == EventType.TRIAGE_CORRECTED for e in events):
            continue
        reasons: list[str] = []
        suggestions: list[tuple[str, float]] = []
        duplicates: list[tuple[int, float]] = []
        cues: list[str] = []
        others: list[str] = []
        reason: str | None = None
        precision = "unknown"
        for event in events:
            payload = event.payload or {}
            if event.type == EventType.CASE_CREATED:
                precision = str(payload.get("precision") or "unknown")
            elif event.type == EventType.TRIAGE_SUGGESTED:
                if payload.get("needs_review"):
                    reasons.append("low_confidence")
                if payload.get("possible_duplicates"):
                    reasons.append("possible_duplicate")
                suggestions = [(str(s), float(c)) for s, c in payload.get("suggestions") or []]
                duplicates = [(int(c), float(s)) for c, s in payload.get("possible_duplicates") or []]
                cues = [str(c) for c in payload.get("cues") or []]
                others = [str(c) for c in payload.get("other_issues") or []]
                reason = str(payload["priority_reason"]) if payload.get("priority_reason") else None
        if precision == "unknown" and case.lon is None:
            reasons.append("location_unknown")
        if not reasons:
            continue
        items.append(
            QueueItem(
                case_id=case.id,
                ticket=case.ticket,
                service=case.service_code,
                priority=case.priority,
                status=case.status,
                created_at=case.created_at.isoformat(),
                reasons=reasons,
                suggestions=suggestions,
                possible_duplicates=duplicates,
                cues=cues,
                precision=precision,
                other_issues=others,
                priority_reason=reason,
            )
        )
        if len(items) >= limit:
            break
    return items


def export_corrections(db: Database, out: Path) -> int:
    """Write every triage correction as `{"text", "service", "urgency"}` JSONL (what `train` reads).

    The text is read from the case (never stored in the event log); the latest correction of a case wins.
    Returns the number of lines written.
    """
    latest: dict[int, dict[str, Any]] = {}
    with db.reading() as uow:
        for event in uow.events.of_type(EventType.TRIAGE_CORRECTED):
            if event.case_id is not None:
                latest[event.case_id] = dict(event.payload or {})
        texts = {}
        for case_id in latest:
            case = uow.repo(CaseRepository).get(case_id)
            if case is not None:
                texts[case_id] = case.description
    out.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {"text": texts[cid], "service": p.get("service"), "urgency": p.get("priority")},
            ensure_ascii=False,
        )
        for cid, p in sorted(latest.items())
        if cid in texts
    ]
    out.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)
