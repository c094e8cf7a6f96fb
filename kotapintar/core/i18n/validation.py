"""Pydantic's validation errors in words a person can act on, in their language.

Pydantic says "String should have at least 3 characters" about `body.description`; a call taker or a
citizen reading the form needs "Uraian terlalu pendek (paling sedikit 3 karakter)". Each error type maps
to a catalogue message (`validation.<type>`), each field name to its label (`field.<name>`); a field
without a label keeps its name with spaces, an error type without a message says the field is not valid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kotapintar.core.i18n.catalog import DEFAULT_LOCALE, Locale, available_keys, translate
from kotapintar.core.i18n.formats import format_number

_LOCATION_ROOTS = frozenset({"body", "query", "path", "header", "cookie", "form"})

# Pydantic error types (https://docs.pydantic.dev/latest/errors/validation_errors/) -> catalogue message.
_MESSAGE_OF_TYPE: dict[str, str] = {
    "missing": "validation.missing",
    "string_too_short": "validation.string_too_short",
    "string_too_long": "validation.string_too_long",
    "too_short": "validation.too_short",
    "too_long": "validation.too_long",
    "greater_than_equal": "validation.greater_than_equal",
    "greater_than": "validation.greater_than",
    "less_than_equal": "validation.less_than_equal",
    "less_than": "validation.less_than",
    "float_parsing": "validation.number",
    "float_type": "validation.number",
    "finite_number": "validation.finite_number",
    "extra_forbidden": "validation.extra_forbidden",
    "decimal_parsing": "validation.number",
    "int_parsing": "validation.integer",
    "int_type": "validation.integer",
    "int_from_float": "validation.integer",
    "bool_parsing": "validation.boolean",
    "bool_type": "validation.boolean",
    "string_type": "validation.string",
    "enum": "validation.enum",
    "literal_error": "validation.literal",
    "string_pattern_mismatch": "validation.pattern",
    "datetime_parsing": "validation.datetime",
    "datetime_from_date_parsing": "validation.datetime",
    "datetime_type": "validation.datetime",
    "json_invalid": "validation.json",
    "value_error": "validation.value_error",
    "assertion_error": "validation.value_error",
}


def field_name(loc: Sequence[Any]) -> str:
    """The field an error is about, without FastAPI's `body`/`query` root: `reporter.phone`."""
    parts = [str(p) for p in loc if p not in _LOCATION_ROOTS]
    return ".".join(parts) or "body"


def field_label(loc: Sequence[Any], locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """The label of a field as a form shows it (`field.description` -> `Uraian`), else its name in words."""
    parts = [str(p) for p in loc if p not in _LOCATION_ROOTS and not isinstance(p, int)]
    if not parts:
        return translate("validation.field.body", locale)
    last = parts[-1]
    if f"field.{last}" in available_keys(DEFAULT_LOCALE):
        return translate(f"field.{last}", locale)
    return last.replace("_", " ")


def _limit(value: object, locale: Locale | str | None) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return format_number(value, 6, locale)
    return str(value)


def _detail(error: Mapping[str, Any]) -> str:
    """A value_error's own message (our validators raise Indonesian text), without pydantic's prefix."""
    message = str(error.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def humanize_error(error: Mapping[str, Any], locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """One pydantic error as a sentence: `Uraian terlalu pendek (paling sedikit 3 karakter)`."""
    kind = str(error.get("type", ""))
    key = _MESSAGE_OF_TYPE.get(kind, "validation.other")
    ctx = dict(error.get("ctx") or {})
    values = {name: _limit(value, locale) for name, value in ctx.items() if name != "error"}
    values["expected"] = str(ctx.get("expected", "")).replace("'", "")
    values["detail"] = _detail(error)
    return translate(key, locale, field=field_label(tuple(error.get("loc", ())), locale), **values)


def humanize_errors(
    errors: Iterable[Mapping[str, Any]], locale: Locale | str | None = DEFAULT_LOCALE
) -> list[dict[str, str]]:
    """Every error as `{field, problem}`: the field's name for programs, the sentence for people."""
    return [
        {"field": field_name(tuple(e.get("loc", ()))), "problem": humanize_error(e, locale)} for e in errors
    ]


def summary(problems: Sequence[Mapping[str, str]], locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`Data belum dapat diterima: Uraian wajib diisi; Bujur harus 180 atau kurang` (at most five)."""
    text = "; ".join(p["problem"] for p in problems[:5])
    return translate("validation.summary", locale, problems=text)


__all__ = ["field_label", "field_name", "humanize_error", "humanize_errors", "summary"]
