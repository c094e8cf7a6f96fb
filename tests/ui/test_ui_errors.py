"""Errors a browser gets are pages in the site's layout; programs keep the JSON error shape (issue 20, item 2)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.helpers import web_client

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "id"}

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # pages only: the services are covered on both


@pytest.fixture
def app(db: Database, settings: Settings) -> Any:
    """The application on the test database."""
    return create_app(settings, db=db)


def test_unknown_address_is_a_page_for_browsers_and_json_for_programs(app: Any) -> None:
    client = TestClient(app)
    page = client.get("/tidak-ada", headers=HTML)
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Halaman tidak ditemukan" in page.text and 'href="/beranda"' in page.text
    assert page.text.count("<main") == 1
    program = client.get("/tidak-ada", headers={"Accept": "application/json"})
    assert program.status_code == 404
    assert program.json()["error"]["code"] == "not_found"
    assert "tidak ada" in program.json()["error"]["message"]
    api = client.get("/api/v1/tidak-ada", headers=HTML)  # an API path answers JSON even to a browser
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/json")
    english = client.get("/tidak-ada?lang=en", headers=HTML)
    assert "Page not found" in english.text


def test_a_refusal_and_a_bad_address_part_are_pages_in_the_readers_words(app: Any) -> None:
    operator = web_client(app, "operator")
    bad = operator.get(
        "/operator/kasus/bukan-angka", headers={**HTML, "Referer": "http://testserver/operator"}
    )
    assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
    assert "harus berupa bilangan bulat" in bad.text
    assert 'href="/operator"' in bad.text  # the way back to the page the reader came from
    missing_sop = TestClient(app).get("/sop/tidak_ada", headers=HTML)
    assert missing_sop.status_code == 404 and missing_sop.headers["content-type"].startswith("text/html")
    assert missing_sop.text.count("<main") == 1


def test_the_icon_is_where_browsers_look_for_it(app: Any) -> None:
    icon = TestClient(app).get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in icon.content
