"""The portal and the citizen form with JavaScript, in a real browser (Playwright driving Debian's chromium):
the map shows the same filter as the list, a filter chosen in the page narrows both, and on the form "use my
location" and a tap on the map place the point, with the device's accuracy recorded with the report."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from kotapintar.cases.models import Report
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.intake.submit import submit_report
from tests.conftest import launch_chromium
from tests.helpers import report, spot
from tests.portal.portal_helpers import shot

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless, shared by the module."""
    yield from launch_chromium()


@pytest.fixture(autouse=True)
def close_pages(browser: Any, live_server: Any) -> Iterator[None]:
    """Close every page after a test, before the server stops."""
    yield
    for context in list(browser.contexts):
        context.close()


def _map_count(page: Any, selector: str) -> int:
    page.wait_for_function(
        f"() => window.KotapintarMap && KotapintarMap.get('{selector}') && "
        f"KotapintarMap.get('{selector}').caseCount() > 0",
        timeout=10000,
    )
    return int(page.evaluate(f"() => KotapintarMap.get('{selector}').caseCount()"))


def test_the_map_follows_the_list_filter(browser: Any, live_server: Any, db: Database) -> None:
    for n in range(4):
        submit_report(
            db, channel_actor("web"), report(description=f"Jalan berlubang di gang {n}.", **spot(n))
        )
    for n, (lon, lat) in enumerate([(114.2744, -2.9252), (114.4574, -2.9602)]):  # Basarang, Kapuas Hilir
        flood = report(service_code="banjir", description=f"Banjir rumah {n}.", lon=lon, lat=lat)
        assert submit_report(db, channel_actor("web"), flood).merged_into is None
    page = browser.new_context(viewport={"width": 390, "height": 844}, locale="id-ID").new_page()
    page.goto(f"{live_server.url}/kasus")
    assert _map_count(page, "#kasus-map") == 6
    shot(page, "kasus-phone")
    assert page.locator("[data-portal-results] li").count() == 6
    assert not page.locator("#q-layanan").is_visible()  # the filter boxes fold away until asked for
    page.click(".portal-more summary")
    page.select_option("#q-layanan", "banjir")
    page.click(".portal-filters button[type=submit]")
    page.wait_for_url("**/kasus?**layanan=banjir**")
    assert page.locator("[data-portal-results] li").count() == 2
    assert _map_count(page, "#kasus-map") == 2
    page.fill("#q-q", "gang 3")
    page.select_option("#q-layanan", "")
    page.click(".portal-filters button[type=submit]")
    page.wait_for_url("**q=gang+3**")
    assert page.locator("[data-portal-results] li").count() == 1
    assert _map_count(page, "#kasus-map") == 1
    page.click("[data-portal-results] li a")
    page.wait_for_url("**/kasus/KPS-**")
    assert "Jalan berlubang di gang 3." in page.inner_text("main")
    shot(page, "kasus-detail-phone")
    assert page.locator("[data-copy-share]").is_visible() or not page.evaluate("() => !!navigator.clipboard")
    scroll = page.evaluate("() => document.documentElement.scrollWidth")
    assert scroll <= 390, f"the case page scrolls sideways on a phone ({scroll} px)"
    wide = browser.new_context(viewport={"width": 1440, "height": 900}, locale="id-ID").new_page()
    wide.goto(f"{live_server.url}/kasus?layanan=banjir")
    assert _map_count(wide, "#kasus-map") == 2
    shot(wide, "kasus")


def test_use_my_location_records_the_device_accuracy(browser: Any, live_server: Any, db: Database) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844},
        locale="id-ID",
        permissions=["geolocation"],
        geolocation={"longitude": 114.3912, "latitude": -3.0021, "accuracy": 18},
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/lapor?layanan=jalan_rusak")
    assert not page.locator("#f-lon").is_visible()  # no raw Bujur/Lintang by default
    page.fill("textarea[name=description]", "Jalan berlubang dalam di depan pasar, sering ada motor jatuh.")
    page.click("#pick-locate")
    page.wait_for_function(
        "() => document.querySelector('#f-location_source').value === 'gps'", timeout=10000
    )
    page.locator("#place").scroll_into_view_if_needed()
    shot(page, "lapor-place-phone")
    assert page.input_value("#f-location_accuracy_m") == "18"
    assert "Lokasi sudah ditandai" in page.inner_text("#pick-status") and "18 m" in page.inner_text(
        "#pick-status"
    )
    assert page.input_value("#f-lon").startswith("114.3912")
    page.click("form button[type=submit].btn-primary")
    page.wait_for_url("**/lacak/**", timeout=10000)
    with db.reading() as uow:
        found = uow.session.scalars(select(Report).order_by(Report.id.desc())).first()
        assert found is not None
        assert (found.location_source, found.location_accuracy_m) == ("gps", 18.0)
        assert abs((found.lon or 0) - 114.3912) < 1e-5


def test_a_tap_on_the_map_places_the_point(browser: Any, live_server: Any, db: Database) -> None:
    page = browser.new_context(viewport={"width": 1280, "height": 900}, locale="id-ID").new_page()
    page.goto(f"{live_server.url}/lapor?layanan=jalan_rusak")
    page.wait_for_function("() => window.KotapintarMap && KotapintarMap.get('#pick-map')", timeout=10000)
    page.click("#pick-map", position={"x": 200, "y": 150})
    page.wait_for_function("() => document.querySelector('#f-location_source').value === 'map'", timeout=5000)
    assert page.input_value("#f-lon") != "" and page.input_value("#f-location_accuracy_m") == ""
    assert "Lokasi sudah ditandai" in page.inner_text("#pick-status")
