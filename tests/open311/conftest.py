"""Fixtures of the Open311 tests: the live server with a client key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.intake.abuse import limiter
from tests.open311.open311_support import Open311


@pytest.fixture
def o311(live_server: Any, db: Database) -> Iterator[Open311]:
    """An HTTP client of the live server and a fresh API key named 'fms-test'."""
    limiter().reset()  # the per-phone limit is process-wide; each test starts with a clean count
    key = create_api_key(db, "fms-test")
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        yield Open311(http=http, key=key, db=db)
