"""One language on every screen (issue 20, item 1): every page, as each reader opens it, in Indonesian.

A page fails on any catalogue key (`ui.task.status.escalated`), any English word from a list, any
snake_case code (`jalan_rusak`), any ISO timestamp (`2026-12-04T19:50:00Z`) or any decimal point (`1.5`)
in the text a person reads; text marked up as code (<code>, <kbd>) is allowed. The API errors that forms
and consoles show to people are held to the same rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from tests.conftest import _sqlite_db, make_settings
from tests.helpers import DEMO_PASSWORD, web_client
from tests.ui.screens_support import City, Page, page_problems, pages, problems_in, seed_city


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, City]]:
    """One application on one seeded SQLite database for the whole module."""
    tmp = tmp_path_factory.mktemp("language")
    db: Database = _sqlite_db(sqlite_template, tmp)
    settings = make_settings(db.url, tmp)
    app = create_app(settings, db=db)
    city = seed_city(db, settings, app)
    yield app, city
    db.dispose()


def _client(app: object, page: Page, city: City) -> TestClient:
    if page.user == "crew":
        client = TestClient(app)  # type: ignore[arg-type]
        client.get(f"/unit/{city.unit}?token={city.unit_token}")
        return client
    return web_client(app, page.user)


def _open(site: tuple[object, City], page: Page) -> str:
    app, city = site
    client = _client(app, page, city)
    response = client.get(page.path, headers={"Accept": "text/html", "Accept-Language": "id"})
    assert response.status_code == page.status, f"{page.path} as {page.user}: {response.status_code}"
    assert response.headers["content-type"].startswith("text/html"), page.path
    return str(response.text)


def test_every_page_reads_in_indonesian(site: tuple[object, City]) -> None:
    """Each page as its reader opens it: no catalogue key, English word, code, ISO time or decimal point."""
    failures: dict[str, list[str]] = {}
    for page in pages(site[1]):
        found = page_problems(_open(site, page))
        if found:
            failures[f"{page.path} ({page.user or 'public'})"] = sorted(set(found))
    assert not failures, "\n".join(f"{where}:\n  " + "\n  ".join(found) for where, found in failures.items())


def test_the_checks_catch_what_the_issue_found() -> None:
    """The rules fire on the very texts the issue saw on screens (a check that cannot fail is no check)."""
    for seen in (
        "ui.task.status.escalated",
        "task metric",
        "unit en route",
        "4d 11h",
        "1.5 min",
        "fire_truck × 2",
        "Laporan diterima (jalan_rusak)",
        "(2026-12-04T19:50:00Z)",
        "String should have at least 3 characters",
        "613.1 km",
    ):
        assert problems_in(seen), seen
    for fine in ("4 hari 11 jam", "1,5 menit", "4 Des 2026 02.50 WIB", "KPS-2026-000123", "12.500 warga"):
        assert not problems_in(fine), fine


def test_page_fragments_and_error_pages_read_in_indonesian(site: tuple[object, City]) -> None:
    """The parts htmx swaps in and the answers to a wrong address or a refused form are Indonesian too."""
    app, city = site
    operator = web_client(app, "operator")
    failures: list[str] = []
    for path in (
        "/operator/antrean",
        f"/operator/kasus/{city.case_id}/isi",
        f"/operator/kasus/{city.crash_case_id}/unit",
        f"/operator/kasus/{city.case_id}/unit",  # a road report: no run card, said in words
        "/operator/sensor/isi",
    ):
        r = operator.get(path, headers={"HX-Request": "true"})
        assert r.status_code == 200, path
        failures += [f"{path}: {p}" for p in page_problems(f"<div>{r.text}</div>")]
    missing = operator.get("/tidak/ada", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "Halaman tidak ditemukan" in missing.text
    failures += [f"404: {p}" for p in page_problems(missing.text)]
    assert not failures, "\n".join(failures)


def test_api_errors_shown_to_people_are_indonesian(site: tuple[object, City]) -> None:
    """The messages the citizen form, the 112 console and the crew page show from the API. (An unknown
    service code is a developer's mistake — the forms offer only known services — and its message lists
    the codes on purpose.)"""
    app, city = site
    public = TestClient(app)  # type: ignore[arg-type]
    short = public.post(
        "/api/v1/reports",
        json={"service_code": "jalan_rusak", "description": "ab", "lon": 514.4, "lat": -3.0},
    )
    assert short.status_code == 422
    message = short.json()["error"]["message"]
    assert "Uraian terlalu pendek (paling sedikit" in message and "Bujur harus 180 atau kurang" in message
    assert {p["field"] for p in short.json()["error"]["details"]["problems"]} >= {"description", "lon"}
    missing = public.get("/api/v1/tidak-ada")
    assert missing.status_code == 404
    operator = TestClient(app)  # type: ignore[arg-type]
    operator.post("/api/v1/auth/session", data={"username": "operator", "password": DEMO_PASSWORD})
    token = re.search(r'data-csrf="([^"]+)"', operator.get("/112").text)
    assert token
    h = {"X-CSRF-Token": token.group(1)}
    bad_status = operator.post(
        f"/api/v1/dispatch/units/{city.unit}/status", json={"status": "terbang"}, headers=h
    )
    bad_move = operator.post(
        f"/api/v1/dispatch/units/{city.unit}/status", json={"status": "transporting"}, headers=h
    )
    failures: list[str] = []
    for name, response in (
        ("short report", short),
        ("unknown API path", missing),
        ("unknown unit status", bad_status),
        ("illegal unit status", bad_move),
    ):
        assert response.status_code >= 400, (name, response.text)
        text = response.json()["error"]["message"]
        failures += [f"{name}: {p}" for p in problems_in(text)]
    assert not failures, "\n".join(failures)
