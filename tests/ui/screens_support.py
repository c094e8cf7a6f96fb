"""The pages every reader can open, a small city to show on them, and what a person must never read there.

Shared by the language test (every page rendered over HTTP in Indonesian) and the screens test (every page
in a real browser at phone and desktop size, checked by axe-core): both walk `PAGES`, so a page added here
is checked by both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from lxml import html as lxml_html

from kotapintar.cases import service as case_service
from kotapintar.core.access.actors import channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.i18n import available_keys
from kotapintar.core.settings import Settings
from kotapintar.dispatch import units as unit_service
from kotapintar.intake.submit import submit_report
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors.engine.payloads import Reading
from tests.helpers import DEMO_PASSWORD, actor, report

CRASH_AT = (114.372, -3.004)  # Kuala Kapuas, away from the citizen's road report


@dataclass(frozen=True)
class City:
    """What the seeded city holds, for the pages' paths."""

    case_id: int  # a citizen's road report, disposed to PUPR
    ticket: str
    crash_case_id: int  # a 112 call: a traffic accident, units dispatched, on scene and cleared
    unit: str
    unit_token: str


def _seed_sensors(db: Database, settings: Settings) -> None:
    """The river at Kuala Kapuas reaches siaga: an alarm, a case and a public early warning."""
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    now = datetime.now(UTC).replace(microsecond=0)
    first = now - timedelta(minutes=121)
    levels = [2.50] * 11 + [2.60, 2.74]
    readings = [
        Reading(first + timedelta(minutes=10 * i), "KPS-AWLR-01", "waterLevel", value, "m")
        for i, value in enumerate(levels)
    ]
    sensor_ingest.ingest_readings(db, readings, received_at=now, settings=settings)


def _login_api(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/session", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 204, r.text
    token = re.search(r'data-csrf="([^"]+)"', client.get("/112").text)
    assert token, "the 112 console carries its CSRF token"
    return {"X-CSRF-Token": token.group(1)}


def seed_city(db: Database, settings: Settings, app: Any) -> City:
    """A citizen's report disposed to PUPR, a 112 accident with a unit through its whole timeline, a
    river warning; all through the real services and API."""
    unit_service.reset_units(db, system_actor("tests"))
    road = submit_report(db, channel_actor("web"), report())
    operator = actor(db, "operator")
    case_service.verify_case(db, operator, road.case_id)
    case_service.assign_case(db, operator, road.case_id, "pupr", due_hours=48)
    other = submit_report(
        db, channel_actor("web"), report(service_code="sampah", description="Sampah menumpuk di pasar.")
    )
    case_service.assign_case(db, operator, other.case_id, "dlh", due_hours=0.0001)  # late at once
    _seed_sensors(db, settings)

    client = TestClient(app)
    h = _login_api(client, "operator")
    call = client.post("/api/v1/dispatch/calls", json={"caller_number": "+62811111111"}, headers=h)
    assert call.status_code == 201, call.text
    call_id = call.json()["id"]
    client.post(f"/api/v1/dispatch/calls/{call_id}/answer", headers=h)
    body = {
        "classification": "genuine",
        "service_code": "kecelakaan",
        "lon": CRASH_AT[0],
        "lat": CRASH_AT[1],
        "answers": {"ada_korban": True},
    }
    done = client.post(f"/api/v1/dispatch/calls/{call_id}/classify", json=body, headers=h)
    assert done.status_code == 200, done.text
    crash = done.json()["case_id"]
    sent = client.post(f"/api/v1/dispatch/cases/{crash}/dispatch", json={}, headers=h)
    assert sent.status_code == 200, sent.text
    units = sent.json()["units"]
    for unit in units[1:]:
        for status in ("en_route", "on_scene", "returning", "available"):
            r = client.post(f"/api/v1/dispatch/units/{unit}/status", json={"status": status}, headers=h)
            assert r.status_code == 200, r.text
    first = units[0]
    r = client.post(f"/api/v1/dispatch/units/{first}/status", json={"status": "en_route"}, headers=h)
    assert r.status_code == 200, r.text
    return City(
        case_id=road.case_id,
        ticket=road.ticket,
        crash_case_id=crash,
        unit=first,
        unit_token=unit_service.unit_token(settings, first),
    )


@dataclass(frozen=True)
class Page:
    """One page as one reader opens it: `name` names its screenshots."""

    name: str
    path: str
    user: str | None = None  # a demo username; None: the public; "crew": the unit's crew token
    status: int = 200


def pages(city: City) -> list[Page]:
    """Every page of the application, each as the reader it is for."""
    return [
        Page("live", "/"),
        Page("portal", "/beranda"),
        Page("track", "/lacak"),
        Page("track-ticket", f"/lacak/{city.ticket}"),
        Page("report-services", "/lapor"),
        Page("report-form", "/lapor?layanan=jalan_rusak"),
        Page("login", "/masuk"),
        Page("sop-index", "/sop"),
        Page("sop", "/sop/jalan_rusak"),
        Page("sop-case", f"/sop/case/{city.case_id}"),
        Page("opendata", "/data"),
        Page("audit", "/audit"),
        Page("not-found", "/tidak-ada", status=404),
        Page("calltaker-login", "/112", status=401),
        Page("operator", "/operator", "operator"),
        Page("operator-case", f"/operator/kasus/{city.case_id}", "operator"),
        Page("operator-crash", f"/operator/kasus/{city.crash_case_id}", "operator"),
        Page("operator-sensors", "/operator/sensor", "operator"),
        Page("calltaker", "/112", "operator"),
        Page("calltaker-case", f"/112/kasus/{city.crash_case_id}", "operator"),
        Page("supervisor", "/supervisor", "supervisor"),
        Page("supervisor-late", "/supervisor/terlambat", "supervisor"),
        Page("agency-inbox", "/instansi", "pupr.petugas"),
        Page("agency-case", f"/instansi/kasus/{city.case_id}", "pupr.petugas"),
        Page("agency-head", "/instansi", "pupr.kepala"),
        Page("liaison-inbox", "/instansi", "polres.liaison"),
        Page("forbidden", "/supervisor", "pupr.petugas", status=403),
        Page("crew", f"/unit/{city.unit}", "crew"),
        # this round's pages (issues 15, 20, 21): the public case list and case page, analytics, indicators,
        # the admin area
        Page("cases", "/kasus"),
        Page("case-public", f"/kasus/{city.ticket}"),
        Page("analytics", "/analitik", "supervisor"),
        Page("accuracy", "/analitik/akurasi", "supervisor"),
        Page("indicators", "/indikator", "supervisor"),
        Page("admin", "/admin", "admin"),
        Page("admin-users", "/admin/pengguna", "admin"),
        Page("admin-agencies", "/admin/instansi", "admin"),
        Page("admin-units", "/admin/unit", "admin"),
        Page("admin-services", "/admin/layanan", "admin"),
        Page("admin-keys", "/admin/kunci-api", "admin"),
        Page("admin-sop", "/admin/sop", "admin"),
        Page("admin-setup", "/admin/siapkan", "admin"),
        Page("admin-sensors", "/admin/sensor", "admin"),
    ]


# ---------------------------------------------------------------- what a person must never read

# English words that have no place on an Indonesian page (whole words, case-sensitive where it matters).
ENGLISH = re.compile(
    r"\b\d+(?:d|h|m|s)\b|"
    r"\b(the|and|of|should|Field required|Not Found|Method Not Allowed|Internal Server Error|invalid|"
    r"String|Input|metric|answered|en route|cleared|notified|changed|rerouted|straight-line|estimate|"
    r"Loading|Submit|Cancel|Save|Search|Error|error|min|hours?|days?|Value error|required|unknown|None|null|"
    r"True|False|undefined|NaN)\b"
)
SNAKE_CASE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
ISO_TIME = re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2})?")
# A decimal point in a measure ("1.5 min", "613.1 km"); times (02.50 WIB), codes and versions are allowed.
DECIMAL_POINT = re.compile(r"\b\d+\.\d+ ?(?:min|menit|km|m|jam|hari|detik|dtk|mnt|h|d|s|%|µg/m³|mm)(?!\w)")
_PREFIXES = "|".join(sorted({key.split(".")[0] for key in available_keys("id")}))
CATALOGUE_KEY = re.compile(rf"\b(?:{_PREFIXES})\.[a-z0-9_]+(?:\.[a-zA-Z0-9_]+)*\b")

