"""Process caches follow the database, not a clock (issue 19): two app instances on one PostgreSQL database,
each with its own engine and caches like two web processes; what an admin changes through one is what the
other does on its very next request, with no TTL to wait out."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.cases.models import Case
from kotapintar.catalog.locating import region_index
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.triage.overrides import learn_routing_override
from tests.helpers import KUALA_KAPUAS, web_client

pytestmark = pytest.mark.parametrize("backend", ["postgres"], indirect=True)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REPORT = {
    "service_code": "sampah",
    "description": "Sampah menumpuk di pinggir jalan dekat pasar, sudah tiga hari tidak diangkut.",
    "lon": KUALA_KAPUAS[0],
    "lat": KUALA_KAPUAS[1],
    "channel": "api",
}


@pytest.fixture
def other_db(db: Database) -> Iterator[Database]:
    """The second process's own engine (and so its own caches) on the same database."""
    other = Database(db.url)
    yield other
    other.dispose()


def _report(client: TestClient, n: int, **overrides: object) -> tuple[int, dict[str, object]]:
    body = {**REPORT, "lon": KUALA_KAPUAS[0] + 0.004 * n, **overrides}
    r = client.post("/api/v1/reports", json=body)
    return r.status_code, r.json()


def test_a_service_closed_through_one_process_is_refused_by_the_other_at_once(
    db: Database, other_db: Database, settings: Settings
) -> None:
    with (
        web_client(create_app(settings, db=db), "admin") as admin_a,
        TestClient(create_app(settings, db=other_db)) as citizen_b,
    ):
        assert _report(citizen_b, 0)[0] == 201  # B's catalogue is now cached
        page = admin_a.get("/admin/layanan")
        closed = admin_a.post(
            "/admin/layanan/sampah",
            data={"csrf_token": CSRF.findall(page.text)[0], "priority": "P3"},
            follow_redirects=False,
        )
        assert closed.status_code == 303
        status, body = _report(citizen_b, 1)
        assert status == 422 and "unknown_service" in str(body), body
        page = admin_a.get("/admin/layanan")
        admin_a.post(
            "/admin/layanan/sampah",
            data={"csrf_token": CSRF.findall(page.text)[0], "priority": "P3", "active": "1"},
            follow_redirects=False,
        )
        assert _report(citizen_b, 2)[0] == 201  # reopened: accepted again by B, also at once


def test_a_routing_override_learned_in_one_process_routes_the_next_report_of_the_other(
    db: Database, other_db: Database, settings: Settings
) -> None:
    kecamatan = region_index(db).locate(*KUALA_KAPUAS).kecamatan_code
    assert kecamatan is not None
    # Caches are kept per Database object, so `other_db` stands for another process: forgetting the context in
    # the process that learned the override (`db`) does not touch B's; only the triage version bump does.
    with TestClient(create_app(settings, db=other_db)) as citizen_b:
        status, first = _report(citizen_b, 0, service_code="jalan_rusak")
        assert status == 201  # B's triage context (gazetteer and routing table) is now cached
        learn_routing_override(db, system_actor("operator"), "jalan_rusak", kecamatan, "dlh")  # process A
        status, second = _report(citizen_b, 3, service_code="jalan_rusak")
        assert status == 201
    with db.reading() as uow:
        agencies = [uow.session.get(Case, body["case_id"]).agency_code for body in (first, second)]  # type: ignore[union-attr]
    assert agencies[0] != "dlh" and agencies[1] == "dlh"
