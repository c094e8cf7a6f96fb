"""Fixtures of the intake tests: settings with channel secrets, a fresh rate limiter, HTTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.abuse import limiter
from tests.intake.intake_helpers import channel_settings


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    """Test settings with the channel secrets set and limits loose enough for a dialogue."""
    return channel_settings(db, tmp_path / "media", per_minute=100)


@pytest.fixture(autouse=True)
def fresh_limits() -> Iterator[None]:
    """Every test starts with empty rate-limit counters."""
    limiter().reset()
    yield
    limiter().reset()
