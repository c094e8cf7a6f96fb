"""Status changes reach the reporter on the channel they used, after commit, outside quiet hours.

`notify_once` reads the events table after a stored cursor (only committed rows are visible), queues
one message per public status event and subscription, and sends those that are due. Non-emergency
(P3/P4) messages that fall in quiet hours wait until the quiet hours end. `NotifierLoop` runs it
inside `kotapintar serve`.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from kotapintar.cases.service import PUBLIC_EVENTS
from kotapintar.cases.stream import OutboxCursor
from kotapintar.channels.adapters.outbound import OutboundGateway, OutboundMessage, gateway_for
from kotapintar.channels.conversation import tracking_url
from kotapintar.channels.repository import ChannelRepository
from kotapintar.core.db.database import Database
from kotapintar.core.db.leader import LeaderLock
from kotapintar.core.events.models import Event
from kotapintar.core.events.types import utcnow
from kotapintar.core.http.templating import format_local_time
from kotapintar.core.i18n import translate
from kotapintar.core.settings import Settings
from kotapintar.feedback import chat as feedback_chat
from kotapintar.feedback import service as feedback_service
from kotapintar.intake.repository import IntakeRepository

log = logging.getLogger("kotapintar.notifier")
CURSOR = "notifier"
URGENT = frozenset({"P1", "P2"})
# Public events the reporter is not told of: the case's creation (the reply said it) and their own answer.
SILENT = frozenset({"case_created", "closure_confirmed"})


def parse_quiet_hours(spec: str) -> tuple[time, time] | None:
    """`21:00-06:00` -> (21:00, 06:00); empty means no quiet hours."""
    if not spec.strip():
        return None
    start, end = (part.strip() for part in spec.split("-", 1))
    return time.fromisoformat(start), time.fromisoformat(end)


def quiet_until(moment: datetime, spec: str, tz: str) -> datetime | None:
    """When the quiet hours around `moment` end (UTC), or None when `moment` is not in quiet hours."""
    hours = parse_quiet_hours(spec)
    if hours is None:
        return None
    start, end = hours
    local = moment.astimezone(ZoneInfo(tz))
    now_t = local.timetz().replace(tzinfo=None)
    inside = (start <= now_t or now_t < end) if start > end else (start <= now_t < end)
    if not inside:
        return None
    ends = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(moment.tzinfo or ZoneInfo("UTC"))


def message_for(event_type: str, ticket: str, status: str, settings: Settings) -> str:
    """The text sent for one status event (Indonesian)."""
    label = translate(f"track.event.{event_type}", "id")
    if event_type == "answer_approved":
        label = translate("track.event.answer_approved", "id")
    return translate(
        "chat.status_changed",
        "id",
        ticket=ticket,
        event=label,
        status=translate(f"case.status.{status}", "id"),
        url=tracking_url(settings, ticket),
    )


def loop_message(db: Database, event: Event, case_id: int, ticket: str, settings: Settings) -> str | None:
    """The answer loop's texts: the approved answer, the request to confirm or dispute, the survey.

    None for other events (they get the plain status text).
    """
    url = tracking_url(settings, ticket)
    if event.type == "answer_approved":
        answer = str((event.payload or {}).get("answer") or "")[:600]
        return translate("feedback.chat.answer", "id", ticket=ticket, answer=answer, url=url)
    if event.type == "case_resolved":
        awaiting, deadline = feedback_service.citizen_deadline(db, case_id)
        if awaiting:
            text = translate("feedback.chat.please_confirm", "id", ticket=ticket, url=url)
            if deadline is not None:
                when = format_local_time(deadline, settings.timezone, "id")
                text += " " + translate("feedback.chat.deadline", "id", when=when)
            return text
    if event.type == "case_closed" and not feedback_service.survey_started(db, case_id):
        # Invited once: a reporter who confirmed by chat got the first question in the reply already.
        return (
            translate("feedback.chat.closed", "id", ticket=ticket)
            + "\n"
            + feedback_chat.survey_invitation(ticket)
        )
    return None


def _loop_texts(db: Database, events: list[Event], settings: Settings) -> dict[int, str]:
    """The answer loop's texts of these events, by event id."""
    loop = [e for e in events if e.type in ("answer_approved", "case_resolved", "case_closed")]
    if not loop:
        return {}
    with db.reading() as uow:
        tickets = {
            c.id: c.ticket or ""
            for c in ChannelRepository(uow.session)
            .cases(sorted({e.case_id for e in loop if e.case_id is not None}))
            .values()
        }
    out: dict[int, str] = {}
    for event in loop:
        case_id = event.case_id or 0
        text = loop_message(db, event, case_id, tickets.get(case_id, ""), settings)
        if text is not None:
            out[event.id] = text
    return out


