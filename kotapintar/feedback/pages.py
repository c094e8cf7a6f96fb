"""The answer loop on the web: confirm or dispute on /lacak/{ticket}, and the IKM survey at /lacak/{ticket}/survei.

Only the reporter holds the tracking link's key `k` (sent with the ticket); both forms need it, and the
anonymous session's CSRF token of the citizen pages. Work happens in `feedback.service`; the tracking page
itself (intake) asks the `citizen_loop` hook what to show.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kotapintar.cases import service as case_service
from kotapintar.core import hooks
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError, NotFound
from kotapintar.core.http.deps import DbDep, SettingsDep
from kotapintar.core.http.security import CSRF_FIELD, issue_csrf_token, verify_csrf_token
from kotapintar.core.http.templating import request_locale
from kotapintar.core.i18n import translate
from kotapintar.core.settings import Settings
from kotapintar.feedback import service
from kotapintar.intake.pages import _anon_session, _context, _with_cookie, templates, tracking_key
from kotapintar.metrics.ikm import ELEMENTS, SCALE

router = APIRouter(include_in_schema=False)
PROFILE_FIELDS = ("gender", "age", "education", "occupation", "suggestion")


def loop_for_page(db: Database, case_id: int) -> dict[str, object]:
    """What the tracking page shows of the loop (the `citizen_loop` hook)."""
    view = service.loop_view(db, case_id)
    return {
        "answers": view.answers,
        "awaiting_citizen": view.awaiting_citizen,
        "deadline": view.deadline,
        "survey_open": view.survey_open,
        "survey_done": view.survey_done,
    }


def install() -> None:
    """Register the tracking page's hook."""
    hooks.citizen_loop.register(loop_for_page)


def _key_ok(settings: Settings, ticket: str, key: str | None) -> bool:
    return bool(key) and hmac.compare_digest(str(key), tracking_key(settings, ticket.upper()))


def _message_page(request: Request, settings: Settings, ticket: str, text: str, status: int) -> Response:
    context = _context(request, settings, ticket=ticket, message=text, link=f"/lacak/{ticket}")
    return templates.TemplateResponse(request, "citizen/loop_message.html", context, status_code=status)


async def _checked_form(
    request: Request, settings: Settings, ticket: str
) -> tuple[dict[str, str], Response | None]:
    """The form's fields, or the page refusing it (wrong key: 403, CSRF: 403)."""
    locale = str(request_locale(request))
    form = await request.form()
    values = {k: str(v).strip() for k, v in form.items() if isinstance(v, str)}
    if not _key_ok(settings, ticket, values.get("k")):
        return values, _message_page(request, settings, ticket, translate("feedback.error.key", locale), 403)
    sid, _cookie = _anon_session(request, settings)
    if not verify_csrf_token(values.get(CSRF_FIELD), sid, settings.secret_key):
        return values, _message_page(request, settings, ticket, translate("error.csrf_failed", locale), 403)
    return values, None


def _case_id(db: Database, ticket: str) -> int | None:
    try:
        return case_service.case_by_ticket(db, ticket)
    except NotFound:
        return None


@router.post("/lacak/{ticket}/tanggapan", response_class=HTMLResponse)
async def respond_page(ticket: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """The reporter's answer to the agency's: `sesuai` closes the case, `belum` (with why) reopens it."""
    ticket = ticket.upper()
    locale = str(request_locale(request))
    case_id = _case_id(db, ticket)
    if case_id is None:
        return _message_page(request, settings, ticket, translate("track.not_found", locale), 404)
    values, refused = await _checked_form(request, settings, ticket)
    if refused is not None:
        return refused
    choice = values.get("pilihan")
    reason = values.get("alasan", "")
    back = f"/lacak/{ticket}?k={quote(values['k'])}"
    if choice not in ("sesuai", "belum"):
        return RedirectResponse(f"{back}#tanggapan", status_code=303)
    if choice == "belum" and len(reason) < 3:
        return RedirectResponse(f"{back}&galat=alasan#tanggapan", status_code=303)
    try:
        service.respond(db, case_id, "web", satisfied=choice == "sesuai", note=reason)
    except DomainError as exc:
        return _message_page(request, settings, ticket, exc.message, exc.http_status)
    return RedirectResponse(f"{back}&tanggapan={choice}#tanggapan", status_code=303)


def _survey_context(
    request: Request, settings: Settings, ticket: str, key: str, **extra: Any
) -> tuple[dict[str, Any], str | None]:
    sid, cookie = _anon_session(request, settings)
    context = _context(
        request,
        settings,
        ticket=ticket,
        k=key,
        elements=ELEMENTS,
        scale=SCALE,
        genders=service.GENDERS,
        educations=service.EDUCATIONS,
        occupations=service.OCCUPATIONS,
        csrf_token=issue_csrf_token(sid, settings.secret_key),
        values={},
        error=None,
        **extra,
    )
    return context, cookie


@router.get("/lacak/{ticket}/survei", response_class=HTMLResponse)
def survey_page(
    ticket: str, request: Request, db: DbDep, settings: SettingsDep, k: str | None = None
) -> Response:
    """The nine questions of the IKM survey with the optional respondent fields, for the reporter."""
    ticket = ticket.upper()
    locale = str(request_locale(request))
    case_id = _case_id(db, ticket)
    if case_id is None:
        return _message_page(request, settings, ticket, translate("track.not_found", locale), 404)
    if not _key_ok(settings, ticket, k):
        return _message_page(request, settings, ticket, translate("feedback.error.key", locale), 403)
    view = service.loop_view(db, case_id)
    if view.survey_done:
        return _message_page(request, settings, ticket, translate("feedback.survey.done", locale), 200)
    if not view.survey_open:
        return _message_page(request, settings, ticket, translate("feedback.survey.closed", locale), 409)
    context, cookie = _survey_context(request, settings, ticket, str(k))
    response = templates.TemplateResponse(request, "citizen/survey.html", context)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    return _with_cookie(response, cookie, settings)


@router.post("/lacak/{ticket}/survei", response_class=HTMLResponse)
async def survey_submit(ticket: str, request: Request, db: DbDep, settings: SettingsDep) -> Response:
    """Store the survey; a wrong value comes back next to the form with the answers kept."""
    ticket = ticket.upper()
    locale = str(request_locale(request))
    case_id = _case_id(db, ticket)
    if case_id is None:
        return _message_page(request, settings, ticket, translate("track.not_found", locale), 404)
    values, refused = await _checked_form(request, settings, ticket)
    if refused is not None:
        return refused
    answers: dict[str, int] = {}
    error: str | None = None
    for code in ELEMENTS:
        raw = values.get(code, "")
        if raw:
            if raw.isdigit() and int(raw) in SCALE:
                answers[code] = int(raw)
            else:
                error = translate("feedback.chat.digits_only", locale)
    profile = {name: values.get(name) or None for name in PROFILE_FIELDS}
    if error is None:
        try:
            service.submit_survey(db, case_id, "web", answers, profile)
        except DomainError as exc:
            error = exc.message
            if exc.http_status == 409:
                return _message_page(request, settings, ticket, exc.message, 409)
    if error is not None:
        context, cookie = _survey_context(request, settings, ticket, values["k"])
        context.update(values=values, error=error)
        response = templates.TemplateResponse(request, "citizen/survey.html", context, status_code=422)
        return _with_cookie(response, cookie, settings)
    return _message_page(request, settings, ticket, translate("feedback.survey.thanks", locale), 200)
