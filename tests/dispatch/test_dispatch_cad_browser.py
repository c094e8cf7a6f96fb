"""The 112 CAD screen in a real browser at 1440×900 (Playwright driving KOTAPINTAR_TEST_CHROMIUM), with the
crew page and the Polres liaison's screens: a house fire from the call to the unit on scene, retried saves,
a call without a place, an open call closed later, and the desa search over the 231 Kapuas desa.

One server and one browser for the module (SQLite: the pages call the services the HTTP and service tests
cover on both databases); each test resets the units and counts only what it made itself. A screenshot of
the screen goes to test-artifacts/ui/cad-1440.png (KOTAPINTAR_UPDATE_SCREENSHOTS=1: docs/screenshots/).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.cases.filters import CaseFilter
from kotapintar.cases.repository import TaskRepository
from kotapintar.cases.service import list_cases
from kotapintar.catalog.regions import import_regions_file
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.board import ALTERNATIVE_REACH_M, EXTRA_ALTERNATIVES
from kotapintar.sop.repository import SopRepository
from tests.conftest import SHARED_DATA, LiveServer, _sqlite_db, launch_chromium, make_settings
from tests.helpers import KUALA_KAPUAS, actor, assert_invariants

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
DESA = SHARED_DATA / "wilayah" / "kapuas_desa_62.03.geojson"
WIDTH, HEIGHT = 1440, 900


@pytest.fixture(scope="module")
def cad(
    sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Database, Settings, str]]:
    """One demo city (with the 231 Kapuas desa when ../shared/data has them) served for the whole module."""
    tmp = tmp_path_factory.mktemp("cad")
    db = _sqlite_db(sqlite_template, tmp)
    if DESA.exists():
        import_regions_file(db, system_actor("tests"), DESA)
    settings = make_settings(db.url, tmp)
    server = LiveServer(create_app(settings, db=db))
    server.start()
    yield db, settings, server.url
    server.stop()
    db.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (see `launch_chromium`)."""
    yield from launch_chromium()


@pytest.fixture(autouse=True)
def fresh(cad: tuple[Database, Settings, str], browser: Any) -> Iterator[None]:
    """Every unit at its base before a test; every page closed after it (open streams delay the server)."""
    unit_service.reset_units(cad[0], system_actor("tests"))
    yield
    for context in list(browser.contexts):
        context.close()


def login(browser: Any, base: str, username: str) -> Any:
    """A new 1440×900 browser context logged in as `username`; returns its page."""
    page = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT}, locale="id-ID").new_page()
    page.goto(f"{base}/masuk")
    page.fill("#f-username", username)
    page.fill("#f-password", DEMO_PASSWORD)
    page.click("form[action='/masuk'] button[type=submit]")
    page.wait_for_load_state("domcontentloaded")
    assert "/masuk" not in page.url, f"login as {username} failed"
    return page


def console(browser: Any, base: str, errors: list[str] | None = None) -> Any:
    """The operator's CAD screen, loaded, boards filled, shortcuts live."""
    page = login(browser, base, "operator")
    if errors is not None:
        page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/112")
    page.wait_for_selector("#ct[data-ready]")
    page.wait_for_selector("#cad-units [data-unit-board]")
    page.wait_for_selector("#cad-incidents [data-incident-board]")
    return page


def fire_call(page: Any, *, lon: float | None, lat: float | None) -> None:
    """Keyboard only: new call, caller, Kebakaran with someone trapped, the place (when given), genuine."""
    kb = page.keyboard
    kb.press("Alt+n")
    page.wait_for_selector("#ct-call-id:has-text('#')")
    kb.type("081234567890")
    kb.press("Alt+j")
    kb.type("Kebakaran")
    page.wait_for_selector('[data-protocol="kebakaran"]:not([hidden])')
    kb.press("Alt+t")  # terjebak → ya
    kb.press("Alt+l")
    kb.press("Tab")
    kb.type("Jl. Pemuda dekat pasar")
    if lon is not None and lat is not None:
        kb.press("Tab")
        kb.type(str(lon))
        kb.press("Tab")
        kb.type(str(lat))
    kb.press("Alt+1")


def call_id(page: Any) -> int:
    """The id of the call the console is taking (#12 → 12)."""
    return int(page.inner_text("#ct-call-id").strip().lstrip("#"))


def fire_cases(db: Database) -> list[int]:
    """Ids of every kebakaran case."""
    return [
        c.id
        for c in list_cases(db, actor(db, "operator"), CaseFilter(services=("kebakaran",)), limit=500).items
    ]


