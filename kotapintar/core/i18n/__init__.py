"""Translation for everything a person reads: Indonesian first, English second, no compiled .mo files.

Catalogues are flat YAML files per locale (`locales/id.yaml`, `locales/en.yaml`) keyed by dotted
message ids such as `case.status.received`. Placeholders are named (`{ticket}`), never positional.
"""

from __future__ import annotations

from kotapintar.core.i18n.catalog import (
    DEFAULT_LOCALE,
    LOCALE_COOKIE,
    Locale,
    available_keys,
    choose_locale,
    load_catalog,
    negotiate_locale,
    ntranslate,
    parse_accept_language,
    placeholders_of,
    translate,
)
from kotapintar.core.i18n.middleware import LocaleMiddleware

__all__ = [
    "DEFAULT_LOCALE",
    "LOCALE_COOKIE",
    "Locale",
    "LocaleMiddleware",
    "available_keys",
    "choose_locale",
    "load_catalog",
    "negotiate_locale",
    "ntranslate",
    "parse_accept_language",
    "placeholders_of",
    "translate",
]
