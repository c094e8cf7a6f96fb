"""HTTP helpers of the intake tests: signed webhook calls, demo logins, counting cases."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings

SMS_SECRET = "sms-test-secret"
WA_SECRET = "wa-app-secret"
WA_VERIFY = "wa-verify-token"
TG_SECRET = "tg-secret-token"
PUBLIC_BASE_URL = "https://lapor.example.go.id"


def channel_settings(db: Database, media_dir: Any, per_minute: int = 100) -> Settings:
    """Test settings for the chat channels: their secrets, limits loose enough for a dialogue (`per_minute`
    reports per address and per phone), no quiet hours, and the public address links in replies are built on."""
    return Settings(
        environment="test",
        database_url=db.url,
        media_dir=media_dir,
        demo_report_interval_s=0,
        stream_poll_s=0.05,
        sms_webhook_secret=SMS_SECRET,
        whatsapp_app_secret=WA_SECRET,
        whatsapp_verify_token=WA_VERIFY,
        telegram_secret_token=TG_SECRET,
        rate_limit_per_ip=f"{per_minute}/minute",
        rate_limit_per_phone=f"{per_minute}/minute",
        public_base_url=PUBLIC_BASE_URL,
        quiet_hours="",
    )


def sms_post(base: str, body: dict[str, Any], secret: str = SMS_SECRET) -> httpx.Response:
    """POST one signed SMS gateway callback."""
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return httpx.post(
        f"{base}/channels/sms",
        content=raw,
        headers={"content-type": "application/json", "X-Signature": signature},
        timeout=30,
    )


def wa_post(base: str, messages: list[dict[str, Any]], secret: str = WA_SECRET) -> httpx.Response:
    """POST one signed WhatsApp Cloud API webhook carrying `messages`."""
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1234",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "628000", "phone_number_id": "99"},
                            "contacts": [
                                {"profile": {"name": "Warga"}, "wa_id": m["from"]} for m in messages
                            ],
                            "messages": messages,
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return httpx.post(
        f"{base}/channels/whatsapp",
        content=raw,
        headers={"content-type": "application/json", "X-Hub-Signature-256": signature},
        timeout=30,
    )


def tg_post(base: str, update: dict[str, Any], secret: str = TG_SECRET) -> httpx.Response:
    """POST one Telegram update with the webhook secret header."""
    return httpx.post(
        f"{base}/channels/telegram",
        json=update,
        headers={"X-Telegram-Bot-Api-Secret-Token": secret},
        timeout=30,
    )


def token_for(base: str, username: str) -> str:
    """A bearer token of a demo user."""
    response = httpx.post(
        f"{base}/api/v1/auth/token", data={"username": username, "password": "kotapintar-demo"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def count_cases(db: Database) -> int:
    """How many cases exist."""
    from sqlalchemy import func, select

    from kotapintar.cases.models import Case

    with db.reading() as uow:
        return int(uow.session.scalar(select(func.count(Case.id))) or 0)


def report_ids(db: Database) -> list[int]:
    """Ids of every stored report, oldest first (a report merged into an existing case still counts)."""
    from sqlalchemy import select

    from kotapintar.cases.models import Report

    with db.reading() as uow:
        return list(uow.session.scalars(select(Report.id).order_by(Report.id)))
