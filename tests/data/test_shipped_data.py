"""Checks of the shipped reference data: service catalogue, demo agencies, units, users and regions."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from functools import cache
from itertools import combinations
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import shapely
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

ROOT = Path(__file__).resolve().parents[2]
CATALOG_DATA = ROOT / "kotapintar" / "catalog" / "data"
CATALOGUE = CATALOG_DATA / "services.yaml"
DEMO = CATALOG_DATA / "demo"
SCRIPT = ROOT / "scripts" / "build_demo_city.py"
SHARED_DATA = ROOT.parent / "shared" / "data"
REAL_KECAMATAN = SHARED_DATA / "wilayah" / "kalteng_kecamatan_62.geojson"

# The contract of helper-rules.md: service -> (responsible agency, informed agencies, default priority).
SERVICE_CONTRACT: dict[str, tuple[str, set[str], str]] = {
    "kebakaran": ("damkar", {"polres", "psc119"}, "P1"),
    "karhutla": ("bpbd", {"damkar", "dlh"}, "P1"),
    "banjir": ("bpbd", {"basarnas", "dinsos"}, "P2"),
    "kecelakaan": ("polres", {"psc119", "dishub"}, "P1"),
    "darurat_medis": ("psc119", set(), "P1"),
    "pencarian_pertolongan": ("basarnas", {"bpbd"}, "P1"),
    "kriminalitas": ("polres", set(), "P2"),
    "pohon_tumbang": ("dlh", {"pln"}, "P2"),
    "jalan_rusak": ("pupr", set(), "P3"),
    "jembatan_rusak": ("pupr", set(), "P2"),
    "lampu_jalan": ("dishub", set(), "P4"),
    "drainase": ("pupr", set(), "P3"),
    "sampah": ("dlh", set(), "P3"),
    "air_bersih": ("pdam", set(), "P3"),
    "listrik_padam": ("pln", set(), "P3"),
    "ketertiban_umum": ("satpolpp", set(), "P3"),
    "lalu_lintas": ("dishub", set(), "P3"),
    "kesehatan_lingkungan": ("dinkes", set(), "P3"),
    "adminduk": ("disdukcapil", set(), "P4"),
    "bansos": ("dinsos", set(), "P4"),
    "pendidikan": ("disdik", set(), "P4"),
    "lainnya": ("diskominfo", set(), "P4"),
}
INTERNAL_AGENCIES = {
    "diskominfo", "setda", "bpbd", "damkar", "dinkes", "psc119", "pupr", "dishub", "dlh", "satpolpp",
    "disdukcapil", "dinsos", "disdik",
}  # fmt: skip
EXTERNAL_AGENCIES = {"polres", "pln", "pdam", "basarnas"}
GROUPS = {"governance", "branding", "economy", "living", "society", "environment"}
DATATYPES = {"string", "number", "datetime", "text", "singlevaluelist", "multivaluelist"}
UNIT_KINDS = {
    "fire_truck", "water_tender", "ambulance", "rescue_boat", "police_patrol", "satpolpp_team",
    "trc_team", "pln_crew", "pdam_crew", "road_crew",
}  # fmt: skip
SENSITIVE = {"kriminalitas", "darurat_medis"}
# The values of kotapintar.cases.lifecycle.Priority and kotapintar.core.access.roles.Role, spelled out so that
# these data checks run even where the package itself is not importable.
PRIORITIES = {"P1", "P2", "P3", "P4"}
ROLES = {"admin", "operator", "supervisor", "agency_officer", "liaison", "agency_head"}
HEADS = {"bpbd", "damkar", "pupr", "dlh", "dishub", "psc119"}
AREA_TOLERANCE = 1e-6  # square degrees (about 0.012 km²): what rounding to 4 decimals may leave


@cache
def _yaml(path: Path) -> Any:
    """A parsed YAML file, read once per test session."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def services() -> list[dict[str, Any]]:
    """The services of the shipped catalogue."""
    return list(_yaml(CATALOGUE)["services"])


def agencies() -> dict[str, dict[str, Any]]:
    """The demo agencies by code."""
    return {a["code"]: a for a in _yaml(DEMO / "agencies.yaml")["agencies"]}


def units() -> list[dict[str, Any]]:
    """The demo units."""
    return list(_yaml(DEMO / "units.yaml")["units"])


def users() -> list[dict[str, Any]]:
    """The demo users."""
    return list(_yaml(DEMO / "users.yaml")["users"])


def kecamatan() -> list[dict[str, Any]]:
    """The kecamatan of kecamatan.yaml with their representative points."""
    return list(_yaml(DEMO / "kecamatan.yaml")["kecamatan"])


