"""WhatsApp Business Cloud API webhook: GET verification and signed POSTs of text, location and image messages.

Format: `{"object": "whatsapp_business_account", "entry": [{"changes": [{"value": {"messages": [...]}}]}]}`;
`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`.
"""

from __future__ import annotations

from typing import Any

from kotapintar.channels.adapters.signatures import valid_hmac, valid_secret
from kotapintar.channels.conversation import Inbound
from kotapintar.core.errors import ValidationFailed

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify(app_secret: str | None, body: bytes, signature: str | None) -> bool:
    """True when Meta signed this body with the app secret."""
    return valid_hmac(app_secret, body, signature, prefix="sha256=")


def verification_challenge(
    verify_token: str | None, mode: str | None, token: str | None, challenge: str | None
) -> str | None:
    """The `hub.challenge` to echo when Meta's subscription check carries our verify token, else None."""
    if mode == "subscribe" and challenge is not None and valid_secret(verify_token, token):
        return challenge
    return None


def parse(payload: Any) -> list[Inbound]:
    """The citizen messages in one webhook call (status callbacks and unknown types are skipped)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("entry"), list):
        raise ValidationFailed(
            "Bukan webhook WhatsApp (entry hilang) / not a WhatsApp webhook.", code="invalid_webhook"
        )
    out: list[Inbound] = []
    for entry in payload["entry"]:
        for change in (entry or {}).get("changes", []) or []:
            value = (change or {}).get("value", {}) or {}
            for message in value.get("messages", []) or []:
                inbound = _message(message)
                if inbound is not None:
                    out.append(inbound)
    return out


def _message(message: dict[str, Any]) -> Inbound | None:
    sender, message_id, kind = message.get("from"), message.get("id"), message.get("type")
    if not sender or not message_id:
        raise ValidationFailed(
            "Pesan WhatsApp tanpa from/id / message lacks from or id.", code="invalid_webhook"
        )
    msg = Inbound(channel="whatsapp", sender=f"+{str(sender).lstrip('+')}", message_id=str(message_id))
    if kind == "text":
        msg.text = str((message.get("text") or {}).get("body", ""))
    elif kind == "location":
        loc = message.get("location") or {}
        try:
            msg.lon, msg.lat = float(loc["longitude"]), float(loc["latitude"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(
                "Lokasi WhatsApp tidak lengkap / incomplete location.", code="invalid_webhook"
            ) from exc
        if not (-180 <= msg.lon <= 180 and -90 <= msg.lat <= 90):
            raise ValidationFailed(
                "Koordinat di luar jangkauan / coordinates out of range.", code="invalid_webhook"
            )
        msg.place_name = loc.get("name") or loc.get("address")
    elif kind == "image":
        image = message.get("image") or {}
        msg.photos = [
            {
                "provider": "whatsapp",
                "media_id": str(image.get("id", "")),
                "mime_type": image.get("mime_type"),
            }
        ]
        msg.text = str(image.get("caption") or "")
    else:
        msg.text = str((message.get("text") or {}).get("body", "")) if kind is None else ""
        if not msg.text:
            return msg  # unsupported type: the dialogue answers with its next question
    return msg
