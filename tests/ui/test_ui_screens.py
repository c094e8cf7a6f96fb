"""Every page on a phone and on a desktop, checked by axe-core (issue 20, items 2 and 3).

Each page of `screens_support.pages` opens as its reader in a real chromium at 390×844 and at 1440×900.
It must not scroll sideways (`document.scrollingElement.scrollWidth <= innerWidth`), must have exactly one
<main>, and axe-core — injected from the copy vendored in tests/vendor/axe-core (nothing is downloaded
at test time) — must find no serious or critical violation. Screenshots go to test-artifacts/screens/
and, with KOTAPINTAR_UPDATE_SCREENSHOTS=1, to docs/screenshots/<page>-390.png and -1440.png.
One server and one browser serve the whole module; each reader logs in once per screen size.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kotapintar.app.web import create_app
from tests.conftest import LiveServer, _sqlite_db, launch_chromium, make_settings
from tests.helpers import DEMO_PASSWORD
from tests.ui.screens_support import City, Page, pages, seed_city

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "vendor" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "screens"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
SIZES = {"390": (390, 844), "1440": (1440, 900)}
PAGE_NAMES = [p.name for p in pages(City(0, "KPS-0", 0, "X", "t"))]

pytestmark = pytest.mark.browser


class Site:
    """The live server, the browser and one logged-in context per (reader, screen size)."""

    def __init__(self, server: LiveServer, browser: Any, city: City) -> None:
        self.server = server
        self.browser = browser
        self.city = city
        self.contexts: dict[tuple[str | None, str], Any] = {}

    def page_for(self, user: str | None, size: str) -> Any:
        """A tab of the reader's context at that size (the context logs in on first use)."""
        key = (user, size)
        if key not in self.contexts:
            width, height = SIZES[size]
            context = self.browser.new_context(
                viewport={"width": width, "height": height},
                locale="id-ID",
                is_mobile=size == "390",
                has_touch=size == "390",
                bypass_csp=True,  # lets the test inject axe-core; the pages themselves never need it
            )
            tab = context.new_page()
            if user == "crew":
                tab.goto(f"{self.server.url}/unit/{self.city.unit}?token={self.city.unit_token}")
            elif user:
                tab.goto(f"{self.server.url}/masuk")
                tab.fill("#f-username", user)
                tab.fill("#f-password", DEMO_PASSWORD)
                tab.click("form[action='/masuk'] button[type=submit]")
                tab.wait_for_load_state("domcontentloaded")
                assert "/masuk" not in tab.url, f"login as {user} failed"
            tab.close()
            self.contexts[key] = context
        return self.contexts[key].new_page()


@pytest.fixture(scope="module")
def site(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One seeded application served over HTTP and one headless chromium for every page of the module."""
    tmp = tmp_path_factory.mktemp("screens")
    db = _sqlite_db(sqlite_template, tmp)
    settings = make_settings(db.url, tmp)
    app = create_app(settings, db=db)
    city = seed_city(db, settings, app)
    server = LiveServer(app)
    server.start()
    for browser in launch_chromium():
        site = Site(server, browser, city)
        yield site
        for context in site.contexts.values():
            context.close()
    server.stop()
    db.dispose()


def shot(tab: Any, name: str) -> None:
    """Save the screenshot as a test artefact, and as the docs' current one when asked."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path))
    if os.environ.get("KOTAPINTAR_UPDATE_SCREENSHOTS") == "1":
        from PIL import Image  # a dependency already (media); 256 colours keep the docs' PNGs small

        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        with Image.open(path) as image:
            image.convert("RGB").quantize(colors=256).save(DOCS_SHOTS / f"{name}.png", optimize=True)


AXE_RUN = """async () => {
  const result = await axe.run(document, {resultTypes: ['violations']});
  return result.violations
    .filter(v => v.impact === 'serious' || v.impact === 'critical')
    .map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' :: ' + n.failureSummary)}));
}"""

OVERFLOW = """() => {
  const doc = document.scrollingElement;
  const wide = [...document.querySelectorAll('body *')]
    .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.getClientRects().length)
    .filter(e => !e.closest('.leaflet-container'))
    .slice(0, 5).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') +
      ' right=' + Math.round(e.getBoundingClientRect().right));
  return {scroll: doc.scrollWidth, inner: window.innerWidth, wide};
}"""


def _page(site: Site, name: str) -> Page:
    return next(p for p in pages(site.city) if p.name == name)


@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("name", PAGE_NAMES)
def test_page_fits_the_screen_and_passes_axe(site: Site, name: str, size: str) -> None:
    """No sideways scrolling, one <main>, and 0 serious or critical axe-core violations."""
    page = _page(site, name)
    tab = site.page_for(page.user, size)
    try:
        response = tab.goto(f"{site.server.url}{page.path}", wait_until="load")
        assert response is not None and response.status == page.status, (
            f"{page.path}: {response and response.status}"
        )
        tab.wait_for_timeout(300)  # maps and live lists draw after load
        width = tab.evaluate(OVERFLOW)
        assert tab.locator("main").count() == 1, f"{page.path} has {tab.locator('main').count()} <main>"
        shot(tab, f"{name}-{size}")
        assert width["scroll"] <= width["inner"], f"{page.path} at {size} px scrolls sideways: {width}"
        tab.add_script_tag(path=str(AXE))
        violations = tab.evaluate(AXE_RUN)
        assert not violations, f"{page.path} at {size} px: " + "\n".join(
            f"{v['impact']} {v['id']}: {v['help']}\n    " + "\n    ".join(v["nodes"]) for v in violations
        )
    finally:
        tab.close()
