"""Telegram bot webhook: updates with `message.text`, `message.location`, `message.photo`.

Telegram sends the secret given to setWebhook in `X-Telegram-Bot-Api-Secret-Token`; `update_id`
identifies the update (Telegram redelivers the same update until it gets a 2xx).
"""

from __future__ import annotations

from typing import Any

from kotapintar.channels.adapters.signatures import valid_secret
from kotapintar.channels.conversation import Inbound
from kotapintar.core.errors import ValidationFailed

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def verify(secret: str | None, given: str | None) -> bool:
    """True when the update carries our webhook secret."""
    return valid_secret(secret, given)


def parse(update: Any) -> Inbound | None:
    """The citizen message in an update, or None for updates without one (edits, callbacks…)."""
    if not isinstance(update, dict) or "update_id" not in update:
        raise ValidationFailed(
            "Bukan update Telegram (update_id hilang) / not a Telegram update.", code="invalid_webhook"
        )
    message = update.get("message")
    if not isinstance(message, dict):
        return None
    chat = message.get("chat") or {}
    if "id" not in chat:
        raise ValidationFailed(
            "Pesan Telegram tanpa chat.id / message lacks chat.id.", code="invalid_webhook"
        )
    msg = Inbound(channel="telegram", sender=str(chat["id"]), message_id=str(update["update_id"]))
    msg.text = str(message.get("text") or message.get("caption") or "")
    location = message.get("location")
    if isinstance(location, dict):
        try:
            msg.lon, msg.lat = float(location["longitude"]), float(location["latitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(
                "Lokasi Telegram tidak lengkap / incomplete location.", code="invalid_webhook"
            ) from exc
        if not (-180 <= msg.lon <= 180 and -90 <= msg.lat <= 90):
            raise ValidationFailed(
                "Koordinat di luar jangkauan / coordinates out of range.", code="invalid_webhook"
            )
    photos = message.get("photo")
    if isinstance(photos, list) and photos:
        largest = max(photos, key=lambda p: int((p or {}).get("file_size") or (p or {}).get("width") or 0))
        msg.photos = [{"provider": "telegram", "file_id": str((largest or {}).get("file_id", ""))}]
    return msg
