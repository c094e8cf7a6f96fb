"""A database with nothing in it but the schema: a city is set up from its own files (issue 21)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.core.db.database import Database
from kotapintar.core.settings import get_settings
from tests.conftest import skip_or_fail


@pytest.fixture
def empty_url(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database URL (no schema yet), set as KOTAPINTAR_DATABASE_URL with region 62.71."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'city.db'}"
        admin: Database | None = None
        name = ""
    else:
        server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
        if not server:
            skip_or_fail("KOTAPINTAR_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
        assert server is not None
        name = f"kp_city_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        admin = Database(server)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server).set(database=name).render_as_string(hide_password=False)
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", url)
    monkeypatch.setenv("KOTAPINTAR_REGION_CODE", "62.71")
    monkeypatch.setenv("KOTAPINTAR_ENVIRONMENT", "test")
    monkeypatch.setenv("KOTAPINTAR_MEDIA_DIR", str(tmp_path / "media"))
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    if admin is not None:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
