"""The chat dialogue: free text in, questions for what is missing, a ticket out.

States: `idle` → (text) → `await_location` (when no location yet) → `await_confirm` (guessed category,
answer YA/TIDAK or a number) → `await_choice` (numbered list) → submitted, back to `idle`.
At any point: `CEK <tiket>` answers the status, `BATAL` starts over, `MENU` shows the help, a shared
location or a photo is remembered for the report being written. Outside a question, the answer loop's words
(YA/SESUAI, TIDAK/BELUM about a finished case, survey digits, STOP) go to `feedback.chat`, and a bare YA/TIDAK
with nothing asked is answered, never taken for a report. SMS also accepts `LAPOR#<layanan>#<lokasi>#<isi>` in one go.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kotapintar.cases import service as case_service
from kotapintar.cases.schemas import ReporterIn, ReportIn
from kotapintar.catalog.repository import AgencyRepository
from kotapintar.channels.places import find_place
from kotapintar.channels.repository import ChannelRepository
from kotapintar.core.access.actors import PUBLIC, channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, NotFound
from kotapintar.core.events.types import utcnow
from kotapintar.core.i18n import translate
from kotapintar.core.settings import Settings
from kotapintar.feedback import chat as feedback_chat
from kotapintar.intake.assess import service_routes
from kotapintar.intake.chat import ReplyTo, submit_citizen_report
from kotapintar.intake.repository import IntakeRepository
from kotapintar.triage.classify import Classifier

CHECK = re.compile(r"^\s*(?:CEK|CEK\s*TIKET|STATUS)\s*[:#]?\s*([A-Z]{2,6}-\d{4}-\d{1,9})\s*$", re.IGNORECASE)
YES = frozenset({"ya", "y", "yes", "iya", "ok", "oke", "benar", "betul", "setuju"})
NO = frozenset({"tidak", "tdk", "t", "no", "bukan", "salah", "ga", "gak", "nggak"})
CANCEL = frozenset({"batal", "cancel", "stop", "ulang"})
HELLO = frozenset({"halo", "hai", "menu", "bantuan", "help", "/start", "/help", "start", "info"})
MAX_CHOICES = 5
MAX_PHOTOS = 5
PHONE_CHANNELS = frozenset({"sms", "whatsapp"})
# States in which no question of the report dialogue waits for an answer.
LOOP_STATES = frozenset({"idle", "await_text"})


@dataclass
class Inbound:
    """One message from a citizen, as every adapter hands it to the dialogue."""

    channel: str
    sender: str
    message_id: str
    text: str = ""
    lon: float | None = None
    lat: float | None = None
    place_name: str | None = None
    photos: list[dict[str, Any]] = field(default_factory=list)


def t(key: str, **values: object) -> str:
    """A chat text in Indonesian (chat replies are short and in the language of the region)."""
    return translate(f"chat.{key}", "id", **values)


def _label(db: Database, code: str) -> str:
    route = service_routes(db).get(code)
    return route.name if route is not None else code


def handle_message(db: Database, settings: Settings, msg: Inbound) -> list[str]:
    """Advance the sender's dialogue by one message and return the replies to send."""
    text = (msg.text or "").strip()
    check = CHECK.match(text)
    if check:
        return [status_text(db, settings, check.group(1).upper(), msg)]
    if msg.channel == "sms" and text.upper().startswith("LAPOR#"):
        return [structured_sms(db, settings, msg, text)]
    word = text.lower().strip(" .!?")
    with db.reading() as uow:
        conv = ChannelRepository(uow.session).conversation(msg.channel, msg.sender)
        state = conv.state if conv else "idle"
        data: dict[str, Any] = dict(conv.data) if conv else {}
    if state in LOOP_STATES and text and not msg.photos:
        # The answer loop first: YA/TIDAK about a finished case, survey digits, STOP (never a new report).
        answer = feedback_chat.reply_to(db, msg.channel, msg.sender, text)
        if answer is not None:
            return [answer]
    if word in CANCEL:
        _save(db, msg, "idle", {})
        return [t("cancelled")]
    if word in HELLO:
        return [t("welcome")]
    if state in LOOP_STATES and (word in YES or word in NO):
        # A bare YA/TIDAK with no question waiting is not a report ("Laporan: ya").
        return [t("no_question")]
    replies: list[str] = []
    if msg.photos:
        data["photos"] = (data.get("photos", []) + msg.photos)[:MAX_PHOTOS]
        replies.append(t("photo_received", number=len(data["photos"])))
    if msg.lon is not None and msg.lat is not None:
        data.update(lon=msg.lon, lat=msg.lat, address=msg.place_name or data.get("address"))
    if text:
        state, data, early = _absorb_text(db, state, data, text)
        if early is not None:
            _save(db, msg, state, data)
            return [*replies, early]
    return [*replies, *_next_step(db, settings, msg, data)]


