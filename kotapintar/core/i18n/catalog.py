"""Message catalogues, `translate` with named placeholders and fallback, and locale negotiation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
LOCALE_COOKIE = "lang"
"""Name of the cookie (and of the `?lang=` query parameter) that holds the chosen locale."""

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


class Locale(StrEnum):
    """The locales Kotapintar speaks; Indonesian is the default and the fallback."""

    ID = "id"
    EN = "en"

    @property
    def native_name(self) -> str:
        """The locale's name in its own language, for the language switch."""
        return {"id": "Bahasa Indonesia", "en": "English"}[self.value]


DEFAULT_LOCALE = Locale.ID


@cache
def load_catalog(locale: Locale | str) -> Mapping[str, str]:
    """The flat `key -> message` catalogue of one locale, read once from its YAML file."""
    path = LOCALES_DIR / f"{Locale(locale).value}.yaml"
    with path.open(encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a catalogue must be a mapping of dotted keys to messages")
    catalog: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError(f"{path}: key {key!r} must map to a string, got {type(value).__name__}")
        catalog[key] = value
    return catalog


def available_keys(locale: Locale | str) -> frozenset[str]:
    """Every message id defined in one locale's catalogue."""
    return frozenset(load_catalog(locale))


def placeholders_of(message: str) -> frozenset[str]:
    """The named placeholders (`{ticket}` -> `ticket`) used in a message."""
    return frozenset(_PLACEHOLDER.findall(message))


def _coerce_locale(locale: Locale | str | None) -> Locale:
    if isinstance(locale, Locale):
        return locale
    try:
        return Locale(locale or DEFAULT_LOCALE)
    except ValueError:
        return DEFAULT_LOCALE


def translate(key: str, locale: Locale | str | None = DEFAULT_LOCALE, **placeholders: object) -> str:
    """The message `key` in `locale`, falling back to Indonesian and then to the key itself.

    Named placeholders are filled from keyword arguments (`ticket="KPS-2026-000123"`); a placeholder
    without a value is left visible as `{name}` so a missing argument is noticed, never a crash.
    `key`, `locale` and `count` are reserved: no message may use them as placeholder names.
    """
    chosen = _coerce_locale(locale)
    message = load_catalog(chosen).get(key)
    if message is None and chosen is not DEFAULT_LOCALE:
        message = load_catalog(DEFAULT_LOCALE).get(key)
    if message is None:
        return key
    if not placeholders:
        return message

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(placeholders[name]) if name in placeholders else match.group(0)

    return _PLACEHOLDER.sub(fill, message)


def ntranslate(
    key: str, count: int, locale: Locale | str | None = DEFAULT_LOCALE, **placeholders: object
) -> str:
    """A counted message: `key.one` when count is 1, else `key.other`; `{n}` is the count."""
    suffix = "one" if count == 1 else "other"
    return translate(f"{key}.{suffix}", locale, n=count, **placeholders)


def parse_accept_language(header: str | None) -> list[str]:
    """Primary language tags of an Accept-Language header, best first (q=0 entries dropped)."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        pieces = part.strip().split(";")
        tag = pieces[0].strip().lower()
        if not tag:
            continue
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.strip().partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            weighted.append((-quality, position, tag.split("-")[0]))
    weighted.sort()
    return [tag for _, _, tag in weighted]


def _known(value: str | None) -> Locale | None:
    if not value:
        return None
    try:
        return Locale(value.strip().lower()[:2])
    except ValueError:
        return None


def choose_locale(
    *, query: str | None = None, cookie: str | None = None, accept_language: str | None = None
) -> Locale:
    """Pick the locale: `?lang=` beats the `lang` cookie beats Accept-Language; default Indonesian.

    `in` (the deprecated ISO code for Indonesian that some old phones still send) counts as `id`.
    """
    for explicit in (query, cookie):
        found = _known(explicit)
        if found is not None:
            return found
    for tag in parse_accept_language(accept_language):
        found = _known("id" if tag == "in" else tag)
        if found is not None:
            return found
    return DEFAULT_LOCALE


def negotiate_locale(conn: HTTPConnection) -> Locale:
    """The locale of one request (or WebSocket) from its `?lang=`, `lang` cookie and Accept-Language."""
    return choose_locale(
        query=conn.query_params.get(LOCALE_COOKIE),
        cookie=conn.cookies.get(LOCALE_COOKIE),
        accept_language=conn.headers.get("accept-language"),
    )
