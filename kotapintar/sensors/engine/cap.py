"""CAP 1.2 (OASIS Common Alerting Protocol) alerts and an Atom feed of active warnings, validated against the XSD."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from kotapintar.core.errors import ValidationFailed
from kotapintar.sensors.engine.levels import LevelCatalog, load_catalog
from kotapintar.sensors.engine.rules import Rule

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM_NS = "http://www.w3.org/2005/Atom"
SCHEMA_PATH = Path(__file__).resolve().parents[1] / "data" / "CAP-v1.2.xsd"
WIB = timezone(timedelta(hours=7), "WIB")
GEOCODE_NAME = "KEMENDAGRI"
_ID_BAD = re.compile(r"[\s,<&]")


class CapInvalid(ValidationFailed):
    """A CAP document that does not validate against the OASIS CAP 1.2 schema or its rules."""

    code = "cap_invalid"


@dataclass(frozen=True)
class CapArea:
    """One `area`: description, polygons as (lon, lat) rings, geocodes (name, value) such as Kemendagri codes."""

    area_desc: str
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    geocodes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CapInfo:
    """One `info` block (one language)."""

    category: str
    event: str
    urgency: str
    severity: str
    certainty: str
    headline: str
    description: str
    instruction: str
    areas: tuple[CapArea, ...]
    language: str = "id-ID"
    sender_name: str | None = None
    effective: datetime | None = None
    expires: datetime | None = None
    web: str | None = None
    contact: str | None = None
    parameters: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class CapWarning:
    """A warning to publish as one CAP 1.2 `alert` (Indonesian info first, optionally English second)."""

    identifier: str
    sender: str
    sent: datetime
    info: tuple[CapInfo, ...]
    status: str = "Actual"
    msg_type: str = "Alert"
    scope: str = "Public"
    references: tuple[tuple[str, str, datetime], ...] = field(default=())
    note: str | None = None

    def reference(self) -> tuple[str, str, datetime]:
        """The (sender, identifier, sent) that an Update or Cancel of this alert refers to."""
        return (self.sender, self.identifier, self.sent)


def cap_time(moment: datetime, tz: tzinfo = WIB) -> str:
    """CAP dateTime: whole seconds with a numeric offset (never `Z`; UTC is written `-00:00`)."""
    local = moment.astimezone(tz).replace(microsecond=0)
    text = local.isoformat()
    return text[:-6] + "-00:00" if text.endswith("+00:00") else text


def make_identifier(prefix: str, rule_id: str, area: str, sent: datetime) -> str:
    """A unique CAP identifier without spaces, commas or `<`/`&`."""
    stamp = sent.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return _ID_BAD.sub("-", f"{prefix}.{rule_id}.{area}.{stamp}")


def _polygon_text(ring: Sequence[tuple[float, float]]) -> str:
    points: list[str] = []
    for lon, lat in ring:
        text = f"{lat:.5f},{lon:.5f}"
        if not points or points[-1] != text:
            points.append(text)
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()
    if len(set(points)) < 3:
        raise CapInvalid("Poligon CAP butuh minimal 3 titik berbeda.")
    return " ".join([*points, points[0]])


def _sub(parent: Any, name: str, text: str | None = None) -> Any:
    el = etree.SubElement(parent, f"{{{CAP_NS}}}{name}")
    if text is not None:
        el.text = text
    return el


def alert_element(warning: CapWarning, *, tz: tzinfo = WIB) -> Any:
    """The `cap:alert` lxml element of a warning (elements in schema order)."""
    if _ID_BAD.search(warning.identifier) or _ID_BAD.search(warning.sender):
        raise CapInvalid("identifier/sender CAP tidak boleh berisi spasi, koma, '<' atau '&'.")
    root = etree.Element(f"{{{CAP_NS}}}alert", nsmap={None: CAP_NS})
    _sub(root, "identifier", warning.identifier)
    _sub(root, "sender", warning.sender)
    _sub(root, "sent", cap_time(warning.sent, tz))
    _sub(root, "status", warning.status)
    _sub(root, "msgType", warning.msg_type)
    _sub(root, "scope", warning.scope)
    if warning.note:
        _sub(root, "note", warning.note)
    if warning.references:
        _sub(
            root,
            "references",
            " ".join(f"{s},{i},{cap_time(t, tz)}" for s, i, t in warning.references),
        )
    for info in warning.info:
        el = _sub(root, "info")
        _sub(el, "language", info.language)
        _sub(el, "category", info.category)
        _sub(el, "event", info.event)
        _sub(el, "urgency", info.urgency)
        _sub(el, "severity", info.severity)
        _sub(el, "certainty", info.certainty)
        if info.effective:
            _sub(el, "effective", cap_time(info.effective, tz))
        if info.expires:
            _sub(el, "expires", cap_time(info.expires, tz))
        if info.sender_name:
            _sub(el, "senderName", info.sender_name)
        _sub(el, "headline", info.headline)
        _sub(el, "description", info.description)
        if info.instruction:
            _sub(el, "instruction", info.instruction)
        if info.web:
            _sub(el, "web", info.web)
        if info.contact:
            _sub(el, "contact", info.contact)
        for name, value in info.parameters:
            p = _sub(el, "parameter")
            _sub(p, "valueName", name)
            _sub(p, "value", value)
        for area in info.areas:
            a = _sub(el, "area")
            _sub(a, "areaDesc", area.area_desc)
            for ring in area.polygons:
                _sub(a, "polygon", _polygon_text(ring))
            for name, value in area.geocodes:
                g = _sub(a, "geocode")
                _sub(g, "valueName", name)
                _sub(g, "value", value)
    return root


def build_alert(warning: CapWarning, *, tz: tzinfo = WIB, validate_xml: bool = True) -> bytes:
    """The CAP 1.2 XML document (UTF-8) of a warning, validated against the OASIS schema by default."""
    data: bytes = etree.tostring(
        alert_element(warning, tz=tz), xml_declaration=True, encoding="UTF-8", pretty_print=True
    )
    if validate_xml:
        validate(data)
    return data


@lru_cache(maxsize=1)
def cap_schema() -> Any:
    """The OASIS CAP 1.2 XML schema (shipped copy of CAP-v1.2.xsd)."""
    return etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))


def validate(document: bytes | Any) -> None:
    """Raise CapInvalid unless `document` (bytes or element) is a valid CAP 1.2 alert with closed polygons."""
    if isinstance(document, bytes | str):
        try:
            doc = etree.fromstring(document.encode() if isinstance(document, str) else document)
        except etree.XMLSyntaxError as exc:
            raise CapInvalid(f"XML CAP tidak terbaca: {exc}") from exc
    else:
        doc = document
    schema = cap_schema()
    if not schema.validate(doc):
        errors = [str(e.message) for e in schema.error_log]
        raise CapInvalid("CAP 1.2 tidak valid: " + "; ".join(errors[:3]), errors=errors)
    for poly in doc.iter(f"{{{CAP_NS}}}polygon"):
        pairs = (poly.text or "").split()
        if len(pairs) < 4 or pairs[0] != pairs[-1]:
            raise CapInvalid("Poligon CAP harus tertutup dengan minimal 4 pasangan koordinat.")


def build_feed(
    warnings: Sequence[CapWarning],
    *,
    feed_id: str,
    title: str,
    updated: datetime,
    link: str,
    author: str = "Kotapintar",
    tz: tzinfo = WIB,
) -> bytes:
    """An Atom feed of active warnings, each entry carrying its full CAP alert inline."""
    atom = f"{{{ATOM_NS}}}"
    feed = etree.Element(f"{atom}feed", nsmap={None: ATOM_NS, "cap": CAP_NS})
    etree.SubElement(feed, f"{atom}id").text = feed_id
    etree.SubElement(feed, f"{atom}title").text = title
    etree.SubElement(feed, f"{atom}updated").text = cap_time(updated, tz)
    etree.SubElement(feed, f"{atom}link", href=link, rel="self")
    etree.SubElement(etree.SubElement(feed, f"{atom}author"), f"{atom}name").text = author
    for warning in warnings:
        alert = alert_element(warning, tz=tz)
        validate(alert)
        entry = etree.SubElement(feed, f"{atom}entry")
        etree.SubElement(entry, f"{atom}id").text = f"urn:cap:{warning.sender}:{warning.identifier}"
        headline = warning.info[0].headline if warning.info else warning.identifier
        etree.SubElement(entry, f"{atom}title").text = headline
        etree.SubElement(entry, f"{atom}updated").text = cap_time(warning.sent, tz)
        if warning.info:
            etree.SubElement(entry, f"{atom}summary").text = warning.info[0].description
        content = etree.SubElement(entry, f"{atom}content", type="application/cap+xml")
        content.append(alert)
    data: bytes = etree.tostring(feed, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


class _Defaulting(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fill(template: str, values: Mapping[str, Any]) -> str:
    """Fill `{name}` placeholders; unknown ones stay as they are (no code runs)."""
    return template.format_map(_Defaulting(values))


# What a Cancel says: the warning has ended (a Cancel that repeats the warning's text reads as a new one).
CANCEL_TEXT = {
    "id-ID": (
        "Peringatan {event} di {area_name} telah berakhir",
        "Peringatan {event} untuk {area_name} dicabut ({time_wib}). Kondisi yang memicunya sudah berakhir; "
        "pesan ini membatalkan peringatan sebelumnya.",
        "Tidak perlu tindakan darurat lagi. Tetap ikuti informasi resmi BPBD dan pemerintah daerah.",
    ),
    "en-US": (
        "{event} warning for {area_name} has ended",
        "The {event} warning for {area_name} was lifted ({time_wib}). The condition that triggered it is "
        "over; this message cancels the earlier warning.",
        "No emergency action is needed any more. Keep following official information from BPBD and the "
        "local government.",
    ),
}


def warning_from_rule(
    rule: Rule,
    *,
    area: CapArea,
    level: str | None,
    sent: datetime,
    sender: str,
    values: Mapping[str, Any] | None = None,
    msg_type: str = "Alert",
    references: tuple[tuple[str, str, datetime], ...] = (),
    identifier_prefix: str = "kotapintar",
    status: str = "Actual",
    expires_after: timedelta | None = timedelta(hours=6),
    catalog: LevelCatalog | None = None,
    english: bool = False,
    observed: datetime | None = None,
) -> CapWarning:
    """A CAP warning for a rule's open warning in an area, with the level's severity/urgency/certainty.

    `sent` is when the message is issued and `expires` counts from it; `observed` is the time of the
    observation behind it (a logger uploading hours of backlog after an outage raises the alarm long after
    the water rose): it goes into the texts (`{time_wib}`) and the `kotapintar:observedAt` parameter, never
    into `sent`, so a late message is not born expired. The `en-US` block is sent only when the rule has
    English texts; a Cancel says that the warning has ended, in both languages.
    """
    if rule.warning is None:
        raise CapInvalid(f"Aturan {rule.id} tidak punya teks peringatan.")
    cat = catalog or load_catalog()
    found = cat.find_level(level) if level else None
    hints = found[1].cap if found else None
    level_label = found[1].label if found else ("", "")
    observed_at = observed or sent
    filled = {
        "area_name": area.area_desc,
        "level": level or "",
        "level_label": level_label[0],
        "level_label_en": level_label[1],
        "time_wib": observed_at.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB"),
        **(values or {}),
    }
    text = rule.warning
    cancel = msg_type == "Cancel"
    parameters = (
        ("kotapintar:rule", rule.id),
        ("kotapintar:level", level or ""),
        ("kotapintar:observedAt", cap_time(observed_at)),
    )

    def texts(
        language: str, event: str, headline: str, description: str, instruction: str
    ) -> tuple[str, ...]:
        if cancel:
            ended = CANCEL_TEXT[language]
            values_ = {**filled, "event": event.lower() if language == "id-ID" else event}
            return tuple(fill(t, values_) for t in ended)
        return fill(headline, filled), fill(description, filled), fill(instruction, filled)

    headline, description, instruction = texts(
        "id-ID", text.event, text.headline, text.description, text.instruction_for(level)
    )
    info = CapInfo(
        category=text.category,
        event=text.event,
        urgency="Past" if cancel else (hints.urgency if hints else "Expected"),
        severity="Minor" if cancel else (hints.severity if hints else "Moderate"),
        certainty="Observed" if cancel else (hints.certainty if hints else "Likely"),
        headline=headline,
        description=description,
        instruction=instruction,
        areas=(area,),
        expires=sent + expires_after if expires_after else None,
        parameters=parameters,
    )
    infos = [info]
    if english and text.en is not None:
        en = text.en
        headline, description, instruction = texts(
            "en-US", en.event, en.headline, en.description, en.instruction_for(level)
        )
        infos.append(
            CapInfo(
                **{
                    **info.__dict__,
                    "language": "en-US",
                    "event": en.event,
                    "headline": headline,
                    "description": description,
                    "instruction": instruction,
                },
            )
        )
    return CapWarning(
        identifier=make_identifier(
            identifier_prefix, rule.id, area.geocodes[0][1] if area.geocodes else "x", sent
        ),
        sender=sender,
        sent=sent,
        info=tuple(infos),
        status=status,
        msg_type=msg_type,
        references=references,
    )
