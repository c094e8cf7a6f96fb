"""Routing rules as data: service + region (+ hours) -> agency; borders; overrides learned from rejections."""

from __future__ import annotations

from datetime import time

import pytest
from shapely.geometry import LineString, Point
from shapely.ops import substring

from kotapintar.catalog.locating import region_index
from kotapintar.catalog.regions import import_regions_file
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.settings import Settings
from kotapintar.intake.assess import assess_report
from kotapintar.triage.classify.dataset import data_dir
from kotapintar.triage.context import forget_triage_context
from kotapintar.triage.overrides import learn_routing_override
from kotapintar.triage.routing import load_routing, parse_routing
from tests.conftest import shared_data
from tests.helpers import actor, report

SERVICES = {"kebakaran", "karhutla", "air_bersih", "pohon_tumbang", "jalan_rusak", "listrik_padam"}
AGENCIES = {"damkar", "bpbd", "polres", "psc119", "dlh", "pupr", "pdam", "pln", "dishub", "satpolpp", "setda"}
UPSTREAM = {"62.03.10", "62.03.11", "62.03.12", "62.03.14", "62.03.15"}  # kebakaran-hulu in routing.yaml


@pytest.fixture(scope="module")
def table():  # type: ignore[no-untyped-def]
    return load_routing(
        data_dir() / "routing.yaml",
        services=SERVICES | {"banjir"},
        agencies=AGENCIES | {"basarnas", "dinsos", "disdik"},
    )


def test_default_is_the_catalogue_agency(table) -> None:  # type: ignore[no-untyped-def]
    decision = table.route("banjir", "bpbd", ["damkar"], ["62.03.01"], time(10, 0))
    assert (decision.agency, decision.reason) == ("bpbd", "catalogue")
    assert decision.informed == ("damkar",)


def test_region_rule_and_desa_inside_it(table) -> None:  # type: ignore[no-untyped-def]
    down = table.route("kebakaran", "damkar", ["polres", "psc119"], ["62.03.01"], time(10, 0))
    up = table.route("kebakaran", "damkar", ["polres", "psc119"], ["62.03.10.2001", "62.03.10"], time(10, 0))
    assert down.agency == "damkar"
    assert (up.agency, up.reason) == ("bpbd", "rule:kebakaran-hulu")
    assert "damkar" in up.informed


def test_time_of_day_rule_wraps_midnight(table) -> None:  # type: ignore[no-untyped-def]
    day = table.route("pohon_tumbang", "dlh", ["pln"], ["62.03.01"], time(10, 0))
    night = table.route("pohon_tumbang", "dlh", ["pln"], ["62.03.01"], time(23, 30))
    dawn = table.route("pohon_tumbang", "dlh", ["pln"], ["62.03.01"], time(6, 59))
    assert day.agency == "dlh"
    assert night.agency == dawn.agency == "bpbd"
    assert "dlh" in night.informed


def test_external_bodies_through_their_liaison(table) -> None:  # type: ignore[no-untyped-def]
    decision = table.route("listrik_padam", "pln", [], ["62.03.01"], time(10, 0))
    assert decision.agency == "pln" and decision.liaison == "setda"
    assert "setda" in decision.informed


def test_bad_rules_are_refused_with_their_place() -> None:
    with pytest.raises(ValidationFailed, match="kebakaran-x"):
        parse_routing(
            {"rules": [{"id": "kebakaran-x", "service": "kebakaran", "agency": "nobody"}]},
            source="r.yaml",
            services=SERVICES,
            agencies=AGENCIES,
        )
    with pytest.raises(ValidationFailed, match="HH:MM"):
        parse_routing(
            {"rules": [{"id": "x", "service": "kebakaran", "agency": "damkar", "hours": "malam"}]},
            source="r.yaml",
            services=SERVICES,
            agencies=AGENCIES,
        )


def test_override_learned_from_a_rejection_routes_the_next_report(db: Database, settings: Settings) -> None:
    before = assess_report(db, report(service_code="lampu_jalan"), settings)
    assert before.agency_code == "dishub"
    learn_routing_override(db, actor(db, "operator"), "lampu_jalan", "62.03.01", "pupr")
    after = assess_report(db, report(service_code="lampu_jalan"), settings)
    assert after.agency_code == "pupr"
    assert "dishub" in after.informed  # the agency that said "bukan wewenang" still hears of it
    assert any(n == "routing:override:62.03.01" for n in after.notes)
    elsewhere = assess_report(db, report(service_code="lampu_jalan", lon=114.452, lat=-2.985), settings)
    assert elsewhere.agency_code == "dishub"  # only in the region it was learned for
    with pytest.raises(ValidationFailed):
        learn_routing_override(db, actor(db, "operator"), "lampu_jalan", "99.99", "pupr")


def _shared_border(index, inside: set[str]):  # type: ignore[no-untyped-def]
    kec = index.by_level["kecamatan"]
    for a in kec:
        if a.code not in inside:
            continue
        for b in kec:
            if b.code in inside or not b.code.startswith("62.03."):
                continue
            line = a.geometry.boundary.intersection(b.geometry.boundary)
            if line.length > 0.01:
                return a, b, line
    return None


def test_border_points_on_real_boundaries_go_to_the_area_they_fall_in(
    db: Database, settings: Settings
) -> None:
    import_regions_file(db, system_actor("tests"), shared_data("wilayah", "kalteng_kecamatan_62.geojson"))
    forget_triage_context(db)
    index = region_index(db)
    found = _shared_border(index, UPSTREAM)
    assert found is not None, "no upstream kecamatan borders a downstream one in the real data"
    up, down, border = found
    parts = list(getattr(border, "geoms", [border]))
    line = max((g for g in parts if isinstance(g, LineString)), key=lambda g: g.length)
    mid = substring(line, 0.5, 0.5, normalized=True)
    assert isinstance(mid, Point)
    on_border = assess_report(db, report(service_code="kebakaran", lon=mid.x, lat=mid.y), settings)
    assert on_border.location is not None
    assert on_border.location.kecamatan_code == min(up.code, down.code)  # a stable answer on the line
    # 50 m to each side along the normal of the border
    a, b = line.interpolate(0.49, normalized=True), line.interpolate(0.51, normalized=True)
    dx, dy = b.x - a.x, b.y - a.y
    norm = (dx * dx + dy * dy) ** 0.5
    step = 50 / 111_000
    sides = set()
    for sign in (1, -1):
        lon, lat = mid.x - sign * dy / norm * step, mid.y + sign * dx / norm * step
        result = assess_report(db, report(service_code="kebakaran", lon=lon, lat=lat), settings)
        assert result.location is not None
        kec = result.location.kecamatan_code
        assert kec in (up.code, down.code)
        sides.add(kec)
        assert result.agency_code == ("bpbd" if kec in UPSTREAM else "damkar")
    assert sides == {up.code, down.code}  # one point on each side, each routed by its own area