@cache
def regions() -> dict[str, tuple[dict[str, Any], BaseGeometry]]:
    """The shipped regions.geojson as kode -> (properties, geometry)."""
    doc = json.loads((DEMO / "regions.geojson").read_text(encoding="utf-8"))
    out: dict[str, tuple[dict[str, Any], BaseGeometry]] = {}
    for feature in doc["features"]:
        props = feature["properties"]
        assert props["kode"] not in out, f"region {props['kode']} twice in regions.geojson"
        out[props["kode"]] = (props, shape(feature["geometry"]))
    return out


def kabupaten_area() -> BaseGeometry:
    """The kabupaten polygon of the demo city."""
    return regions()["62.03"][1]


def kecamatan_areas() -> dict[str, BaseGeometry]:
    """The kecamatan polygons by code."""
    return {code: geom for code, (props, geom) in regions().items() if props["level"] == "kecamatan"}


# ---------------------------------------------------------------------------------------- catalogue


def test_every_contract_service_is_present_exactly_once() -> None:
    codes = [s["code"] for s in services()]
    assert sorted(codes) == sorted(SERVICE_CONTRACT), "service codes differ from the contract"
    assert len(codes) == len(set(codes)) == 22


@pytest.mark.parametrize("code", sorted(SERVICE_CONTRACT))
def test_service_is_routed_as_the_contract_says(code: str) -> None:
    service = next(s for s in services() if s["code"] == code)
    agency, informed, priority = SERVICE_CONTRACT[code]
    assert service["agency"] == agency
    assert set(service["informed"]) == informed
    assert len(service["informed"]) == len(informed), "an informed agency is listed twice"
    assert service["priority"] in PRIORITIES and service["priority"] == priority


@pytest.mark.parametrize("code", sorted(SERVICE_CONTRACT))
def test_service_entry_is_complete_and_well_formed(code: str) -> None:
    s = next(s for s in services() if s["code"] == code)
    for key in ("name", "name_en", "description", "description_en"):
        assert isinstance(s[key], str) and s[key].strip(), f"{code}: {key} is empty"
    assert s["description"].endswith("."), f"{code}: the description should be one full sentence"
    assert s["group"] in GROUPS
    assert isinstance(s["emergency"], bool) and isinstance(s["sensitive"], bool)
    assert s["sensitive"] is (code in SENSITIVE), f"{code}: sensitive must be true only for {SENSITIVE}"
    if s["priority"] == "P1":
        assert s["emergency"], f"{code}: a P1 service must run on the emergency clock"
    keywords = s["keywords"]
    assert 8 <= len(keywords) <= 20, f"{code}: {len(keywords)} keywords"
    assert len(set(keywords)) == len(keywords), f"{code}: duplicate keywords"
    assert all(isinstance(k, str) and k == k.strip().lower() and k for k in keywords)
    dedupe = s["dedupe"]
    assert set(dedupe) == {"radius_m", "window_hours"}
    assert 0 < dedupe["radius_m"] <= 5000 and 0 < dedupe["window_hours"] <= 24 * 60


@pytest.mark.parametrize("code", sorted(SERVICE_CONTRACT))
def test_service_attributes_are_valid_open311(code: str) -> None:
    attrs = next(s for s in services() if s["code"] == code)["attributes"]
    assert 1 <= len(attrs) <= 3, f"{code}: give 1-3 attributes"
    assert len({a["code"] for a in attrs}) == len(attrs), f"{code}: attribute codes repeat"
    assert sorted(a["order"] for a in attrs) == list(range(1, len(attrs) + 1))
    for a in attrs:
        assert a["datatype"] in DATATYPES, f"{code}.{a['code']}: datatype {a['datatype']}"
        assert isinstance(a["required"], bool) and isinstance(a["variable"], bool)
        assert a["description"].strip() and a["description_en"].strip()
        if a["datatype"].endswith("valuelist"):
            keys = [v["key"] for v in a["values"]]
            assert len(keys) >= 2 and len(set(keys)) == len(keys), f"{code}.{a['code']}: list values"
            assert all(isinstance(v["name"], str) and v["name"].strip() for v in a["values"])
        else:
            assert not a.get("values"), f"{code}.{a['code']}: values only belong to list attributes"


