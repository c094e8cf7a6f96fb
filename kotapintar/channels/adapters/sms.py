"""SMS gateway webhook: `{"id", "from", "text"}` as JSON or form fields, signed with `X-Signature`.

`X-Signature` is the hex HMAC-SHA256 of the raw body with `KOTAPINTAR_SMS_WEBHOOK_SECRET` (the usual
shape of Indonesian SMS gateway callbacks; many also name the fields `msisdn`/`message`/`message_id`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from kotapintar.channels.adapters.signatures import valid_hmac
from kotapintar.channels.conversation import Inbound
from kotapintar.core.errors import ValidationFailed

SIGNATURE_HEADER = "X-Signature"


def verify(secret: str | None, body: bytes, signature: str | None) -> bool:
    """True when the SMS gateway signed this body."""
    return valid_hmac(secret, body, signature)


def parse(body: bytes, content_type: str) -> Inbound:
    """The inbound SMS in a webhook body (JSON or form-encoded); ValidationFailed when fields are missing."""
    fields: dict[str, Any]
    try:
        if content_type.startswith("application/json"):
            loaded = json.loads(body or b"{}")
            fields = loaded if isinstance(loaded, dict) else {}
        else:
            fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed("Badan webhook SMS tidak dapat dibaca / unreadable SMS webhook body.") from exc
    sender = str(fields.get("from") or fields.get("msisdn") or "").strip()
    text = str(fields.get("text") or fields.get("message") or "")
    message_id = str(fields.get("id") or fields.get("message_id") or "").strip()
    missing = [name for name, value in (("from", sender), ("id", message_id)) if not value]
    if missing:
        raise ValidationFailed(
            f"Webhook SMS tanpa {', '.join(missing)} / SMS webhook lacks {', '.join(missing)}.",
            code="invalid_webhook",
            missing=missing,
        )
    if len(text) > 2000:
        raise ValidationFailed("Pesan SMS terlalu panjang / SMS text too long.", code="invalid_webhook")
    return Inbound(channel="sms", sender=sender, message_id=message_id, text=text)
