"""The citizen's side of a finished case: confirm or dispute the agency's answer, then rate the service (IKM).

Confirming or disputing goes through the SOP (`sop.tasks.confirm_closure`, the reporter acting as the
`citizen` party of the SOP's `closure.confirm_by`): a dispute reopens the case at the SOP's reopen step with
its `case_reopened` event; silence lets the SOP's auto-close timer (N hari kerja, working calendar) close
it. The survey asks the nine elements of PermenPANRB 14/2017, on the web at once or by chat one element per
message; each answer is kept as it comes, so stopping half-way loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.cases.models import Case
from kotapintar.cases.repository import CaseRepository
from kotapintar.cases.schemas import CaseSummary
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import Conflict, NotFound, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.feedback.models import SurveyResponse
from kotapintar.feedback.repository import FeedbackRepository
from kotapintar.metrics.ikm import ELEMENTS, SCALE, IkmScore, score
from kotapintar.sop import tasks as sop_tasks
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.runtime import load_instance

# The regulation's respondent profile: allowed codes of each optional field.
GENDERS = ("L", "P")
EDUCATIONS = ("sd", "smp", "sma", "d1_d4", "s1", "s2", "s3")
OCCUPATIONS = ("pns", "tni", "polri", "swasta", "wirausaha", "lainnya")
# How long after closure a reporter may still answer the survey by chat (the web link keeps working).
SURVEY_CHAT_WINDOW = timedelta(days=30)


@dataclass(frozen=True)
class Answer:
    """An approved agency answer as the reporter reads it."""

    at: datetime
    text: str


@dataclass(frozen=True)
class LoopView:
    """Where a case stands in the answer loop, for the tracking page."""

    answers: list[Answer]
    awaiting_citizen: bool
    deadline: datetime | None
    survey_open: bool
    survey_done: bool


def _awaiting_citizen(db: Database, case_id: int) -> tuple[bool, datetime | None]:
    """True when the SOP waits for the reporter's confirmation; with the auto-close time when one runs."""
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        row = SopRepository(uow.session).instance(case_id)
        if case is None or row is None or case.status != CaseStatus.RESOLVED.value:
            return False, None
        if row.status != "awaiting_closure":
            return False, None
        _row, spec = load_instance(uow, case_id, for_update=False)
        if "citizen" not in spec.closure.confirm_by:
            return False, None
        due = [
            t.due_at for t in SopRepository(uow.session).timers_for_case(case_id) if t.kind == "auto_close"
        ]
        return True, (min(due) if due else None)


def _survey_state(row: SurveyResponse | None) -> tuple[bool, str | None]:
    """(finished, next element to ask): finished when stopped or all nine answered."""
    if row is None:
        return False, ELEMENTS[0]
    if row.stopped_at is not None:
        return True, None
    missing = [code for code in ELEMENTS if getattr(row, code) is None]
    return (not missing), (missing[0] if missing else None)


def loop_view(db: Database, case_id: int) -> LoopView:
    """The approved answers, whether the reporter may confirm/dispute now (and until when), and the survey."""
    awaiting, deadline = _awaiting_citizen(db, case_id)
    with db.reading() as uow:
        answers = [
            Answer(e.occurred_at, str(e.payload.get("answer")))
            for e in uow.events.for_case(case_id)
            if e.type == EventType.ANSWER_APPROVED and e.payload.get("answer")
        ]
        case = uow.repo(CaseRepository).get(case_id)
        done, _next = _survey_state(FeedbackRepository(uow.session).response(case_id))
    closed = case is not None and case.status == CaseStatus.CLOSED.value
    return LoopView(answers, awaiting, deadline, survey_open=closed and not done, survey_done=done)