def test_distinctive_keywords_point_to_their_service() -> None:
    """A word listed by one service only is what triage relies on; make sure the obvious ones are there."""
    by_word: dict[str, set[str]] = {}
    for s in services():
        for word in s["keywords"]:
            by_word.setdefault(word, set()).add(s["code"])
    expected = {
        "gambut": "karhutla", "ambulans": "darurat_medis", "tenggelam": "pencarian_pertolongan",
        "begal": "kriminalitas", "tumbang": "pohon_tumbang", "berlubang": "jalan_rusak",
        "titian": "jembatan_rusak", "pju": "lampu_jalan", "got": "drainase", "tps": "sampah",
        "pdam": "air_bersih", "pln": "listrik_padam", "ktp": "adminduk", "pkh": "bansos",
        "sekolah": "pendidikan", "dbd": "kesehatan_lingkungan", "macet": "lalu_lintas",
    }  # fmt: skip
    for word, code in expected.items():
        assert code in by_word.get(word, set()), f"keyword {word!r} missing from {code}"


def test_groups_are_the_kominfo_six() -> None:
    groups = _yaml(CATALOGUE)["groups"]
    assert [g["code"] for g in groups] == [
        "governance",
        "branding",
        "economy",
        "living",
        "society",
        "environment",
    ]
    assert all(g["name"] and g["name_id"] for g in groups)


# ---------------------------------------------------------------------------------------- agencies


def test_agencies_are_the_contract_codes() -> None:
    codes = [a["code"] for a in _yaml(DEMO / "agencies.yaml")["agencies"]]
    assert len(codes) == len(set(codes)), "an agency code is listed twice"
    assert set(codes) == INTERNAL_AGENCIES | EXTERNAL_AGENCIES
    for code, a in agencies().items():
        assert a["kind"] == ("internal" if code in INTERNAL_AGENCIES else "external"), code
        assert a["name"].strip() and a["short"].strip() and a["phone"].strip()
        if a["kind"] == "internal":
            assert a["email"].endswith("@kapuaskab.go.id"), code
        assert "@" in a["email"]


def test_exactly_one_command_center_and_it_is_diskominfo() -> None:
    centres = [code for code, a in agencies().items() if a["command_center"] is True]
    assert centres == ["diskominfo"]
    assert all(isinstance(a["command_center"], bool) for a in agencies().values())


def test_agency_parents_and_jurisdictions_exist() -> None:
    assert agencies()["psc119"]["parent"] == "dinkes"
    for code, a in agencies().items():
        assert a["parent"] is None or a["parent"] in agencies(), f"{code}: unknown parent"
        assert a["parent"] != code
        assert a["jurisdiction"], f"{code}: empty jurisdiction"
        for region in a["jurisdiction"]:
            assert region in regions(), f"{code}: jurisdiction {region} is no shipped region"


def test_every_referenced_agency_exists() -> None:
    known = set(agencies())
    for s in services():
        assert s["agency"] in known, f"service {s['code']}: agency {s['agency']}"
        assert set(s["informed"]) <= known, f"service {s['code']}: informed {s['informed']}"
        assert s["agency"] not in s["informed"], f"service {s['code']} informs its own agency"
    for u in units():
        assert u["agency"] in known, f"unit {u['code']}: agency {u['agency']}"
    for user in users():
        assert user["agency"] in known, f"user {user['username']}: agency {user['agency']}"


# ---------------------------------------------------------------------------------------- units


def test_units_are_well_formed() -> None:
    codes = [u["code"] for u in units()]
    assert len(codes) == len(set(codes)), "a unit code is listed twice"
    assert 25 <= len(codes) <= 35
    for u in units():
        assert u["kind"] in UNIT_KINDS, f"{u['code']}: kind {u['kind']}"
        assert isinstance(u["crew"], int) and u["crew"] > 0
        assert u["name"].strip() and u["base"]["name"].strip()
        assert u["capabilities"] and len(set(u["capabilities"])) == len(u["capabilities"])


def test_emergency_services_have_units_to_dispatch() -> None:
    kinds_of = {code: {u["kind"] for u in units() if u["agency"] == code} for code in agencies()}
    assert "fire_truck" in kinds_of["damkar"]
    assert "ambulance" in kinds_of["psc119"]
    assert "police_patrol" in kinds_of["polres"]
    assert "rescue_boat" in kinds_of["basarnas"]
    assert "trc_team" in kinds_of["bpbd"]


@pytest.mark.parametrize("code", [u["code"] for u in units()])
def test_unit_base_lies_inside_the_kabupaten_and_a_kecamatan(code: str) -> None:
    unit = next(u for u in units() if u["code"] == code)
    base = Point(unit["base"]["lon"], unit["base"]["lat"])
    assert kabupaten_area().contains(base), f"{code}: base outside Kabupaten Kapuas"
    inside = [k for k, g in kecamatan_areas().items() if g.covers(base)]
    assert len(inside) >= 1, f"{code}: base in no kecamatan"


