"""CAP 1.2 alerts built from rules validate against the OASIS CAP 1.2 XSD; the Atom feed carries them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from kotapintar.sensors.engine.cap import (
    CAP_NS,
    CapArea,
    CapInfo,
    CapInvalid,
    CapWarning,
    build_alert,
    build_feed,
    cap_schema,
    cap_time,
    validate,
    warning_from_rule,
)
from kotapintar.sensors.engine.rules import load_rules

SENT = datetime(2026, 1, 12, 3, 0, 5, 123456, tzinfo=UTC)
RULES = {r.id: r for r in load_rules()}
AREA = CapArea(
    area_desc="Kecamatan Selat, Kabupaten Kapuas",
    polygons=(((114.29, -3.06), (114.43, -3.06), (114.43, -2.94), (114.29, -2.94)),),
    geocodes=(("KEMENDAGRI", "62.03.01"), ("KEMENDAGRI", "62.03.01.1007")),
)
NS = {"c": CAP_NS}


def flood_warning(level: str = "siaga", **kw: object) -> bytes:
    warning = warning_from_rule(
        RULES["banjir-tma-siaga"],
        area=AREA,
        level=level,
        sent=SENT,
        sender="bpbd@kapuaskab.go.id",
        **kw,  # type: ignore[arg-type]
    )
    return build_alert(warning)


def test_flood_alert_is_valid_cap_with_indonesian_text() -> None:
    xml = flood_warning("awas")
    doc = etree.fromstring(xml)
    assert cap_schema().validate(doc)
    assert doc.findtext("c:sent", namespaces=NS) == "2026-01-12T10:00:05+07:00"
    info = doc.find("c:info", NS)
    assert info is not None
    assert info.findtext("c:language", namespaces=NS) == "id-ID"
    assert (info.findtext("c:severity", namespaces=NS), info.findtext("c:urgency", namespaces=NS)) == (
        "Extreme",
        "Immediate",
    )
    assert (
        info.findtext("c:headline", namespaces=NS)
        == "Peringatan banjir Awas di Kecamatan Selat, Kabupaten Kapuas"
    )
    assert "Segera mengungsi" in (info.findtext("c:instruction", namespaces=NS) or "")
    polygon = info.findtext("c:area/c:polygon", namespaces=NS) or ""
    pairs = polygon.split()
    assert pairs[0] == pairs[-1] == "-3.06000,114.29000"  # lat,lon and closed
    codes = [g.findtext("c:value", namespaces=NS) for g in info.findall("c:area/c:geocode", NS)]
    assert codes == ["62.03.01", "62.03.01.1007"]


def test_invalid_documents_are_refused() -> None:
    xml = flood_warning()
    broken = xml.replace(b"<severity>Severe</severity>", b"<severity>Parah</severity>")
    with pytest.raises(CapInvalid):
        validate(broken)
    missing = xml.replace(b"<msgType>Alert</msgType>", b"")
    with pytest.raises(CapInvalid):
        validate(missing)
    with pytest.raises(CapInvalid):
        validate(b"<alert>")
    with pytest.raises(CapInvalid):
        build_alert(CapWarning(identifier="ada spasi", sender="x@y", sent=SENT, info=()))
    degenerate = CapArea(area_desc="x", polygons=(((114.0, -3.0), (114.0, -3.0), (114.1, -3.0)),))
    with pytest.raises(CapInvalid):
        build_alert(
            warning_from_rule(
                RULES["banjir-tma-siaga"], area=degenerate, level="siaga", sent=SENT, sender="a@b"
            )
        )


def test_update_and_cancel_reference_the_first_alert() -> None:
    first = warning_from_rule(
        RULES["banjir-tma-siaga"], area=AREA, level="siaga", sent=SENT, sender="bpbd@kapuaskab.go.id"
    )
    later = SENT + timedelta(hours=2)
    update = warning_from_rule(
        RULES["banjir-tma-siaga"],
        area=AREA,
        level="awas",
        sent=later,
        sender="bpbd@kapuaskab.go.id",
        msg_type="Update",
        references=(first.reference(),),
        english=True,
    )
    doc = etree.fromstring(build_alert(update))
    assert doc.findtext("c:msgType", namespaces=NS) == "Update"
    assert (
        doc.findtext("c:references", namespaces=NS)
        == f"bpbd@kapuaskab.go.id,{first.identifier},2026-01-12T10:00:05+07:00"
    )
    assert [i.findtext("c:language", namespaces=NS) for i in doc.findall("c:info", NS)] == ["id-ID", "en-US"]


def test_feed_holds_every_active_alert() -> None:
    warnings = [
        warning_from_rule(RULES[rid], area=AREA, level=lvl, sent=SENT, sender="bpbd@kapuaskab.go.id")
        for rid, lvl in [("banjir-tma-siaga", "siaga"), ("karhutla-pm25-berbahaya", "berbahaya")]
    ]
    feed = etree.fromstring(
        build_feed(
            warnings,
            feed_id="urn:kotapintar:kapuas:cap",
            title="Peringatan aktif Kabupaten Kapuas",
            updated=SENT,
            link="https://kapuas.example/cap.atom",
        )
    )
    alerts = feed.findall(".//c:alert", NS)
    assert len(alerts) == 2
    for alert in alerts:
        validate(alert)
    events = [a.findtext("c:info/c:event", namespaces=NS) for a in alerts]
    assert events == ["Banjir", "Kabut asap"]


def test_cap_time_never_uses_z() -> None:
    assert cap_time(SENT, UTC) == "2026-01-12T03:00:05-00:00"


text_st = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\x00"),
    min_size=1,
    max_size=80,
)


@settings(max_examples=60, deadline=None)
@given(
    text_st,
    text_st,
    st.sampled_from(["Alert", "Update", "Cancel"]),
    st.lists(
        st.tuples(st.integers(113000, 115000), st.integers(-4000, -500)), min_size=3, max_size=8, unique=True
    ),
)
def test_any_text_still_gives_valid_cap(
    headline: str, description: str, msg_type: str, grid: list[tuple[int, int]]
) -> None:
    ring = tuple((x / 1000, y / 1000) for x, y in grid)
    info = CapInfo(
        category="Met",
        event="Banjir",
        urgency="Expected",
        severity="Severe",
        certainty="Likely",
        headline=headline,
        description=description,
        instruction="Ikuti arahan BPBD & petugas <desa>.",
        areas=(CapArea(area_desc=headline, polygons=(ring,), geocodes=(("KEMENDAGRI", "62.03.01"),)),),
    )
    warning = CapWarning(
        identifier="kotapintar.uji.1",
        sender="bpbd@kapuaskab.go.id",
        sent=SENT,
        info=(info,),
        msg_type=msg_type,
    )
    doc = etree.fromstring(build_alert(warning))
    assert doc.findtext("c:info/c:headline", namespaces=NS) == headline