def respond(db: Database, case_id: int, channel: str, *, satisfied: bool, note: str = "") -> CaseSummary:
    """The reporter confirms (the case closes) or disputes (the SOP reopens it) the agency's answer."""
    awaiting, _deadline = _awaiting_citizen(db, case_id)
    if not awaiting:
        raise Conflict(
            "Kasus ini tidak sedang menunggu tanggapan pelapor (sudah ditutup, dibuka kembali atau belum "
            "selesai ditangani).",
            code="not_awaiting_citizen",
        )
    note = note.strip()[:500]
    if not satisfied and not note:
        note = "pelapor menyatakan belum sesuai"
    return sop_tasks.confirm_closure(db, channel_actor(channel), case_id, satisfied=satisfied, note=note)


def _survey_row(uow_repo: FeedbackRepository, case: Case, channel: str, now: datetime) -> SurveyResponse:
    row = uow_repo.response(case.id, for_update=True)
    if row is None:
        row = uow_repo.add(
            SurveyResponse(
                case_id=case.id,
                agency_code=case.agency_code,
                service_code=case.service_code,
                channel=channel,
                created_at=now,
                updated_at=now,
            )
        )
    return row


def _closed_case(uow: Any, case_id: int) -> Case:
    case: Case | None = uow.repo(CaseRepository).get(case_id)
    if case is None:
        raise NotFound(f"Kasus {case_id} tidak ditemukan / case not found.")
    if case.status != CaseStatus.CLOSED.value:
        raise Conflict("Survei kepuasan dibuka setelah kasus ditutup.", code="survey_not_open")
    return case


def _log_survey(uow: Any, case_id: int, channel: str, row: SurveyResponse, now: datetime, how: str) -> None:
    answered = sum(1 for code in ELEMENTS if getattr(row, code) is not None)
    uow.events.append(
        stream=case_stream(case_id),
        case_id=case_id,
        type=EventType.SURVEY_ANSWERED,
        actor=channel_actor(channel).name,
        at=now,
        payload={"channel": channel, "answered": answered, "how": how},
    )


def _check_value(element: str, value: int) -> None:
    if element not in ELEMENTS:
        raise ValidationFailed(f"Unsur survei '{element}' tidak dikenal.", field=element)
    if value not in SCALE:
        raise ValidationFailed("Jawaban survei berupa angka 1 sampai 4.", field=element)


def submit_survey(
    db: Database,
    case_id: int,
    channel: str,
    answers: dict[str, int],
    profile: dict[str, Any] | None = None,
    *,
    at: datetime | None = None,
) -> int:
    """The web survey: all answers at once (an element may be left empty), the optional profile too."""
    for element, value in answers.items():
        _check_value(element, value)
    if not answers:
        raise ValidationFailed("Jawab paling sedikit satu pertanyaan survei.", field="u1")
    profile = _clean_profile(profile or {})
    now = at or utcnow()
    with db.transaction() as uow:
        case = _closed_case(uow, case_id)
        repo = FeedbackRepository(uow.session)
        row = _survey_row(repo, case, channel, now)
        if _survey_state(row)[0]:
            raise Conflict("Survei kasus ini sudah diisi. Terima kasih.", code="survey_done")
        for element, value in answers.items():
            setattr(row, element, value)
        for name, value in profile.items():
            setattr(row, name, value)
        row.updated_at = now
        row.stopped_at = now  # the web form is one submission: what was left empty stays unanswered
        _log_survey(uow, case_id, channel, row, now, "web")
        return sum(1 for code in ELEMENTS if getattr(row, code) is not None)