def test_upriver_kecamatan_have_units() -> None:
    """The north is far from Kuala Kapuas by river: it needs its own posts."""
    areas = kecamatan_areas()
    served = {
        k for u in units() for k, g in areas.items() if g.covers(Point(u["base"]["lon"], u["base"]["lat"]))
    }
    assert {"62.03.09", "62.03.10", "62.03.11"} <= served  # Mantangai, Timpah, Kapuas Tengah
    assert "62.03.01" in served  # Selat (Kuala Kapuas)


# ---------------------------------------------------------------------------------------- users


def test_users_are_unique_with_valid_roles() -> None:
    names = [u["username"] for u in users()]
    assert len(names) == len(set(names)), "a username is listed twice"
    for u in users():
        assert u["roles"], f"{u['username']}: no role"
        assert set(u["roles"]) <= ROLES, f"{u['username']}: unknown role in {u['roles']}"
        assert u["full_name"].strip()


def test_the_demo_users_promised_exist() -> None:
    by_name = {u["username"]: u for u in users()}
    expected: dict[str, tuple[str, str, str | None]] = {
        "admin": ("diskominfo", "admin", None),
        "operator": ("diskominfo", "operator", None),
        "operator2": ("diskominfo", "operator", None),
        "supervisor": ("diskominfo", "supervisor", None),
        "sekda": ("setda", "supervisor", "kepala"),
    }
    expected |= {f"{a}.petugas": (a, "agency_officer", None) for a in INTERNAL_AGENCIES}
    expected |= {f"{a}.kepala": (a, "agency_head", "kepala") for a in HEADS}  # own agency only (issue 16)
    expected |= {f"{a}.liaison": (a, "liaison", None) for a in EXTERNAL_AGENCIES}
    for name, (agency, role, position) in expected.items():
        assert name in by_name, f"demo user {name} missing"
        user = by_name[name]
        assert user["agency"] == agency and role in user["roles"], name
        if position is not None:
            assert user["position"] == position, name


def test_liaisons_belong_to_external_bodies_only() -> None:
    for u in users():
        if "liaison" in u["roles"]:
            assert agencies()[u["agency"]]["kind"] == "external", u["username"]


# ---------------------------------------------------------------------------------------- regions


def test_kecamatan_list_is_complete() -> None:
    doc = _yaml(DEMO / "kecamatan.yaml")
    assert doc["kabupaten"]["code"] == "62.03" and doc["kabupaten"]["timezone"] == "Asia/Jakarta"
    assert doc["kabupaten"]["province"] == {"code": "62", "name": "Kalimantan Tengah"}
    codes = [k["code"] for k in kecamatan()]
    assert codes == [f"62.03.{i:02d}" for i in range(1, 18)]
    assert len({k["name"] for k in kecamatan()}) == 17
    for k in kecamatan():
        assert round(k["lon"], 3) == k["lon"] and round(k["lat"], 3) == k["lat"], k["code"]
        assert 113.5 < k["lon"] < 115.0 and -3.5 < k["lat"] < -0.3, k["code"]


def test_regions_have_the_promised_features_and_properties() -> None:
    regs = regions()
    assert set(regs) == {"62.03"} | {k["code"] for k in kecamatan()}
    names = {k["code"]: k["name"] for k in kecamatan()}
    for code, (props, geom) in regs.items():
        assert props["level"] == ("kabupaten" if code == "62.03" else "kecamatan")
        assert props["approximate"] is True
        assert props["source"].startswith("kotapintar demo:")
        assert geom.geom_type in {"Polygon", "MultiPolygon"} and geom.is_valid and not geom.is_empty
        if code != "62.03":
            assert props["nama"] == names[code]
    assert (DEMO / "regions.geojson").stat().st_size < 100_000
    for _props, geom in regs.values():
        coords = shapely.get_coordinates(geom)
        assert (abs(coords * 10_000 - (coords * 10_000).round()) < 1e-6).all(), "more than 4 decimals"


def test_kecamatan_tile_the_kabupaten() -> None:
    kab = kabupaten_area()
    cells = kecamatan_areas()
    for (a, ga), (b, gb) in combinations(cells.items(), 2):
        assert ga.intersection(gb).area < AREA_TOLERANCE, f"{a} and {b} overlap"
    union = shapely.union_all(list(cells.values()))
    assert abs(union.area - kab.area) < AREA_TOLERANCE * len(cells)
    assert union.symmetric_difference(kab).area < AREA_TOLERANCE * len(cells)


