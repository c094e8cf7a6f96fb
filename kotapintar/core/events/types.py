"""Event types of the case log and the canonical form that the hash chain is computed over."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

GENESIS_HASH = "0" * 64


class EventType(StrEnum):
    """Everything that can happen to a case. Names are `noun_verb_past`; new parts add their own here."""

    REPORT_RECEIVED = "report_received"
    CASE_CREATED = "case_created"
    CASE_VERIFIED = "case_verified"
    CASE_ASSIGNED = "case_assigned"
    CASE_STARTED = "case_started"
    CASE_RESOLVED = "case_resolved"
    CASE_CLOSED = "case_closed"
    CASE_REOPENED = "case_reopened"
    CASE_REJECTED = "case_rejected"
    CASE_MERGED = "case_merged"
    REPORT_MERGED = "report_merged"
    CASE_UNMERGED = "case_unmerged"  # a merge undone: the case is open again with its reports (issue 15)
    REPORT_UNMERGED = "report_unmerged"  # on the former survivor: the reports that went back
    NOTE_ADDED = "note_added"
    PUBLIC_REPLY_ADDED = "public_reply_added"  # a note written for the public (the reporter reads it)
    PRIORITY_CHANGED = "priority_changed"
    SERVICE_CHANGED = "service_changed"
    # SOP engine and tasks
    SOP_STARTED = "sop_started"
    TASK_CREATED = "task_created"
    TASK_ACCEPTED = "task_accepted"
    TASK_REJECTED = "task_rejected"
    TASK_HANDED_OVER = "task_handed_over"
    TASK_DUE_SET = "task_due_set"
    TASK_PROGRESS = "task_progress"
    TASK_COMPLETED = "task_completed"
    TASK_CANCELLED = "task_cancelled"
    TASK_REMINDED = "task_reminded"
    TASK_ESCALATED = "task_escalated"
    CASE_ESCALATED = "case_escalated"
    ANSWER_DRAFTED = "answer_drafted"
    ANSWER_APPROVED = "answer_approved"
    CITIZEN_NOTIFIED = "citizen_notified"
    AGENCY_NOTIFIED = "agency_notified"  # an SOP notification for staff (reminder, overdue, approval, ...)
    TASK_METRIC = "task_metric"  # time_to_accept / time_to_complete with met/breached, read by analytics
    CASE_REROUTED = "case_rerouted"  # the operator re-routed the case to another responsible agency
    CLOSURE_CONFIRMED = "closure_confirmed"  # the second-party check of a resolved case (citizen/operator)
    SURVEY_ANSWERED = "survey_answered"  # the reporter answered (or stopped) the IKM survey of a closed case
    SOP_PUBLISHED = "sop_published"  # a new immutable SOP version (system stream)
    # Emergency timeline (NFPA 1710 / 1221 segments are computed from these)
    CALL_RECEIVED = "call_received"
    CALL_ANSWERED = "call_answered"
    UNIT_DISPATCHED = "unit_dispatched"
    UNIT_EN_ROUTE = "unit_en_route"
    UNIT_ON_SCENE = "unit_on_scene"
    UNIT_CLEARED = "unit_cleared"
    UNIT_STATUS_CHANGED = "unit_status_changed"
    # Triage and sensors
    TRIAGE_SUGGESTED = "triage_suggested"
    TRIAGE_CORRECTED = "triage_corrected"
    TRIAGE_MODEL_PROMOTED = (
        "triage_model_promoted"  # a retrained classifier replaced the shipped one (system)
    )
    DUPLICATE_SUSPECTED = "duplicate_suspected"
    OBSERVATIONS_ATTACHED = "observations_attached"
    SENSOR_LEVEL_CHANGED = "sensor_level_changed"
    SENSOR_WARNING_ENDED = "sensor_warning_ended"
    # Triage: a routing override learned from a `bukan_wewenang` rejection
    ROUTING_OVERRIDE_LEARNED = "routing_override_learned"


def utcnow() -> datetime:
    """The current time as an aware UTC datetime; the only clock the domain uses."""
    return datetime.now(UTC)


def iso_utc(moment: datetime) -> str:
    """A fixed-width ISO 8601 UTC form (microseconds, `Z`), so the same instant always hashes alike."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the bytes an event's hash is computed over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


@dataclass(frozen=True)
class EventContent:
    """The fields of an event that the hash chain protects."""

    case_id: int
    seq: int
    type: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any] = field(default_factory=dict)

    def canonical(self) -> str:
        """The canonical text of this event's content."""
        return canonical_json(
            {
                "case_id": self.case_id,
                "seq": self.seq,
                "type": self.type,
                "actor": self.actor,
                "occurred_at": iso_utc(self.occurred_at),
                "payload": self.payload,
            }
        )


def chain_hash(prev_hash: str, content: EventContent) -> str:
    """SHA-256 over the previous event's hash and this event's canonical content."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(content.canonical().encode("utf-8"))
    return digest.hexdigest()