def _clean_profile(profile: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    gender, education, occupation = profile.get("gender"), profile.get("education"), profile.get("occupation")
    if gender:
        if gender not in GENDERS:
            raise ValidationFailed("Jenis kelamin: L atau P.", field="gender")
        out["gender"] = gender
    if education:
        if education not in EDUCATIONS:
            raise ValidationFailed("Pilih pendidikan dari daftar.", field="education")
        out["education"] = education
    if occupation:
        if occupation not in OCCUPATIONS:
            raise ValidationFailed("Pilih pekerjaan dari daftar.", field="occupation")
        out["occupation"] = occupation
    age = profile.get("age")
    if age not in (None, ""):
        try:
            years = int(str(age))
        except ValueError:
            raise ValidationFailed("Usia ditulis dengan angka (tahun).", field="age") from None
        if not 10 <= years <= 120:
            raise ValidationFailed("Usia antara 10 dan 120 tahun.", field="age")
        out["age"] = years
    suggestion = str(profile.get("suggestion") or "").strip()
    if suggestion:
        out["suggestion"] = suggestion[:1000]
    return out


def next_question(db: Database, case_id: int) -> str | None:
    """The element the chat survey asks next, None when the survey is over."""
    with db.reading() as uow:
        done, element = _survey_state(FeedbackRepository(uow.session).response(case_id))
    return None if done else element


def answer_next(
    db: Database, case_id: int, channel: str, value: int, *, at: datetime | None = None
) -> str | None:
    """A chat answer to the element asked last; returns the next element, None when all nine are in."""
    now = at or utcnow()
    with db.transaction() as uow:
        case = _closed_case(uow, case_id)
        row = _survey_row(FeedbackRepository(uow.session), case, channel, now)
        done, element = _survey_state(row)
        if done or element is None:
            raise Conflict("Survei kasus ini sudah selesai. Terima kasih.", code="survey_done")
        _check_value(element, value)
        setattr(row, element, value)
        row.updated_at = now
        finished, following = _survey_state(row)
        if finished:
            _log_survey(uow, case_id, channel, row, now, "chat")
        return following


def start_survey(db: Database, case_id: int, channel: str, *, at: datetime | None = None) -> None:
    """The survey's first question was sent in a reply: remember it, so the notifier does not invite again."""
    now = at or utcnow()
    with db.transaction() as uow:
        _survey_row(FeedbackRepository(uow.session), _closed_case(uow, case_id), channel, now)


def survey_started(db: Database, case_id: int) -> bool:
    """True once the reporter was asked (or answered) the survey of this case."""
    with db.reading() as uow:
        return FeedbackRepository(uow.session).response(case_id) is not None


def stop_survey(db: Database, case_id: int, channel: str, *, at: datetime | None = None) -> None:
    """The reporter stops the chat survey: what was answered counts, nothing more is asked."""
    now = at or utcnow()
    with db.transaction() as uow:
        case = _closed_case(uow, case_id)
        row = _survey_row(FeedbackRepository(uow.session), case, channel, now)
        if row.stopped_at is None:
            row.stopped_at = now
            row.updated_at = now
            _log_survey(uow, case_id, channel, row, now, "stopped")


def subscribed_cases(db: Database, channel: str, sender: str) -> list[tuple[int, str, str, datetime | None]]:
    """(case id, ticket, status, closed at) of the sender's resolved or closed cases, newest first."""
    with db.reading() as uow:
        rows = FeedbackRepository(uow.session).subscribed_cases(
            channel, sender, (CaseStatus.RESOLVED.value, CaseStatus.CLOSED.value)
        )
        return [(c.id, c.ticket or "", c.status, c.closed_at) for c in rows]


def awaiting_citizen(db: Database, case_id: int) -> bool:
    """True when the SOP waits for this case's reporter to confirm or dispute."""
    return _awaiting_citizen(db, case_id)[0]


def citizen_deadline(db: Database, case_id: int) -> tuple[bool, datetime | None]:
    """(the SOP waits for the reporter, when it closes the case by itself if nobody answers)."""
    return _awaiting_citizen(db, case_id)


def ikm_table(
    db: Database,
    group: str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agency: str | None = None,
) -> dict[str, IkmScore]:
    """IKM per agency ('agency'), per service ('service') or overall ('all') for a period (and one agency),
    summed in SQL; the population of each (cases closed in the period) sets its minimum sample."""
    with db.reading() as uow:
        repo = FeedbackRepository(uow.session)
        sums = repo.ikm_sums(group, since, until, agency)
        population = repo.closed_counts(group, since, until, agency)
    return {
        s.key: score(s.totals, s.answered, s.respondents, max(population.get(s.key, 0), s.respondents))
        for s in sums
        if s.respondents
    }