def test_each_point_lies_in_its_own_cell() -> None:
    cells = kecamatan_areas()
    for k in kecamatan():
        point = Point(k["lon"], k["lat"])
        assert cells[k["code"]].contains(point), f"{k['code']} {k['name']}: point outside its own cell"
        others = [c for c, g in cells.items() if c != k["code"] and g.contains(point)]
        assert not others, f"{k['code']}: point also inside {others}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(lon=st.floats(113.5, 115.0), lat=st.floats(-3.6, -0.2))
def test_any_point_of_the_kabupaten_routes_to_one_kecamatan(lon: float, lat: float) -> None:
    """Geo-routing: a report anywhere inside the kabupaten finds a kecamatan, and only one."""
    point = Point(lon, lat)
    inside_kab = kabupaten_area().contains(point)
    holders = [c for c, g in kecamatan_areas().items() if g.contains(point)]
    if inside_kab:
        on_edge = any(g.boundary.distance(point) < 1e-4 for g in kecamatan_areas().values())
        assert len(holders) == 1 or on_edge, f"({lon}, {lat}) in {holders}"
    else:
        assert not holders, f"({lon}, {lat}) outside the kabupaten but in {holders}"


def _load_script() -> ModuleType:
    """scripts/build_demo_city.py imported as a module (scripts/ is no package)."""
    spec = importlib.util.spec_from_file_location("build_demo_city", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_build_is_deterministic() -> None:
    script = _load_script()
    first = script.dump(script.build(DEMO / "kecamatan.yaml"))
    second = script.dump(script.build(DEMO / "kecamatan.yaml"))
    assert first == second


def test_shipped_regions_are_what_the_script_produces(tmp_path: Path) -> None:
    """regions.geojson must be regenerated whenever kecamatan.yaml or the script changes."""
    out = tmp_path / "regions.geojson"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--kecamatan", str(DEMO / "kecamatan.yaml"), "--out", str(out)],
        check=True,
        capture_output=True,
    )
    hint = "regions.geojson is stale: run `.venv/bin/python scripts/build_demo_city.py`"
    shipped = json.loads((DEMO / "regions.geojson").read_text(encoding="utf-8"))["features"]
    rebuilt = json.loads(out.read_text(encoding="utf-8"))["features"]
    assert [f["properties"] for f in rebuilt] == [f["properties"] for f in shipped], hint
    if rebuilt == shipped:
        return
    # Another GEOS version may place a vertex differently: accept only differences below rounding.
    for new, old in zip(rebuilt, shipped, strict=True):
        diff = shape(new["geometry"]).symmetric_difference(shape(old["geometry"])).area
        assert diff < AREA_TOLERANCE, f"{new['properties']['kode']}: {hint}"


# ---------------------------------------------------------------------------------------- real data


@cache
def _real_kecamatan() -> dict[str, tuple[str, BaseGeometry]]:
    """The real kecamatan polygons of Kabupaten Kapuas from ../shared/data (never shipped)."""
    if not REAL_KECAMATAN.exists():
        pytest.skip(f"../shared/data absent: {REAL_KECAMATAN} is needed to check against real boundaries")
    doc = json.loads(REAL_KECAMATAN.read_text(encoding="utf-8"))
    return {
        f["properties"]["kode"]: (f["properties"]["nama"], shape(f["geometry"]))
        for f in doc["features"]
        if f["properties"]["kode"].startswith("62.03.")
    }


def test_kecamatan_codes_and_names_match_the_real_data() -> None:
    real = _real_kecamatan()
    assert set(real) == {k["code"] for k in kecamatan()}
    for k in kecamatan():
        assert k["name"].casefold() == real[k["code"]][0].casefold(), k["code"]


def test_representative_points_lie_in_the_real_kecamatan() -> None:
    real = _real_kecamatan()
    for k in kecamatan():
        assert real[k["code"]][1].contains(Point(k["lon"], k["lat"])), f"{k['code']} {k['name']}"


def test_contract_codes_match_the_shipped_catalogue() -> None:
    """The code lists pure modules check against are exactly the shipped services and agencies."""
    from kotapintar.catalog.codes import AGENCY_CODES, SERVICE_CODES

    services = yaml.safe_load((CATALOGUE).read_text(encoding="utf-8"))["services"]
    agencies = yaml.safe_load((DEMO / "agencies.yaml").read_text(encoding="utf-8"))["agencies"]
    assert sorted(SERVICE_CODES) == sorted(s["code"] for s in services)
    assert sorted(AGENCY_CODES) == sorted(a["code"] for a in agencies)