# Text a person reads as code on purpose: <code>, <kbd>, <samp>, <pre> (data dictionaries, commands, keys).
_CODE_TAGS = {"code", "kbd", "samp", "pre", "script", "style", "template", "noscript"}
_READ_ATTRIBUTES = ("title", "aria-label", "placeholder", "alt")


def visible_texts(page_html: str) -> list[str]:
    """The texts of a page a person reads: element text and the labels in title/aria-label/placeholder/alt,
    without scripts and without what is marked up as code."""
    root = lxml_html.fromstring(page_html)
    found: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        inside_code = any(a.tag in _CODE_TAGS for a in element.iterancestors()) or element.tag in _CODE_TAGS
        if not inside_code:
            if element.text and element.text.strip():
                found.append(element.text.strip())
            for name in _READ_ATTRIBUTES:
                value = element.get(name)
                if value and value.strip():
                    found.append(value.strip())
            if (
                element.tag == "input"
                and element.get("type") in ("submit", "button")
                and element.get("value")
            ):
                found.append(element.get("value", ""))
        parent_code = any(a.tag in _CODE_TAGS for a in element.iterancestors())
        if element.tail and element.tail.strip() and not parent_code:
            found.append(element.tail.strip())
    return found


def problems_in(text: str) -> list[str]:
    """What a person should not read in one text: catalogue keys, English, codes, ISO times, decimal points."""
    found = []
    for name, pattern in (
        ("catalogue key", CATALOGUE_KEY),
        ("English", ENGLISH),
        ("snake_case code", SNAKE_CASE),
        ("ISO time", ISO_TIME),
        ("decimal point", DECIMAL_POINT),
    ):
        for match in pattern.finditer(text):
            found.append(f"{name} {match.group(0)!r} in {text[:120]!r}")
    return found


def page_problems(page_html: str) -> list[str]:
    """Every problem of every visible text of a page."""
    return [p for text in visible_texts(page_html) for p in problems_in(text)]
