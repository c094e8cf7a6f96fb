"""Names for the codes the domain stores (unit kinds, unit statuses, channels, task statuses, event types).

A page or a message shows a kind, a status or a channel by its name in the reader's language; the code
stays in data attributes and API fields. An unknown code (a kind a city added without a name) reads as
its words, `water_tender` -> `water tender`, never as a raw key.
"""

from __future__ import annotations

from kotapintar.core.i18n.catalog import DEFAULT_LOCALE, Locale, available_keys, translate


def label_of(prefix: str, code: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """The catalogue's name for `prefix.code`, else the code in words (underscores become spaces)."""
    text = str(getattr(code, "value", code) or "")
    key = f"{prefix}.{text}"
    if key in available_keys(DEFAULT_LOCALE):
        return translate(key, locale)
    return text.replace("_", " ")


def unit_kind_label(kind: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`ambulance` -> `Ambulans`."""
    return label_of("unit.kind", kind, locale)


def unit_status_label(status: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`en_route` -> `menuju lokasi`."""
    return label_of("unit.status", status, locale)


def sensor_kind_label(kind: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`water_level` -> `tinggi muka air`."""
    return label_of("sensor.kind", kind, locale)


def role_label(role: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`agency_head` -> `kepala instansi`."""
    return label_of("role", role, locale)


def channel_label(channel: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`call112` -> `panggilan 112`, `web` -> `formulir web`."""
    return label_of("channel", channel, locale)


def task_status_label(status: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`escalated` -> `dieskalasi`."""
    return label_of("ui.task.status", status, locale)


def event_label(event_type: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`unit_en_route` -> `Unit dalam perjalanan`."""
    return label_of("ui.event", event_type, locale)


__all__ = [
    "actor_label",
    "channel_label",
    "event_label",
    "label_of",
    "role_label",
    "sensor_kind_label",
    "task_status_label",
    "unit_kind_label",
    "unit_status_label",
]


def actor_label(actor: object, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """Who did it, as a person reads it: `user:operator` -> `operator`, `public:web` -> `warga (formulir
    web)`, `system:scheduler` -> `sistem`, `unit:AMB-01` -> `unit AMB-01`."""
    text = str(actor or "")
    kind, _, rest = text.partition(":")
    if not rest:
        return translate("actor.system", locale) if kind == "system" else text
    if kind == "user":
        return rest
    if kind == "public":
        return translate("actor.public", locale, channel=channel_label(rest, locale))
    if kind == "system":
        return translate("actor.system", locale)
    if kind == "unit":
        return translate("actor.unit", locale, code=rest)
    return rest