def _absorb_place(db: Database, data: dict[str, Any], text: str, word: str) -> str | None:
    """The answer to "where is it?": a place name (looked up in the gazetteer); None when taken."""
    if word in YES or word in NO:
        # "YA"/"TIDAK" answers no question here: it is not a place (it became "Lampu Jalan di TIDAK").
        return t("ask_location_again")
    place = find_place(db, text)
    data["address"] = text[:300]
    if place is not None:
        data.update(lon=place.lon, lat=place.lat, place=place.name, location_source=place.source)
    return None


def _absorb_text(
    db: Database, state: str, data: dict[str, Any], text: str
) -> tuple[str, dict[str, Any], str | None]:
    """Use a text according to what the bot asked last; an early reply when the answer was not understood."""
    word = text.lower().strip(" .!?")
    if state == "await_location" and "lon" not in data and "address" not in data:
        return state, data, _absorb_place(db, data, text, word)
    if state == "await_confirm":
        if word in YES:
            data["confirmed"] = True
            return state, data, None
        if word in NO:
            return "await_choice", data, _choices_text(db, data)
        if word.isdigit():
            return _pick(db, state, data, word)
        return state, data, t("confirm_again", service=_label(db, data["service"]))
    if state == "await_choice":
        if word.isdigit():
            return _pick(db, state, data, word)
        return state, data, _choices_text(db, data)
    # Idle (or a new description): a fresh report text, classified to guess the service.
    if "text" in data and state == "idle":
        data = {k: v for k, v in data.items() if k in ("lon", "lat", "address", "photos", "location_source")}
    data["text"] = (data.get("text", "") + " " + text).strip() if state == "await_text" else text
    guess = Classifier.load().classify(data["text"])
    known = service_routes(db)
    choices = [code for code, _p in guess.alternatives if code in known]
    for code in sorted(known):
        if len(choices) >= MAX_CHOICES:
            break
        if code not in choices:
            choices.append(code)
    data["service"] = guess.service if guess.service in known else choices[0]
    data["choices"] = choices[:MAX_CHOICES]
    if "lon" not in data and "address" not in data:
        place = find_place(db, text)
        if place is not None:
            data.update(
                lon=place.lon,
                lat=place.lat,
                address=place.name,
                place=place.name,
                location_source=place.source,
            )
    return "idle", data, None


def _pick(
    db: Database, state: str, data: dict[str, Any], word: str
) -> tuple[str, dict[str, Any], str | None]:
    number = int(word)
    choices = data.get("choices", [])
    if 1 <= number <= len(choices):
        data["service"] = choices[number - 1]
        data["confirmed"] = True
        return state, data, None
    return "await_choice", data, _choices_text(db, data)


def _choices_text(db: Database, data: dict[str, Any]) -> str:
    lines = [f"{i}. {_label(db, code)}" for i, code in enumerate(data.get("choices", []), start=1)]
    return t("choose", options="\n".join(lines))


def _next_step(db: Database, settings: Settings, msg: Inbound, data: dict[str, Any]) -> list[str]:
    """Ask for the first missing thing, or submit when nothing is missing."""
    if not data.get("text"):
        _save(db, msg, "await_text", data)
        return [t("ask_text")]
    route = service_routes(db).get(data.get("service", ""))
    # A guessed emergency is never held up by the dialogue alone: point to 112 straight away.
    urgent = [t("emergency")] if route is not None and route.emergency and not data.get("warned") else []
    if urgent:
        data["warned"] = True
    if "lon" not in data and not data.get("address"):
        _save(db, msg, "await_location", data)
        return [*urgent, t("ask_location")]
    if not data.get("confirmed"):
        _save(db, msg, "await_confirm", data)
        where = data.get("place") or data.get("address") or t("shared_location")
        return [*urgent, t("confirm", service=_label(db, data["service"]), place=where)]
    return [_submit(db, settings, msg, data)]


