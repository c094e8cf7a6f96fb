"""The call-taker console in a real browser, keyboard only: a genuine fire call becomes a dispatched case in
well under 60 seconds of operator time (Playwright driving KOTAPINTAR_TEST_CHROMIUM; SQLite only — the pages
call the same API the HTTP tests cover on both databases)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.dispatch import calls as call_service
from kotapintar.dispatch import units as unit_service
from tests.conftest import launch_chromium
from tests.helpers import KUALA_KAPUAS, actor

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"]), pytest.mark.browser]


@pytest.fixture
def browser() -> Iterator[Any]:
    """Debian's chromium, headless (see `launch_chromium`)."""
    yield from launch_chromium()


def test_keyboard_only_call_to_dispatch_under_a_minute(browser: Any, live_server: Any, db: Database) -> None:
    unit_service.reset_units(db, system_actor("tests"))
    page = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="id-ID").new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/112")
    page.keyboard.type("operator")
    page.keyboard.press("Tab")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#ct[data-ready]")
    errors.clear()  # the login form itself is served with 401, which the console reports
    started = time.monotonic()
    kb = page.keyboard
    kb.press("Alt+n")
    page.wait_for_selector("#ct-call-id:has-text('#')")  # CSP forbids eval: selectors, not JS predicates
    kb.type("081234567890")
    kb.press("Alt+j")
    kb.type("Kebakaran")
    page.wait_for_selector('[data-protocol="kebakaran"]:not([hidden])')
    kb.press("Alt+t")  # terjebak → ya
    kb.press("Alt+l")
    kb.press("Tab")
    kb.type("Jl. Pemuda dekat pasar")
    kb.press("Tab")
    kb.type(str(KUALA_KAPUAS[0]))
    kb.press("Tab")
    kb.type(str(KUALA_KAPUAS[1]))
    kb.press("Alt+1")
    kb.press("Control+Enter")
    page.wait_for_selector("#ct-rec-table")
    page.wait_for_selector("#ct-send:focus")
    checked = page.eval_on_selector_all(
        "#ct-rec-list input[name=unit]:checked", "els => els.map(e => e.value)"
    )
    assert len(checked) == 7  # 3 fire trucks, 2 ambulances, 1 police, 1 TRC: pre-selected
    assert page.locator("#ct-send:focus").count() == 1
    kb.press("Enter")
    page.wait_for_selector("#ct-status:has-text('Unit dikirim')")
    operator_seconds = time.monotonic() - started
    assert operator_seconds < 60
    assert not errors, errors
    op = actor(db, "operator")
    calls = call_service.recent_calls(db, op, 5)
    assert len(calls) == 1 and calls[0].classification == "genuine" and calls[0].priority == "P1"
    assert calls[0].caller_number == "081234567890"
    board = [u for u in unit_service.unit_board(db, op) if u.case_id == calls[0].case_id]
    assert sorted(u.code for u in board) == sorted(checked)
    assert all(u.status == "dispatched" for u in board)