def box(page: Any, selector: str) -> dict[str, float]:
    """Position, size and scroll size of one element."""
    return dict(
        page.eval_on_selector(
            selector,
            "e => { const r = e.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width, h: r.height,"
            " bottom: r.bottom, right: r.right, scroll: e.scrollHeight, client: e.clientHeight}; }",
        )
    )


def shot(page: Any, name: str) -> None:
    """A screenshot as a test artefact (and the docs' copy when KOTAPINTAR_UPDATE_SCREENSHOTS=1)."""
    artifacts = ROOT / "test-artifacts" / "ui"
    artifacts.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(artifacts / f"{name}.png"))
    if os.environ.get("KOTAPINTAR_UPDATE_SCREENSHOTS") == "1":
        from PIL import Image

        docs = ROOT / "docs" / "screenshots"
        docs.mkdir(parents=True, exist_ok=True)
        with Image.open(artifacts / f"{name}.png") as image:
            image.convert("RGB").quantize(colors=256).save(docs / f"{name}.png", optimize=True)


def sop_steps(db: Database, case_id: int) -> dict[str, str]:
    with db.reading() as uow:
        row = uow.repo(SopRepository).instance(case_id)
        assert row is not None
        return {step_id: st["status"] for step_id, st in row.state["steps"].items()}


def support_agencies(db: Database, case_id: int) -> set[str]:
    with db.reading() as uow:
        return {t.agency_code for t in uow.repo(TaskRepository).for_case(case_id) if t.step_id == "dukungan"}


def test_house_fire_from_the_cad_screen_to_the_unit_on_scene(
    browser: Any, cad: tuple[Database, Settings, str]
) -> None:
    """The whole 112 house fire through the screens: the call taker's CAD screen (form, compact
    recommendation, boards), the fire truck's crew page, the Polres liaison's case and crew pages."""
    db, settings, base = cad
    errors: list[str] = []
    page = console(browser, base, errors)

    # the four parts side by side on 1440×900, no page scroll
    columns = [box(page, sel) for sel in (".cad-form", ".cad-center", ".cad-incidents", ".cad-units")]
    assert [c["x"] for c in columns] == sorted(c["x"] for c in columns)
    assert all(abs(c["y"] - columns[0]["y"]) < 2 for c in columns)
    assert all(c["bottom"] <= HEIGHT and c["right"] <= WIDTH for c in columns)
    assert all(c["w"] >= 270 for c in columns)
    doc = page.evaluate("() => [document.documentElement.scrollHeight, document.documentElement.scrollWidth]")
    assert doc[0] <= HEIGHT and doc[1] <= WIDTH
    # every unit of the kabupaten is on the status board, with Indonesian status names and a station
    units = unit_service.unit_board(db, actor(db, "operator"))
    assert page.locator("#cad-units tr[data-unit]").count() == len(units)
    assert page.locator("#cad-units tr[data-unit-status=available]").first.inner_text().count("Tersedia") == 1
    unit_board = box(page, ".cad-units")
    assert unit_board["scroll"] <= unit_board["client"] + 1  # all 34 units visible without scrolling

    fire_call(page, lon=KUALA_KAPUAS[0], lat=KUALA_KAPUAS[1])
    form = box(page, ".cad-form")
    assert form["scroll"] <= form["client"] + 1  # the form with the fire card fits its column
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#ct-rec-table")
    page.wait_for_selector("#ct-send:focus")

    # the compact recommendation: Indonesian kind names, the run card's units and a few near alternatives
    rec_text = page.inner_text("#ct-rec-list")
    assert "fire_truck" not in rec_text and "×" not in rec_text
    assert page.inner_text("tbody[data-rec-kind=fire_truck] th").startswith("Mobil pemadam")
    assert page.inner_text("tbody[data-rec-kind=ambulance] th").startswith("Ambulans")
    for kind in page.eval_on_selector_all("tbody[data-rec-kind]", "els => els.map(e => e.dataset.recKind)"):
        rows = page.locator(f"tbody[data-rec-kind={kind}] tr[data-rec-unit]")
        chosen = page.locator(f"tbody[data-rec-kind={kind}] tr[data-rec-unit][data-selected]").count()
        assert rows.count() <= chosen + EXTRA_ALTERNATIVES
    distances = page.eval_on_selector_all(
        "tr[data-rec-unit]:not([data-selected]) td:last-child", "els => els.map(e => e.textContent)"
    )
    assert all(float(d.replace(" km", "").replace(",", ".")) <= ALTERNATIVE_REACH_M / 1000 for d in distances)
    checked = page.eval_on_selector_all(
        "#ct-rec-list input[name=unit]:checked", "els => els.map(e => e.value)"
    )
    assert len(checked) == 7  # 3 fire trucks, 2 ambulances, 1 police, 1 TRC (people trapped)
    if page.locator("[data-live-banner]").is_visible():  # the new-P1 banner, dismissed by a click
        page.click("[data-live-banner]")
    shot(page, "cad-1440")

    page.keyboard.press("Alt+d")
    page.wait_for_selector("#ct-status:has-text('Unit dikirim')")
    call = call_service.get_call(db, actor(db, "operator"), call_id(page))
    assert call.case_id is not None and call.priority == "P1"
    case_id = call.case_id
    # the case link stays after dispatch, on the form and on the incident board with every unit sent
    link = page.locator("#ct-case-link")
    assert link.is_visible() and call.ticket in link.inner_text()
    assert link.get_attribute("href") == f"/112/kasus/{case_id}"
    row = f"#cad-incidents tr[data-incident='{case_id}']"
    for code in checked:
        page.wait_for_selector(f"{row} [data-unit='{code}'][data-unit-status=dispatched]")
    assert page.get_attribute(row, "data-priority") == "P1"
    assert sop_steps(db, case_id)["berangkatkan_unit"] == "done"
    assert {"polres", "psc119"} <= support_agencies(db, case_id)

    # the first fire truck's crew moves it from its phone; the CAD screen follows live
    truck = next(c for c in checked if c.startswith("DMK"))
    crew = browser.new_context(viewport={"width": 400, "height": 800}, locale="id-ID").new_page()
    crew.goto(f"{base}/unit/{truck}?token={unit_service.unit_token(settings, truck)}")
    assert call.ticket in crew.inner_text(".crew-assignment")
    crew.click("[data-status=en_route]")
    crew.wait_for_selector("[data-status=on_scene]")
    page.wait_for_selector(f"#cad-units tr[data-unit='{truck}'][data-unit-status=en_route]", timeout=8000)
    assert sop_steps(db, case_id)["tiba_di_lokasi"] == "active"  # en route is not arrival
    crew.click("[data-status=on_scene]")
    page.wait_for_selector(f"#cad-units tr[data-unit='{truck}'][data-unit-status=on_scene]", timeout=8000)
    page.wait_for_selector(f"{row} [data-unit='{truck}'][data-unit-status=on_scene]", timeout=8000)
    assert "Di lokasi" in page.inner_text(f"#cad-units tr[data-unit='{truck}']")
    steps = sop_steps(db, case_id)
    assert steps["berangkatkan_unit"] == "done" and steps["tiba_di_lokasi"] == "done"

    # the Polres liaison sees the case (its support task) and works its own patrol's crew page
    patrol = next(c for c in checked if c.startswith("POL"))
    liaison = login(browser, base, "polres.liaison")
    answer = liaison.goto(f"{base}/instansi/kasus/{case_id}")
    assert answer is not None and answer.status == 200
    assert call.ticket in liaison.inner_text("main")
    answer = liaison.goto(f"{base}/unit/{patrol}")
    assert answer is not None and answer.status == 200
    assert call.ticket in liaison.inner_text(".crew-assignment")
    other = liaison.goto(f"{base}/unit/{truck}")
    assert other is not None and other.status == 403  # not Polres' unit
    assert not errors, errors
    assert_invariants(db)