def _save(db: Database, msg: Inbound, state: str, data: dict[str, Any]) -> None:
    with db.transaction() as uow:
        ChannelRepository(uow.session).save_conversation(msg.channel, msg.sender, state, data, utcnow())


def _report_in(msg: Inbound, data: dict[str, Any]) -> ReportIn:
    reporter = (
        ReporterIn(phone=msg.sender) if msg.channel in PHONE_CHANNELS and _phone_like(msg.sender) else None
    )
    return ReportIn(
        service_code=data["service"],
        description=data["text"],
        lon=data.get("lon"),
        lat=data.get("lat"),
        address=(data.get("address") or None) and str(data["address"])[:300],
        location_source=data.get("location_source") if data.get("lon") is not None else None,
        channel=msg.channel,
        reporter=reporter,
        attributes={"provider_media": data["photos"]} if data.get("photos") else {},
    )


def _phone_like(sender: str) -> bool:
    return bool(re.fullmatch(r"\+?[0-9]{6,20}", sender))


def _submit(db: Database, settings: Settings, msg: Inbound, data: dict[str, Any]) -> str:
    try:
        result = submit_citizen_report(
            db,
            channel_actor(msg.channel),
            _report_in(msg, data),
            settings=settings,
            idempotency_key=f"{msg.channel}:{msg.message_id}",
            reply_to=ReplyTo(msg.channel, msg.sender),
        )
    except ValidationError as exc:
        return t("invalid", problem="; ".join(str(e["msg"]) for e in exc.errors()[:2]))
    except DomainError as exc:
        if exc.code in ("rate_limited", "sender_blocked"):
            raise
        return t("invalid", problem=exc.message)
    _save(db, msg, "idle", {})
    return t("submitted", ticket=result.ticket, url=tracking_url(settings, result.ticket))


def tracking_url(settings: Settings, ticket: str) -> str:
    """The public tracking link of a ticket."""
    return f"{settings.public_base_url.rstrip('/')}/lacak/{ticket}"


def structured_sms(db: Database, settings: Settings, msg: Inbound, text: str) -> str:
    """`LAPOR#<layanan>#<lokasi>#<isi>`: a whole report in one SMS, for phones without data."""
    parts = [p.strip() for p in text.split("#", 3)]
    if len(parts) < 4 or not all(parts[1:]):
        return t("structured_help")
    _keyword, service, where, body = parts
    code = _service_code(db, service)
    if code is None:
        codes = ", ".join(sorted(service_routes(db))[:12])
        return t("unknown_service", service=service, codes=codes)
    place = find_place(db, where)
    data: dict[str, Any] = {"service": code, "text": body, "address": where}
    if place is not None:
        data.update(lon=place.lon, lat=place.lat, location_source=place.source)
    return _submit(db, settings, msg, data)


def _service_code(db: Database, given: str) -> str | None:
    routes = service_routes(db)
    key = re.sub(r"[^0-9a-z]+", "_", given.lower()).strip("_")
    if key in routes:
        return key
    for code, route in routes.items():
        if re.sub(r"[^0-9a-z]+", "_", route.name.lower()).strip("_") == key:
            return code
    return None


def status_text(db: Database, settings: Settings, ticket: str, msg: Inbound) -> str:
    """The answer to `CEK <tiket>`: status, agency, expected time; a *rahasia* case only to its reporter."""
    try:
        case_id = case_service.case_by_ticket(db, ticket)
        try:
            case = case_service.case_detail(db, PUBLIC, case_id)
        except NotFound:
            with db.reading() as uow:
                subs = IntakeRepository(uow.session).subscriptions_for([case_id])
            if not any(s.channel == msg.channel and s.address == msg.sender for s in subs):
                raise
            case = case_service.case_detail(db, system_actor("channels"), case_id)
    except NotFound:
        return t("ticket_not_found", ticket=ticket)
    with db.reading() as uow:
        agency = uow.repo(AgencyRepository).get(case.agency_code) if case.agency_code else None
    status = translate(f"case.status.{case.status}", "id")
    lines = [t("status", ticket=ticket, status=status, agency=agency.short if agency else "-")]
    if case.due_at is not None:
        from kotapintar.core.http.templating import format_local_time

        lines.append(t("status_due", when=format_local_time(case.due_at, settings.timezone, "id")))
    if case.resolution:
        lines.append(t("status_answer", answer=case.resolution[:300]))
    if case.reject_reason:
        lines.append(t("status_answer", answer=case.reject_reason[:300]))
    return "\n".join(lines)
