"""End-to-end tests of the command center and portal in a real browser (Playwright driving Debian's chromium).

Needs KOTAPINTAR_TEST_CHROMIUM (= /usr/bin/chromium); skipped locally without it, failing in CI.
Screenshots of the main pages go to test-artifacts/ui/ (KOTAPINTAR_UPDATE_SCREENSHOTS=1 also writes
docs/screenshots/).
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kotapintar.cases import service as case_service
from kotapintar.cases.repository import CaseRepository, ReportRepository
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.intake.submit import submit_report
from tests.conftest import launch_chromium, skip_or_fail
from tests.helpers import actor, assert_invariants, report
from tests.ui.browser import login, tiny_png, wait_live

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
DOCS_SHOTS = ROOT / "docs" / "screenshots"
_SPREAD = itertools.count()

# One backend is enough for the browser: the pages call the same services the HTTP tests cover on both.
pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (see `launch_chromium`)."""
    yield from launch_chromium()


@pytest.fixture(autouse=True)
def close_pages(browser: Any, live_server: Any) -> Iterator[None]:
    """Close every page after a test, before the server stops (open event streams would delay its exit)."""
    yield
    for context in list(browser.contexts):
        context.close()


def shot(page: Any, name: str) -> None:
    """Save a screenshot as a test artefact (and as the docs' current one when asked)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("KOTAPINTAR_UPDATE_SCREENSHOTS") == "1":
        from PIL import Image  # a dependency already (media); 256 colours keep the docs' PNGs small

        DOCS_SHOTS.mkdir(parents=True, exist_ok=True)
        with Image.open(ARTIFACTS / f"{name}.png") as image:
            image.convert("RGB").quantize(colors=256).save(DOCS_SHOTS / f"{name}.png", optimize=True)


def new_case(db: Database, **overrides: Any) -> tuple[int, str]:
    """A citizen's report through the real intake service, each one about 1 km from the last (so triage
    does not join it to the previous case as a duplicate); returns (case id, ticket)."""
    n = next(_SPREAD)
    overrides.setdefault("lon", 114.36 + 0.01 * (n % 6))
    overrides.setdefault("lat", -3.02 + 0.01 * (n // 6 % 6))
    result = submit_report(db, channel_actor("web"), report(**overrides))
    return result.case_id, result.ticket


def test_operator_disposes_and_officer_completes_live(browser: Any, live_server: Any, db: Database) -> None:
    """The whole complaint SOP from the screens: the operator verifies and disposes; the officer's open inbox
    shows PUPR's task live, the officer drafts the LAPOR! answer, the head of PUPR approves it from the same
    inbox, the works task appears and the officer completes it with a photo; the operator's open queue drops
    the resolved case — all without reloading, and the database keeps every invariant."""
    case_id, _ = new_case(db, description="Jalan amblas di Jalan Pemuda, dua motor sudah jatuh.")
    officer = login(browser, live_server.url, "pupr.petugas", viewport=(390, 844))
    officer.goto(f"{live_server.url}/instansi")
    wait_live(officer)
    assert officer.locator("[data-task-id]").count() == 0

    operator = login(browser, live_server.url, "operator")
    operator.goto(f"{live_server.url}/operator/kasus/{case_id}")
    operator.click("button[data-action=verify]")
    operator.wait_for_selector(".flash-success, [class*=flash]")
    operator.select_option("#a-disposisi-agency_code", "pupr")
    operator.fill("#a-disposisi-due_hours", "2")
    operator.click("button[data-action=assign]")
    operator.wait_for_selector("text=Didisposisikan")
    shot(operator, "operator-case")

    started = time.monotonic()
    officer.wait_for_selector("[data-task-id]", timeout=5000)
    assert officer.url.endswith("/instansi"), "the inbox must update without navigation"
    seen_after = time.monotonic() - started
    assert seen_after < 5
    shot(officer, "agency-inbox-phone")

    operator.goto(f"{live_server.url}/operator")
    wait_live(operator)
    operator.wait_for_selector(f"#queue li[data-case-id='{case_id}']")
    operator.wait_for_timeout(1500)  # let the map draw its markers for the screenshot
    shot(operator, "operator-wall")

    # The SOP's answer step: accept, draft the answer (the reporter does not see it yet) ...
    officer.click("button[data-action=accept]")
    officer.wait_for_selector("textarea[name=answer]")
    officer.fill("textarea[name=answer]", "Lubang akan ditambal tim pemeliharaan PUPR minggu ini.")
    officer.click("button[data-action=draft-answer]")
    officer.wait_for_selector("text=Menunggu persetujuan")
    # ... the head of PUPR approves it from the agency inbox ...
    head = login(browser, live_server.url, "pupr.kepala")
    head.goto(f"{live_server.url}/instansi")
    head.click("button[data-action=approve-answer]")
    head.wait_for_load_state("domcontentloaded")
    # ... and the works step reaches PUPR: accept, then complete with its output and a photo.
    officer.goto(f"{live_server.url}/instansi")
    officer.click("button[data-action=accept]")
    officer.wait_for_selector("[data-task-id] details summary")
    officer.click("[data-task-id] details:last-of-type summary")
    officer.select_option("select[name=out_tuntas]", "1")
    officer.fill("textarea[name=output]", "Lubang sudah ditambal dengan aspal dingin.")
    officer.set_input_files(
        "[data-task-id] details:last-of-type input[name=photos]",
        files=[{"name": "tambal.png", "mimeType": "image/png", "buffer": tiny_png()}],
    )
    officer.click("button[data-action=complete]")
    officer.wait_for_load_state("domcontentloaded")

    operator.wait_for_selector(f"#queue li[data-case-id='{case_id}']", state="detached", timeout=5000)
    assert operator.url.endswith("/operator")
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None and case.status == "resolved"
    assert_invariants(db)


def test_new_p1_case_is_announced_within_a_second(browser: Any, live_server: Any, db: Database) -> None:
    """A P1 report appears in the open queue and raises the alert banner about a second after commit."""
    operator = login(browser, live_server.url, "operator")
    operator.goto(f"{live_server.url}/operator")
    wait_live(operator)
    case_id, ticket = new_case(
        db, service_code="kebakaran", description="Kebakaran rumah di gang Mawar, api besar!", priority="P1"
    )
    started = time.monotonic()
    operator.wait_for_selector("[data-live-banner]:not([hidden])", timeout=5000)
    operator.wait_for_selector(f"#queue li[data-case-id='{case_id}']", timeout=5000)
    elapsed = time.monotonic() - started
    assert ticket in operator.inner_text("[data-live-banner]")
    assert elapsed < 2.0, f"the new P1 case took {elapsed:.2f} s to show"
    shot(operator, "operator-p1-alert")


def test_report_text_with_script_is_shown_as_text(browser: Any, live_server: Any, db: Database) -> None:
    """A report whose text is markup shows as text on the case page and never runs."""
    payload = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">Jalan rusak'
    case_id, _ = new_case(db, description=payload)
    operator = login(browser, live_server.url, "operator")
    operator.goto(f"{live_server.url}/operator/kasus/{case_id}")
    assert payload in operator.inner_text("[data-case-description]")
    assert operator.evaluate("() => window.__xss === undefined")
    assert operator.locator("#case-body img[src=x]").count() == 0


def test_liaison_cannot_open_another_bodys_case(browser: Any, live_server: Any, db: Database) -> None:
    """The police liaison gets 'not found' for a case handed only to public works, also by URL."""
    case_id, _ = new_case(db)
    case_service.assign_case(db, actor(db, "operator"), case_id, "pupr")
    liaison = login(browser, live_server.url, "polres.liaison")
    response = liaison.goto(f"{live_server.url}/instansi/kasus/{case_id}")
    assert response is not None and response.status == 404
    assert "Tidak ditemukan" in liaison.inner_text("main")
    response = liaison.goto(f"{live_server.url}/operator/kasus/{case_id}")
    assert response is not None and response.status == 403


def test_citizen_reports_with_photo_on_a_phone_and_tracks_it(
    browser: Any, live_server: Any, db: Database
) -> None:
    """From a phone-sized screen: the portal links to the form, a report with a photo gets a ticket to track."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="id-ID", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/beranda")
    shot(page, "portal-phone")
    assert page.locator("a[href='/lapor']").count() >= 1
    form = page.goto(f"{live_server.url}/lapor?layanan=jalan_rusak")
    if form is None or form.status != 200 or page.locator("input[type=file]").count() == 0:
        skip_or_fail("the citizen form (/lapor, issue 4) is not there")
    page.fill("textarea[name=description]", "Jalan berlubang dalam di depan pasar, sering ada motor jatuh.")
    page.click(
        "details.coords-manual summary"
    )  # the typed-coordinates fallback (issue 20: closed by default)
    page.fill("input[name=lon]", "114.39")
    page.fill("input[name=lat]", "-3.0")
    page.set_input_files(
        "input[type=file]", files=[{"name": "lubang.png", "mimeType": "image/png", "buffer": tiny_png()}]
    )
    page.click("form button[type=submit].btn-primary")
    page.wait_for_url("**/lacak/**", timeout=10000)
    ticket = page.url.split("/lacak/")[1].split("?")[0]
    assert ticket.startswith("KPS-")
    page.goto(f"{live_server.url}/beranda")
    page.fill("#track-ticket", ticket)
    page.click(".track-form button")
    page.wait_for_url(f"**/lacak/{ticket}**")
    assert ticket in page.inner_text("main")
    with db.reading() as uow:
        case = uow.repo(CaseRepository).by_ticket(ticket)
        assert case is not None
        assert any(r.media for r in uow.repo(ReportRepository).for_case(case.id)), (
            "the photo was not stored with the report"
        )


def test_screens_of_supervisor_portal_and_data(browser: Any, live_server: Any, db: Database) -> None:
    """The supervisor table, the public portal and the open-data page render (screenshots for the docs)."""
    for i in range(3):
        case_id, _ = new_case(db, description=f"Jalan berlubang di blok {i} pasar, membahayakan pengendara.")
        case_service.assign_case(
            db, actor(db, "operator"), case_id, "dlh", due_hours=0.0001 if i == 0 else 24
        )
    supervisor = login(browser, live_server.url, "supervisor")
    supervisor.goto(f"{live_server.url}/supervisor")
    assert supervisor.locator("[data-supervisor-table] tbody tr").count() >= 1
    shot(supervisor, "supervisor")
    page = browser.new_context(viewport={"width": 1366, "height": 768}).new_page()
    page.goto(f"{live_server.url}/beranda")
    page.wait_for_timeout(800)
    shot(page, "portal")
    page.goto(f"{live_server.url}/data")
    assert page.locator("[data-dictionary] tbody tr").count() > 10
    shot(page, "opendata")