def test_a_double_submit_and_lost_answers_make_one_call_and_one_case(
    browser: Any, cad: tuple[Database, Settings, str]
) -> None:
    """Ctrl+Enter pressed twice, and both the 'new call' and the save answered into the void (the server
    did the work, the network lost the answer, the console retried): one call, one case."""
    db, _, base = cad
    page = console(browser, base)
    seen = {"calls": 0, "classify": 0}

    def lose_first_answer(name: str) -> Any:
        def handler(route: Any) -> None:
            if route.request.method != "POST":
                route.continue_()
                return
            seen[name] += 1
            if seen[name] == 1:
                route.fetch()  # the server handles it …
                route.abort("connectionreset")  # … and the answer never arrives
            else:
                route.continue_()

        return handler

    page.route("**/api/v1/dispatch/calls", lose_first_answer("calls"))
    page.route("**/api/v1/dispatch/calls/*/classify", lose_first_answer("classify"))
    calls_before = call_service.call_counts(db, actor(db, "operator"))["total"]
    cases_before = fire_cases(db)

    # the call is opened by the save itself (no Alt+N): the key of the form makes the retry find it
    page.keyboard.press("Alt+j")
    page.keyboard.type("Kebakaran")
    page.keyboard.press("Alt+l")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type(str(KUALA_KAPUAS[0] + 0.02))
    page.keyboard.press("Tab")
    page.keyboard.type(str(KUALA_KAPUAS[1]))
    page.keyboard.press("Control+Enter")
    page.keyboard.press("Control+Enter")  # double submit
    page.wait_for_selector("#ct-rec-table")
    page.keyboard.press("Control+Enter")  # and once more after the answer: the same case again

    assert seen["calls"] >= 2 and seen["classify"] >= 2  # the lost answers were retried
    assert call_service.call_counts(db, actor(db, "operator"))["total"] == calls_before + 1
    new_cases = sorted(set(fire_cases(db)) - set(cases_before))
    assert len(new_cases) == 1
    assert page.get_attribute("#ct-rec-table", "data-rec-case") == str(new_cases[0])
    assert_invariants(db)


