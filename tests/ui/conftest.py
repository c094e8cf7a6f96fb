"""Fixtures for browser tests that share one server and one browser across a whole module.

The function-scoped `db` and `live_server` of tests/conftest.py start a server per test (about a second
each); a module of many end-to-end flows (tests/ui/test_sop_flows.py) runs them all against one database,
one server and one chromium instead, and keeps each logged-in user's browser context for the module.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kotapintar.core.db.database import Database
from tests.conftest import LiveServer, _sqlite_db, launch_chromium, make_settings
from tests.ui.browser import login


@pytest.fixture(scope="module")
def module_db(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """One database (a copy of the migrated demo city) for the whole module."""
    database = _sqlite_db(sqlite_template, tmp_path_factory.mktemp("module-db"))
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def module_server(module_db: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The real application over real HTTP on loopback, one for the module."""
    from kotapintar.app.web import create_app

    settings = make_settings(module_db.url, tmp_path_factory.mktemp("module-media"))
    server = LiveServer(create_app(settings, db=module_db))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def module_browser() -> Iterator[Any]:
    """One headless chromium for the module."""
    yield from launch_chromium()


class Sessions:
    """One logged-in page per user, created on first use and kept for the module (logins are not free)."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.pages: dict[str, Any] = {}

    def page(self, username: str) -> Any:
        """The page of `username`, logging in the first time."""
        if username not in self.pages:
            self.pages[username] = login(self.browser, self.base, username)
        return self.pages[username]

    def close(self) -> None:
        """Close every context (before the server stops: open event streams would delay its exit)."""
        for page in self.pages.values():
            page.context.close()
        self.pages.clear()


@pytest.fixture(scope="module")
def sessions(module_browser: Any, module_server: LiveServer) -> Iterator[Sessions]:
    """Logged-in pages per user, shared by the module's tests."""
    kept = Sessions(module_browser, module_server.url)
    yield kept
    kept.close()
