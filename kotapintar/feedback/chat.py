"""The answer loop by SMS, WhatsApp and Telegram: reply keywords and the one-question-per-message survey.

The dialogue (`channels.conversation`) asks `reply_to` first whenever the sender is not in the middle of a
report: a reporter whose case waits for confirmation answers YA/SESUAI or TIDAK/BELUM (+ why); a reporter
of a recently closed case answers the survey with digits 1–4 and may write STOP at any time. Anything
else is left to the dialogue (a new report), so these words never become a report's text.
"""

from __future__ import annotations

from datetime import datetime

from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError
from kotapintar.core.events.types import utcnow
from kotapintar.core.i18n import translate
from kotapintar.feedback import service
from kotapintar.metrics.ikm import ELEMENTS

CONFIRM = frozenset({"ya", "y", "iya", "sesuai", "puas", "setuju", "ok", "oke", "sudah", "benar", "betul"})
DISPUTE = frozenset({"tidak", "tdk", "t", "belum", "bukan", "no", "ga", "gak", "nggak", "kurang"})
STOP = frozenset({"stop", "berhenti", "batal", "selesai", "cukup"})


def t(key: str, **values: object) -> str:
    """A loop text in Indonesian."""
    return translate(f"feedback.chat.{key}", "id", **values)


def question(element: str) -> str:
    """One survey question as a chat message: number, the question, the four answers, how to stop."""
    number = ELEMENTS.index(element) + 1
    options = " ".join(f"{v}={translate(f'ikm.scale.{element}.{v}', 'id')}" for v in (1, 2, 3, 4))
    return t(
        "question",
        number=number,
        total=len(ELEMENTS),
        question=translate(f"ikm.question.{element}", "id"),
        options=options,
    )


def survey_invitation(ticket: str) -> str:
    """The first message of the survey: why, then the first question."""
    return t("survey_intro", ticket=ticket) + "\n" + question(ELEMENTS[0])


def _recent(closed_at: datetime | None, now: datetime) -> bool:
    return closed_at is not None and now - closed_at <= service.SURVEY_CHAT_WINDOW


def reply_to(
    db: Database, channel: str, sender: str, text: str, *, now: datetime | None = None
) -> str | None:
    """The reply when `text` answers the loop of one of the sender's cases; None to let the dialogue go on."""
    words = text.lower().strip(" .!?").split(None, 1)
    if not words:
        return None
    first, rest = words[0].strip(" .!?,"), (words[1] if len(words) > 1 else "")
    if first not in CONFIRM | DISPUTE | STOP and not first.isdigit():
        return None
    now = now or utcnow()
    for case_id, ticket, status, closed_at in service.subscribed_cases(db, channel, sender):
        if status == "resolved" and (first in CONFIRM or first in DISPUTE):
            if not service.awaiting_citizen(db, case_id):
                continue
            return _confirm(db, channel, case_id, ticket, satisfied=first in CONFIRM, note=rest)
        if status == "closed" and _recent(closed_at, now) and service.next_question(db, case_id):
            if first in STOP:
                service.stop_survey(db, case_id, channel, at=now)
                return t("survey_stopped")
            if first.isdigit():
                return _survey_answer(db, channel, case_id, int(first), now)
    return None


def _confirm(db: Database, channel: str, case_id: int, ticket: str, *, satisfied: bool, note: str) -> str:
    try:
        service.respond(db, case_id, channel, satisfied=satisfied, note=note)
    except DomainError as exc:
        return t("not_now", ticket=ticket, problem=exc.message)
    if not satisfied:
        return t("disputed", ticket=ticket)
    service.start_survey(db, case_id, channel)
    return t("confirmed", ticket=ticket) + "\n" + survey_invitation(ticket)


def _survey_answer(db: Database, channel: str, case_id: int, value: int, now: datetime) -> str:
    if not 1 <= value <= 4:
        element = service.next_question(db, case_id) or ELEMENTS[0]
        return t("digits_only") + "\n" + question(element)
    try:
        following = service.answer_next(db, case_id, channel, value, at=now)
    except DomainError as exc:
        return exc.message
    return question(following) if following is not None else t("survey_thanks")