def test_a_call_without_a_place_stays_a_call_then_is_resumed_or_closed_from_the_console(
    browser: Any, cad: tuple[Database, Settings, str]
) -> None:
    """No point and no desa: no case, the call waits in the open calls list; it is resumed later with its
    place (one case), and another call left open is closed as a prank from the list (no case)."""
    db, _, base = cad
    op = actor(db, "operator")
    page = console(browser, base)
    cases_before = fire_cases(db)

    fire_call(page, lon=None, lat=None)
    vague = call_id(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#ct-status:has-text('Lokasi kejadian belum ditentukan')")
    assert fire_cases(db) == cases_before
    assert call_service.get_call(db, op, vague).classification is None
    page.wait_for_selector(f"#cad-open-calls li[data-call='{vague}']")

    # another call rings before the first is settled; the first stays open
    page.keyboard.press("Alt+n")
    page.wait_for_selector(f"#ct-call-id:not(:has-text('#{vague}'))")
    left = call_id(page)
    page.wait_for_selector(f"#cad-open-calls li[data-call='{left}']")

    # the first call is resumed from the list with its place now known: one case
    page.click(f"[data-resume-call='{vague}']")
    page.wait_for_selector(f"#ct-call-id:has-text('#{vague}')")
    assert page.input_value("#ct-type") == "kebakaran"
    page.fill("#f-lon", str(KUALA_KAPUAS[0] - 0.02))
    page.fill("#f-lat", str(KUALA_KAPUAS[1]))
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#ct-rec-table")
    resumed = call_service.get_call(db, op, vague)
    assert resumed.classification == "genuine" and resumed.case_id is not None
    assert sorted(set(fire_cases(db)) - set(cases_before)) == [resumed.case_id]
    page.keyboard.press("Escape")

    # the other one is closed from the list as a prank: no case, gone from the list
    page.wait_for_selector(f"#cad-open-calls li[data-call='{left}']")
    page.select_option(f"#close-{left}", "prank")
    page.click(f"[data-close-call='{left}']")
    page.wait_for_selector(f"#cad-open-calls li[data-call='{left}']", state="detached")
    closed = call_service.get_call(db, op, left)
    assert closed.classification == "prank" and closed.case_id is None
    assert len(set(fire_cases(db)) - set(cases_before)) == 1
    assert_invariants(db)


def test_the_desa_search_finds_the_231_kapuas_desa_and_places_the_call(
    browser: Any, cad: tuple[Database, Settings, str]
) -> None:
    """With the real desa imported, the console's search offers all 231 (with their kecamatan), and a desa
    picked by keyboard places the call at the desa's point."""
    if not DESA.exists():
        pytest.skip(f"../shared/data absent ({DESA}): the 231 Kapuas desa are not available here")
    db, _, base = cad
    page = console(browser, base)
    codes = page.eval_on_selector_all("#ct-desa-list option", "els => els.map(e => e.dataset.code)")
    assert len([c for c in codes if c.startswith("62.03.")]) >= 231
    option = page.get_attribute("#ct-desa-list option[data-code='62.03.01.1006']", "value")
    assert option is not None and option.startswith("Murung Keramat, ") and option.endswith("(62.03.01.1006)")

    kb = page.keyboard
    kb.press("Alt+n")
    page.wait_for_selector("#ct-call-id:has-text('#')")
    kb.press("Alt+j")
    kb.type("Kebakaran")
    kb.press("Alt+l")
    kb.type(option)
    kb.press("Tab")  # leaving the search picks the desa
    assert page.input_value("#ct-region") == "62.03.01.1006"
    lon, lat = float(page.input_value("#f-lon")), float(page.input_value("#f-lat"))
    assert abs(lon - 114.356) < 0.01 and abs(lat + 3.038) < 0.01
    kb.press("Alt+1")
    kb.press("Control+Enter")
    page.wait_for_selector("#ct-rec-table")
    call = call_service.get_call(db, actor(db, "operator"), call_id(page))
    assert call.case_id is not None and call.region_code == "62.03.01.1006"
