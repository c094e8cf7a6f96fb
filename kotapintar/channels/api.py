"""Webhooks of the messaging channels (SMS gateway, WhatsApp Cloud API, Telegram) and sender flags.

Every webhook checks the provider's signature or secret before reading anything, answers bad input with
a 4xx `{error: {code, message}}`, and answers handled messages with 200 and the replies sent.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from kotapintar.channels.adapters import sms, telegram, whatsapp
from kotapintar.channels.conversation import Inbound
from kotapintar.channels.inbox import receive
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError
from kotapintar.core.http.deps import DbDep, SettingsDep, UserDep
from kotapintar.core.http.errors import error_body
from kotapintar.core.settings import Settings
from kotapintar.intake import abuse

router = APIRouter(prefix="/channels", tags=["channels"])
api_router = APIRouter(prefix="/api/v1/channels", tags=["channels"])


def _refuse(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def _bad_signature(what: str) -> JSONResponse:
    return _refuse(401, "bad_signature", f"Tanda tangan {what} tidak sah / invalid {what} signature.")


def _handle(db: Database, settings: Settings, messages: list[Inbound]) -> JSONResponse:
    replies: list[str] = []
    duplicates = 0
    try:
        for message in messages:
            sent, duplicate = receive(db, settings, message)
            replies.extend(sent)
            duplicates += duplicate
    except abuse.RateLimited as exc:
        return _refuse(429, exc.code, exc.message, {"Retry-After": str(exc.retry_after_s)})
    except DomainError as exc:
        return _refuse(exc.http_status, exc.code, exc.message)
    return JSONResponse(
        {"status": "ok", "messages": len(messages), "duplicates": duplicates, "replies": replies}
    )


def _json(body: bytes) -> Any:
    try:
        return json.loads(body or b"null")
    except ValueError:
        return None


@router.post("/sms", summary="SMS gateway webhook")
async def sms_webhook(request: Request, db: DbDep, settings: SettingsDep) -> JSONResponse:
    """An inbound SMS, signed with X-Signature (hex HMAC-SHA256 of the body)."""
    body = await request.body()
    if not sms.verify(settings.sms_webhook_secret, body, request.headers.get(sms.SIGNATURE_HEADER)):
        return _bad_signature("SMS")
    try:
        message = sms.parse(body, request.headers.get("content-type", ""))
    except DomainError as exc:
        return _refuse(400, exc.code, exc.message)
    return _handle(db, settings, [message])


@router.get("/whatsapp", summary="WhatsApp webhook verification", response_class=PlainTextResponse)
def whatsapp_verify(
    settings: SettingsDep,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge")] = None,
) -> PlainTextResponse:
    """Meta's subscription check: echo hub.challenge when hub.verify_token is ours."""
    answer = whatsapp.verification_challenge(settings.whatsapp_verify_token, mode, token, challenge)
    if answer is None:
        return PlainTextResponse("verify token mismatch", status_code=403)
    return PlainTextResponse(answer)


@router.post("/whatsapp", summary="WhatsApp Cloud API webhook")
async def whatsapp_webhook(request: Request, db: DbDep, settings: SettingsDep) -> JSONResponse:
    """Messages (text, location, image) signed with X-Hub-Signature-256."""
    body = await request.body()
    if not whatsapp.verify(
        settings.whatsapp_app_secret, body, request.headers.get(whatsapp.SIGNATURE_HEADER)
    ):
        return _bad_signature("WhatsApp")
    payload = _json(body)
    try:
        messages = whatsapp.parse(payload)
    except DomainError as exc:
        return _refuse(400, exc.code, exc.message)
    return _handle(db, settings, messages)


@router.post("/telegram", summary="Telegram bot webhook")
async def telegram_webhook(request: Request, db: DbDep, settings: SettingsDep) -> JSONResponse:
    """An update carrying X-Telegram-Bot-Api-Secret-Token."""
    if not telegram.verify(settings.telegram_secret_token, request.headers.get(telegram.SECRET_HEADER)):
        return _bad_signature("Telegram")
    try:
        message = telegram.parse(_json(await request.body()))
    except DomainError as exc:
        return _refuse(400, exc.code, exc.message)
    return _handle(db, settings, [message] if message is not None else [])


class FlagIn(BaseModel):
    """Mark the sender of a report as spam or prank."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    report_id: int
    kind: str = Field("spam", pattern="^(spam|prank)$")
    note: str | None = Field(None, max_length=500)


class FlagOut(BaseModel):
    """How often the sender has now been flagged; the sender's number is not shown."""

    channel: str
    kind: str
    flags: int
    blocked: bool


@api_router.post("/flags", response_model=FlagOut, status_code=201)
def flag_sender(body: FlagIn, db: DbDep, actor: UserDep, settings: SettingsDep) -> FlagOut:
    """Operators: mark a report's sender as spam/prank (counted; nothing is deleted)."""
    result = abuse.flag_sender(
        db, actor, report_id=body.report_id, kind=body.kind, note=body.note, settings=settings
    )
    return FlagOut(channel=result.channel, kind=result.kind, flags=result.flags, blocked=result.blocked)