def _start_cursor(db: Database) -> OutboxCursor:
    """Resume where the notifier stopped; a notifier that never ran starts at the newest event."""
    with db.reading() as uow:
        stored = ChannelRepository(uow.session).cursor(CURSOR)
        return OutboxCursor(watermark=stored if stored is not None else uow.events.last_id())


def notify_once(
    db: Database,
    settings: Settings,
    gateway: OutboundGateway | None = None,
    *,
    now: datetime | None = None,
    cursor: OutboxCursor | None = None,
) -> int:
    """Queue messages for new status events and send the due ones; returns how many were sent."""
    gateway = gateway or gateway_for(settings)
    now = now or utcnow()
    if cursor is None:
        cursor = _start_cursor(db)
    # The cursor never skips an event that commits late (ids are handed out before commit);
    # queuing is idempotent per (event, subscription), so re-reading after a restart sends nothing twice.
    events = cursor.poll(db, limit=5000)
    relevant = [
        e for e in events if e.case_id is not None and e.type in PUBLIC_EVENTS and e.type not in SILENT
    ]
    loop_texts = _loop_texts(db, relevant, settings)  # read before the write transaction opens
    with db.transaction() as uow:
        repo = ChannelRepository(uow.session)
        case_ids = sorted({e.case_id for e in relevant if e.case_id is not None})
        subs = IntakeRepository(uow.session).subscriptions_for(case_ids)
        cases = repo.cases(case_ids)
        for event in relevant:
            case = cases.get(event.case_id or 0)
            if case is None:
                continue
            wait = (
                None if case.priority in URGENT else quiet_until(now, settings.quiet_hours, settings.timezone)
            )
            text = loop_texts.get(event.id) or message_for(
                event.type, case.ticket or "", case.status, settings
            )
            for sub in subs:
                if sub.case_id == case.id:
                    repo.add_notification(event.id, sub.id, text, wait or now)
        repo.move_cursor(CURSOR, cursor.watermark, now)
    sent = 0
    with db.transaction() as uow:
        for note, sub in ChannelRepository(uow.session).due_notifications(now):
            try:
                gateway.send(OutboundMessage(sub.channel, sub.address, note.text))
            except Exception:  # a failing provider must not stop the others; retried on the next pass
                log.exception("sending notification %s failed", note.id)
                continue
            note.sent_at = now
            sent += 1
    return sent


class NotifierLoop:
    """A background thread calling `notify_once` every `notifier_interval_s` seconds."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db, self.settings = db, settings
        # Any number of notifier processes may run; the one holding this lock reads the outbox (issue 19).
        self._leader = LeaderLock(db, CURSOR)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kotapintar-notifier", daemon=True)
        self._cursor: OutboxCursor | None = None

    def start(self) -> None:
        """Fix the starting point now (nothing committed after start is missed), then read in the background."""
        try:
            self._cursor = _start_cursor(self.db)
        except Exception:  # database not reachable yet: the loop retries
            log.exception("notifier could not read its cursor; retrying in the loop")
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current pass."""
        self._stop.set()
        self._thread.join(timeout=10)
        self._leader.release()

    def _run(self) -> None:
        while not self._stop.wait(self.settings.notifier_interval_s):
            try:
                if not self._leader.held():
                    self._cursor = None  # another copy works; re-read the stored cursor on taking over
                    continue
                if self._cursor is None:
                    self._cursor = _start_cursor(self.db)
                notify_once(self.db, self.settings, cursor=self._cursor)
            except Exception:  # keep the loop alive; the next pass retries
                log.exception("notifier pass failed")


def start_notifier(db: Database, settings: Settings) -> NotifierLoop | None:
    """Start the notifier loop when `run_notifier` is on (what `kotapintar serve` calls)."""
    if not settings.run_notifier:
        return None
    loop = NotifierLoop(db, settings)
    loop.start()
    return loop
