"""Bounds on what a report may carry, checked once for every channel before anything is stored.

A description must hold readable text (no NUL or control characters, not only spaces or zero-width
characters); free-form `attributes` are bounded in count, size and depth, so one report cannot fill the
database or make every page that shows its case fail (a 300-deep JSON breaks recursive renderers).
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Any
from urllib.parse import urlsplit

from kotapintar.cases.schemas import ReportIn
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.errors import ValidationFailed

MAX_ATTRIBUTES = 50  # keys at the top level
MAX_ATTRIBUTE_NODES = 500  # values in the whole tree (keys, list items, scalars)
MAX_ATTRIBUTE_DEPTH = 5  # {"a": {"b": [1]}} is depth 3
MAX_ATTRIBUTE_BYTES = 16 * 1024  # the JSON as stored
MIN_VISIBLE_CHARS = 3
MAX_SAFE_INTEGER = 2**53  # beyond it JSON numbers lose precision in JavaScript and many databases
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def _bad_char(text: str) -> str | None:
    for ch in text:
        if ch in _ALLOWED_CONTROLS:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs"):
            return f"U+{ord(ch):04X}"
    return None


def check_description(text: str) -> None:
    """Refuse a description with NUL/control characters, or without readable characters."""
    bad = _bad_char(text)
    if bad is not None:
        raise ValidationFailed(
            f"Uraian berisi karakter kendali ({bad}); kirim teks biasa / the description holds a control "
            "character; send plain text.",
            field="description",
            code="invalid_text",
        )
    visible = [ch for ch in text if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Zs")]
    if len(visible) < MIN_VISIBLE_CHARS:
        raise ValidationFailed(
            f"Uraian kosong: tulis apa yang terjadi (min. {MIN_VISIBLE_CHARS} huruf yang terlihat) / "
            "the description is empty: say what happened.",
            field="description",
            code="empty_text",
        )


def _walk(value: Any, depth: int, counter: list[int]) -> None:
    counter[0] += 1
    if depth > MAX_ATTRIBUTE_DEPTH:
        raise ValidationFailed(
            f"attributes bersarang terlalu dalam (maks. {MAX_ATTRIBUTE_DEPTH} tingkat) / attributes nested "
            f"deeper than {MAX_ATTRIBUTE_DEPTH} levels.",
            field="attributes",
            code="attributes_too_deep",
        )
    if counter[0] > MAX_ATTRIBUTE_NODES:
        raise ValidationFailed(
            f"attributes terlalu banyak nilai (maks. {MAX_ATTRIBUTE_NODES}) / too many attribute values.",
            field="attributes",
            code="attributes_too_large",
        )
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(key, depth + 1, counter)
            _walk(item, depth + 1, counter)
    elif isinstance(value, list | tuple):
        for item in value:
            _walk(item, depth + 1, counter)
    elif isinstance(value, str):
        bad = _bad_char(value)
        if bad is not None:
            raise ValidationFailed(
                f"attributes berisi karakter kendali ({bad}) / attributes hold a control character.",
                field="attributes",
                code="invalid_text",
            )
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        raise ValidationFailed(
            "attributes berisi angka terlalu besar (maks. 2^53) / attributes hold a number beyond 2^53.",
            field="attributes",
        )
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValidationFailed(
            "attributes berisi NaN/Infinity / attributes hold NaN or Infinity.", field="attributes"
        )


def check_attributes(attributes: dict[str, Any]) -> None:
    """Refuse attributes over the bounds (count, nodes, depth, bytes) or holding control characters."""
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValidationFailed(
            f"Terlalu banyak attributes ({len(attributes)}; maks. {MAX_ATTRIBUTES}) / too many attributes.",
            field="attributes",
            code="attributes_too_large",
        )
    _walk(attributes, 0, [0])
    size = len(json.dumps(attributes, ensure_ascii=False, default=str).encode("utf-8"))
    if size > MAX_ATTRIBUTE_BYTES:
        raise ValidationFailed(
            f"attributes terlalu besar ({size} byte; maks. {MAX_ATTRIBUTE_BYTES}) / attributes too large.",
            field="attributes",
            code="attributes_too_large",
        )


def check_report_text(description: str, attributes: dict[str, Any], address: str | None = None) -> None:
    """Every text check of one report: description, address and attributes."""
    check_description(description)
    if address:
        bad = _bad_char(address)
        if bad is not None:
            raise ValidationFailed(
                f"Alamat berisi karakter kendali ({bad}) / the address holds a control character.",
                field="address",
                code="invalid_text",
            )
    check_attributes(attributes)


def trusted_fields(actor: Actor, report: ReportIn) -> ReportIn:
    """The report with the fields the caller may not choose set by the server.

    The channel is `api` unless a client application (its own key) or staff states it; a priority
    is kept only from staff who triage (everyone else gets the service's priority from triage).
    """
    changes: dict[str, Any] = {}
    if actor.kind == "public" and report.channel != "api":
        changes["channel"] = "api"
    if report.priority is not None and not actor.can(Permission.TRIAGE_CASES):
        changes["priority"] = None
    return report.model_copy(update=changes) if changes else report


MAX_MEDIA_URLS = 10
MAX_MEDIA_URL_CHARS = 2000


def is_web_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host (never javascript:, data:, file: …)."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and _bad_char(url) is None


def check_media_urls(urls: list[str] | tuple[str, ...]) -> None:
    """Refuse linked media that are not http(s) URLs, or too many / too long ones."""
    if len(urls) > MAX_MEDIA_URLS:
        raise ValidationFailed(
            f"Maksimum {MAX_MEDIA_URLS} media_url / at most {MAX_MEDIA_URLS} media_url.", field="media_url"
        )
    for url in urls:
        if len(url) > MAX_MEDIA_URL_CHARS or not is_web_url(url):
            raise ValidationFailed(
                "media_url harus alamat http(s) yang lengkap / media_url must be an absolute http(s) URL.",
                field="media_url",
                code="invalid_media_url",
            )
