"""The role × route matrix (issue 16, item 7), generated from the route table.

Every route must declare its access policy in `kotapintar/app/access_policy.py`. Then every GET route is
called as every role (public, client key, crew, admin, operator, supervisor, agency head, officer, liaison)
with planted secrets — a *rahasia* case with a witness's NIK and phone, an anonymous report's exact place,
an internal note, a sensitive service's description, a police unit's live position — and each answer must
be no server error, must refuse the roles its policy excludes, and must not carry a secret to a role that
may not read it. Unsafe routes are called as the public and a client key, which must be refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.access_policy import ROUTE_ACCESS, Access
from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.dispatch.units import unit_token
from tests.security.routes import iter_routes

ROLES = ("public", "client", "crew", "admin", "operator", "supervisor", "head", "officer", "liaison")
USERS = {
    "admin": "admin",
    "operator": "operator",
    "supervisor": "supervisor",
    "head": "pupr.kepala",
    "officer": "pupr.petugas",
    "liaison": "pln.liaison",
}
CITY_WIDE = {"admin", "operator", "supervisor"}
PUPR = CITY_WIDE | {"head", "officer"}
# Roles each policy admits (others must be refused: 401/403/404, or a redirect to the login page).
ADMITS: dict[Access, set[str] | None] = {
    Access.PUBLIC: None,
    Access.LOGIN: None,
    Access.WEBHOOK: None,
    Access.DEVICE_KEY: None,
    Access.CLIENT_KEY: {"client"},
    Access.CREW: {"crew", *USERS},
    Access.STAFF: set(USERS),
    Access.COMMAND: CITY_WIDE,
    Access.SUPERVISOR: {"admin", "supervisor"},
    Access.AGENCY: {"head", "officer", "liaison"},
    Access.ADMIN: {"admin"},
}
REFUSED = {401, 403, 404, 303, 307}
SKIP_GET = {"/api/v1/stream"}  # an endless SSE answer: covered by test_security_public_boundary


@dataclass
class Planted:
    """The planted data: ids to fill paths with and the secrets with who may read each."""

    cases: dict[str, int] = field(default_factory=dict)
    tickets: dict[str, str] = field(default_factory=dict)
    task_id: int = 0
    secrets: dict[str, set[str]] = field(default_factory=dict)  # text -> roles allowed to read it


@pytest.fixture
def world(
    db: Database, settings: Settings, backend: str
) -> Iterator[tuple[TestClient, Planted, dict[str, Any]]]:
    if backend != "sqlite":
        pytest.skip("the matrix runs once (SQLite); PostgreSQL is covered by the other security tests")
    settings.rate_limit_per_ip = "100000/minute"
    with TestClient(create_app(settings, db=db)) as client:
        planted = Planted()
        op = _bearer(client, "operator")

        def report(name: str, **body: Any) -> None:
            r = client.post("/api/v1/reports", json=body)
            assert r.status_code == 201, r.text
            planted.cases[name], planted.tickets[name] = r.json()["case_id"], r.json()["ticket"]

        report(
            "rahasia",
            service_code="kriminalitas",
            description="RHSDESC penganiayaan di gudang belakang pasar",
            lon=114.40,
            lat=-3.00,
            confidential=True,
            reporter={"name": "Saksi Tersembunyi", "phone": "+6281377770001", "nik": "6203019999990001"},
        )
        report(
            "anonim",
            service_code="jalan_rusak",
            description="Jalan berlubang besar dekat jembatan",
            lon=114.3912345,
            lat=-3.0123456,
            anonymous=True,
        )
        report(
            "catatan",
            service_code="jalan_rusak",
            description="Aspal mengelupas di depan SD",
            lon=114.42,
            lat=-2.99,
        )
        report(
            "sensitif",
            service_code="kriminalitas",
            description="RHSSENS pencurian di rumah Pak Darto nomor 7",
            lon=114.43,
            lat=-3.02,
        )
        r = client.post(
            f"/api/v1/cases/{planted.cases['catatan']}/notes",
            headers=op,
            json={"text": "RHSNOTE pelapor kerabat"},
        )
        assert r.status_code == 201, r.text
        r = client.post(
            f"/api/v1/cases/{planted.cases['catatan']}/assign", headers=op, json={"agency_code": "pupr"}
        )
        assert r.status_code == 200, r.text
        planted.task_id = int(r.json()["id"])
        r = client.post(
            "/api/v1/dispatch/units/POL-01/position", headers=op, json={"lon": 114.3555555, "lat": -3.0444444}
        )
        assert r.status_code == 202, r.text
        planted.secrets = {
            "Saksi Tersembunyi": CITY_WIDE,
            "6281377770001": CITY_WIDE,
            "6203019999990001": CITY_WIDE,
            "RHSDESC": CITY_WIDE,
            "RHSSENS": CITY_WIDE,
            "RHSNOTE": PUPR,
            "114.35555": CITY_WIDE,
            "114.39123": PUPR,
        }
        headers: dict[str, Any] = {"public": {}}
        headers["client"] = {"X-API-Key": create_api_key(db, "matrix-client")}
        headers["crew"] = {"x-unit-token": unit_token(settings, "DMK-01")}
        for role, username in USERS.items():
            headers[role] = _bearer(client, username)
        yield client, planted, headers


def _bearer(client: TestClient, username: str) -> dict[str, str]:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def _fill(path: str, planted: Planted, case: str) -> str:
    values = {
        "case_id": str(planted.cases[case]),
        "ticket": planted.tickets[case],
        "service_request_id": planted.tickets[case],
        "task_id": str(planted.task_id),
        "fmt": "json",
        "service_code": "kriminalitas",
        "device_id": "kps-awlr-01",
        "call_id": "1",
        "page": "1",
        "token": "tidakada",
        "rest": "x",
        "action": "verifikasi",
        "identifier": "kotapintar.tidakada",
        "entity_id": "urn:ngsi-ld:WaterObserved:kps-awlr-01",
        "username": "tidakada",  # admin pages (issue 21)
        "report_id": "999999",  # kept monthly reports (issue 15): a missing one answers 404 past the role check
        "name": "tidakada",
    }
    code = "POL-01" if path.startswith(("/api/v1/dispatch/units/", "/unit/")) else "lapor_umum"
    values["code"] = code
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], path)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    return sorted({(m, r.path) for r in iter_routes(client.app) for m in r.methods if m != "HEAD"})


def test_every_route_declares_its_access_policy(db: Database, settings: Settings) -> None:
    with TestClient(create_app(settings, db=db)) as client:
        missing = [f"{m} {p}" for m, p in _routes(client) if f"{m} {p}" not in ROUTE_ACCESS]
        stale = sorted(set(ROUTE_ACCESS) - {f"{m} {p}" for m, p in _routes(client)})
    assert not missing, f"routes without a declared policy (add them to app/access_policy.py): {missing}"
    assert not stale, f"policies of routes that no longer exist: {stale}"


def _refused(status: int) -> bool:
    return status in REFUSED or 400 <= status < 500


def _check_write(client: TestClient, role: str, method: str, url: str, headers: dict[str, str]) -> str | None:
    r = client.request(method, url, headers=headers, follow_redirects=False)
    if not _refused(r.status_code):
        return f"{role} {method} {url}: {r.status_code} (a write must be refused)"
    return None


def _check_read(
    client: TestClient, role: str, url: str, headers: dict[str, str], policy: Access, planted: Planted
) -> list[str]:
    r = client.get(url, headers=headers, follow_redirects=False)
    if r.status_code >= 500:
        return [f"{role} GET {url}: {r.status_code}"]
    out = []
    admits = ADMITS[policy]
    login_page = r.status_code == 200 and "/masuk" in r.text[:3000] and role in ("public", "client")
    if admits is not None and role not in admits and r.status_code not in REFUSED and not login_page:
        out.append(f"{role} GET {url}: {r.status_code} but the policy is {policy.value}")
    for secret, allowed in planted.secrets.items():
        if role not in allowed and secret in r.text:
            out.append(f"{role} GET {url}: leaks {secret!r}")
    return out


def _cases_for(path: str, planted: Planted) -> list[str]:
    per_case = ("{case_id}", "{ticket}", "{service_request_id}")
    return list(planted.cases) if any(p in path for p in per_case) else ["rahasia"]


def test_role_route_matrix_with_planted_secrets(world: tuple[TestClient, Planted, dict[str, Any]]) -> None:
    client, planted, headers = world
    checked, failures = 0, []
    for method, path in _routes(client):
        policy = ROUTE_ACCESS[f"{method} {path}"]
        admits = ADMITS[policy]
        open_to_all = policy in (Access.PUBLIC, Access.LOGIN, Access.WEBHOOK)
        for case in _cases_for(path, planted):
            url = _fill(path, planted, case)
            for role in ROLES:
                if method == "GET" and path not in SKIP_GET:
                    checked += 1
                    failures += _check_read(client, role, url, headers[role], policy, planted)
                elif method != "GET" and role in ("public", "client") and not open_to_all:
                    if admits is not None and role in admits:
                        continue
                    checked += 1
                    problem = _check_write(client, role, method, url, headers[role])
                    failures += [problem] if problem else []
    print(f"role × route matrix: {checked} calls, {len(failures)} failures")
    assert not failures, "\n".join(failures[:60])


WRITES: list[tuple[str, dict[str, Any] | None]] = [
    ("verify", None),
    ("reject", {"reason": "laporan palsu sekali"}),
    ("merge", {"into_case_id": 1}),
    ("assign", {"agency_code": "pupr"}),
    ("resolve", {"resolution": "sudah selesai"}),
    ("close", None),
    ("reopen", {"reason": "belum beres juga"}),
    ("notes", {"text": "catatan dari luar"}),
    ("triage", {"service": "jalan_rusak"}),
    ("reroute", {"agency_code": "pupr", "reason": "bukan wewenang kami"}),
]


def test_wrong_role_writes_are_refused(world: tuple[TestClient, Planted, dict[str, Any]]) -> None:
    """Roles outside a case's reach cannot change it: the rahasia Polres case as crew, the PUPR head and
    officer, the PLN liaison, a client key and the public."""
    client, planted, headers = world
    case_id = planted.cases["rahasia"]
    before = client.get(f"/api/v1/cases/{case_id}", headers=headers["admin"]).json()
    failures, calls = [], 0
    for role in ("public", "client", "crew", "head", "officer", "liaison"):
        for action, body in WRITES:
            r = client.post(f"/api/v1/cases/{case_id}/{action}", headers=headers[role], json=body)
            calls += 1
            if not 400 <= r.status_code < 500:
                failures.append(f"{role} POST {action}: {r.status_code} {r.text[:120]}")
    after = client.get(f"/api/v1/cases/{case_id}", headers=headers["admin"]).json()
    print(f"wrong-role writes: {calls} calls, {len(failures)} accepted")
    assert not failures, failures
    assert (after["status"], len(after["timeline"])) == (before["status"], len(before["timeline"]))
