"""Early warnings: the CAP 1.2 alerts published from sensor alarms and the feed the public reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.sensors.devices import SensorContext
from kotapintar.sensors.engine.cap import WIB, CapArea, build_alert, build_feed, warning_from_rule
from kotapintar.sensors.engine.payloads import iso_z
from kotapintar.sensors.models import SensorAlarm, SensorWarning
from kotapintar.sensors.repository import SensorRepository


def _cap_area(repo: SensorRepository, code: str) -> CapArea:
    """The CAP area of a kecamatan: its name, its boundary (outer ring, at most ~100 points) and its code."""
    region = repo.region(code)
    name = region.name if region is not None else code
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    geometry = region.geometry if region is not None else None
    if geometry:
        rings: list[list[list[float]]] = []
        if geometry.get("type") == "Polygon":
            rings = [geometry["coordinates"][0]]
        elif geometry.get("type") == "MultiPolygon":
            rings = [max((p[0] for p in geometry["coordinates"]), key=len)]
        for ring in rings:
            step = max(1, len(ring) // 100)
            points = [(round(p[0], 5), round(p[1], 5)) for p in ring[::step]]
            if points and points[0] != points[-1]:
                points.append(points[0])
            if len(points) >= 4:
                polygons += (tuple(points),)
    return CapArea(
        area_desc=f"Kecamatan {name}" if region is not None and region.level == "kecamatan" else name,
        polygons=polygons,
        geocodes=(("KEMENDAGRI", code),),
    )


def publish_warning(
    repo: SensorRepository,
    ctx: SensorContext,
    alarm: SensorAlarm,
    msg_type: str,
    at: datetime,
    settings: Settings,
    *,
    issued: datetime | None = None,
) -> SensorWarning | None:
    """Build, validate and store one CAP message of an alarm (Alert, Update referencing it, Cancel).

    `at` is the time of the observation behind the message, `issued` the time it is published (the
    ingest's clock): CAP's `sent` is the issue time and `expires` counts from it, so a warning raised from a
    logger's late backlog is not published already expired; the observation time is in its texts.
    """
    rule = ctx.rule(alarm.rule_id)
    if rule is None or rule.warning is None:
        return None
    previous = repo.current_warning(alarm.id)
    references: tuple[tuple[str, str, datetime], ...] = ()
    if previous is not None:
        references = tuple((s, i, datetime.fromisoformat(t)) for s, i, t in previous.cap_references)
        references += ((previous.sender, previous.identifier, previous.sent),)
    issue = max(issued or at, at)
    sent = max(issue, previous.sent + timedelta(seconds=1)) if previous is not None else issue
    warning = warning_from_rule(
        rule,
        area=_cap_area(repo, alarm.area_code),
        level=alarm.level,
        sent=sent,
        sender=settings.cap_sender,
        msg_type=msg_type,
        references=references,
        catalog=ctx.catalog,
        english=True,
        observed=at,
    )
    if msg_type != "Alert":
        warning = type(warning)(
            identifier=f"{warning.identifier}.{msg_type.lower()}",
            sender=warning.sender,
            sent=warning.sent,
            info=warning.info,
            status=warning.status,
            msg_type=warning.msg_type,
            scope=warning.scope,
            references=warning.references,
        )
    xml = build_alert(warning).decode("utf-8")
    return repo.add_warning(
        SensorWarning(
            alarm_id=alarm.id,
            identifier=warning.identifier,
            sender=warning.sender,
            sent=warning.sent,
            status=warning.status,
            msg_type=msg_type,
            area_code=alarm.area_code,
            level=alarm.level,
            cap_references=[[s, i, t.isoformat()] for s, i, t in warning.references],
            headline=warning.info[0].headline[:300],
            current=True,
            xml=xml,
        )
    )


def cap_feed(
    db: Database,
    *,
    link: str,
    now: datetime | None = None,
    settings: Settings | None = None,
    alert_link: Callable[[str], str] | None = None,
) -> bytes:
    """The public CAP 1.2 Atom feed: current messages of active warnings and cancellations of the last 24 h.

    Each entry links to its own CAP message (`alert_link(identifier)`, what aggregators fetch); the feed's
    `updated` is its newest message's `sent` (the start of the hour when empty), so the same warnings give
    the same bytes and a conditional GET can answer 304.
    """
    from lxml import etree

    from kotapintar.sensors.engine.cap import ATOM_NS, validate

    settings = settings or get_settings()
    now = now or utcnow()
    with db.reading() as uow:
        rows = SensorRepository(uow.session).feed_warnings(now - timedelta(hours=24))
        items = [(w.identifier, w.sender, w.sent, w.headline, w.xml) for w in rows]
    atom = f"{{{ATOM_NS}}}"
    updated = max(
        (sent for _, _, sent, _, _ in items), default=now.replace(minute=0, second=0, microsecond=0)
    )
    base = etree.fromstring(
        build_feed(
            [],
            feed_id=f"urn:kotapintar:cap:{settings.cap_sender}",
            title=_FEED_TITLE,
            updated=updated,
            link=link,
        )
    )
    for identifier, sender, sent, headline, xml in items:
        alert = etree.fromstring(xml.encode("utf-8"))
        validate(alert)
        entry = etree.SubElement(base, f"{atom}entry")
        etree.SubElement(entry, f"{atom}id").text = f"urn:cap:{sender}:{identifier}"
        etree.SubElement(entry, f"{atom}title").text = headline
        etree.SubElement(entry, f"{atom}updated").text = (
            sent.astimezone(WIB).replace(microsecond=0).isoformat()
        )
        if alert_link is not None:
            etree.SubElement(
                entry, f"{atom}link", rel="alternate", type="application/cap+xml", href=alert_link(identifier)
            )
        content = etree.SubElement(entry, f"{atom}content", type="application/cap+xml")
        content.append(alert)
    data: bytes = etree.tostring(base, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


_FEED_TITLE = "Peringatan dini Kabupaten Kapuas / Early warnings (CAP 1.2)"


def active_warnings(db: Database, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Active public warnings for the portal (newest first): area, level, headline, CAP identifier."""
    now = now or utcnow()
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        out = []
        for w in repo.feed_warnings(now):
            if w.msg_type == "Cancel":
                continue
            region = repo.region(w.area_code)
            out.append(
                {
                    "identifier": w.identifier,
                    "sender": w.sender,
                    "sent": iso_z(w.sent),
                    "msg_type": w.msg_type,
                    "status": w.status,
                    "area_code": w.area_code,
                    "area_name": region.name if region is not None else w.area_code,
                    "level": w.level,
                    "headline": w.headline,
                }
            )
        return out
