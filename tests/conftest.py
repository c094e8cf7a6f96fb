"""Shared fixtures: real databases built by the migrations (SQLite always, PostgreSQL when configured).

PostgreSQL tests use KOTAPINTAR_TEST_POSTGRES_URL (a server URL; each test session creates its own
database on it). Locally they skip with the reason when it is unset; with KOTAPINTAR_REQUIRE_SERVICES=1
(as in .ci/run) a missing service is a failure instead, so CI never silently skips.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.models import metadata as all_tables
from kotapintar.app.reference import load_demo_city
from kotapintar.app.wiring import wire
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

# Tests call services directly, without create_app or the CLI: wire the features' hooks once.
wire()


def services_required() -> bool:
    """True in CI: a missing service fails instead of skipping."""
    return os.environ.get("KOTAPINTAR_REQUIRE_SERVICES", "") == "1"


def skip_or_fail(reason: str) -> None:
    """Skip locally, fail in CI."""
    if services_required():
        pytest.fail(f"required service missing: {reason}")
    pytest.skip(reason)


def shared_data(*parts: str) -> Path:
    """A file of ../shared/data, or skip with a clear reason when that folder is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"../shared/data absent ({path}): real reference data not available here")
    return path


def make_settings(url: str, tmp: Path) -> Settings:
    """Settings for tests: the given database, media under tmp, no demo stream."""
    return Settings(
        environment="test",
        database_url=url,
        media_dir=tmp / "media",
        demo_report_interval_s=0,
        stream_poll_s=0.05,
        # Tests submit many reports from one address and phone; tests of the limits set their own.
        rate_limit_per_ip="10000/minute",
        rate_limit_per_phone="10000/hour",
    )


# ------------------------------------------------------------------ SQLite


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file with the demo city loaded, copied for every test."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    load_demo_city(db, system_actor("tests"))
    db.dispose()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    return path


def _sqlite_db(template: Path, tmp: Path) -> Database:
    target = tmp / f"kp-{uuid.uuid4().hex[:8]}.db"
    shutil.copy(template, target)
    return Database(f"sqlite:///{target}")


# ------------------------------------------------------------------ PostgreSQL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped afterwards)."""
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if not server:
        skip_or_fail("KOTAPINTAR_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    assert server is not None
    name = f"kp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = Database(server)
    try:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # connection refused, auth …: a clear reason either way
        admin.dispose()
        skip_or_fail(f"PostgreSQL at {server} unusable: {exc}")
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    upgrade(db.engine)
    db.dispose()
    yield url
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# Reference tables the demo city fills once per session; every other table is emptied between tests.
REFERENCE_TABLES = frozenset({"regions", "agencies", "services", "units", "users"})
# The reference rows admin pages and set-up tests change (a closed service, a new agency, a demo user's new
# role or password): put back as the demo loaded them, so no test sees another's edits. Regions are only
# changed by the set-up tests, which use databases of their own.
RESTORED_TABLES = ("agencies", "services", "units", "users")
_reference_rows: dict[str, list[dict[str, Any]]] = {}


def _snapshot_reference(db: Database) -> None:
    with db.engine.connect() as conn:
        for name in RESTORED_TABLES:
            table = all_tables.tables[name]
            _reference_rows[name] = [dict(r) for r in conn.execute(table.select()).mappings()]


def _reset_postgres(db: Database, demo_users: set[str]) -> None:
    dynamic = [t.name for t in all_tables.sorted_tables if t.name not in REFERENCE_TABLES]
    with db.engine.begin() as conn:
        # DELETE beats TRUNCATE on the near-empty tables of one test (no file rewrite, no exclusive lock).
        for name in reversed(dynamic):
            conn.execute(text(f'DELETE FROM "{name}"'))
        ordered = [t for t in all_tables.sorted_tables if t.name in RESTORED_TABLES]
        for table in reversed(ordered):
            conn.execute(table.delete())
        for table in ordered:
            if _reference_rows.get(table.name):
                conn.execute(table.insert(), _reference_rows[table.name])


@pytest.fixture(scope="session")
def postgres_demo(postgres_url: str) -> set[str]:
    """Load the demo city into the session's PostgreSQL database once; returns the demo usernames."""
    db = Database(postgres_url)
    load_demo_city(db, system_actor("tests"))
    with db.reading() as uow:
        names = {u.username for u in uow.users.all()}
    _snapshot_reference(db)
    db.dispose()
    return names


# ------------------------------------------------------------------ the fixture tests use


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    """Which database the test runs on; every database test runs on both."""
    return str(request.param)


@pytest.fixture
def db(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database at the newest schema with the demo city (regions, agencies, catalogue, units, users)."""
    if backend == "sqlite":
        database = _sqlite_db(request.getfixturevalue("sqlite_template"), tmp_path)
    else:
        demo_users = request.getfixturevalue("postgres_demo")
        database = Database(request.getfixturevalue("postgres_url"))
        _reset_postgres(database, demo_users)
    yield database
    database.dispose()


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    """Settings pointing at the test database."""
    return make_settings(db.url, tmp_path)


# ------------------------------------------------------------------ a real server on a free port


class LiveServer:
    """uvicorn serving the app in a background thread, on 127.0.0.1 and a free port."""

    def __init__(self, app: object) -> None:
        import socket
        import threading

        import uvicorn

        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")  # type: ignore[arg-type]
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        import time

        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("live server did not start within 15 s")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(db: Database, settings: Settings) -> Iterator[LiveServer]:
    """The real application served over real HTTP on loopback."""
    from kotapintar.app.web import create_app

    server = LiveServer(create_app(settings, db=db))
    server.start()
    yield server
    server.stop()


# ------------------------------------------------------------------ a real browser


def launch_chromium() -> Iterator[Any]:
    """Debian's chromium, headless, through Playwright (no browser download); skipped (or failed in CI)
    when KOTAPINTAR_TEST_CHROMIUM does not name it. A generator, so fixtures of any scope can share it."""
    path = os.environ.get("KOTAPINTAR_TEST_CHROMIUM")
    if not path or not Path(path).exists():
        skip_or_fail("KOTAPINTAR_TEST_CHROMIUM not set or missing: browser tests need chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright is not installed (pip install playwright)")
    args = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=[*args, "--disable-sync"])
        yield browser
        browser.close()


@pytest.fixture
def chromium() -> Iterator[Any]:
    """A headless chromium for one test (see `launch_chromium`)."""
    yield from launch_chromium()


@pytest.fixture(autouse=True)
def _fresh_login_throttle() -> None:
    """Failed logins are counted process-wide; each test starts with none (tests of the throttle too)."""
    from kotapintar.core.access.throttle import login_throttle

    login_throttle().reset()
