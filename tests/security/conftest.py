"""Fixtures of the security tests: the application's client with fresh intake rate limits."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.abuse import limiter


@pytest.fixture
def client(db: Database, settings: Settings) -> Iterator[TestClient]:
    """The application on the test database; each test starts with fresh intake rate limits."""
    limiter().reset()
    with TestClient(create_app(settings, db=db)) as c:
        yield c
