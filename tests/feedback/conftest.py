"""Fixtures of the answer-loop tests: settings with the channel secrets and an absolute public address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.abuse import limiter
from tests.intake.intake_helpers import PUBLIC_BASE_URL, channel_settings

PUBLIC = PUBLIC_BASE_URL


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    """Test settings: channel secrets, loose limits, no quiet hours, the public address links are built on."""
    return channel_settings(db, tmp_path / "media", per_minute=1000)


@pytest.fixture(autouse=True)
def fresh_limits() -> Iterator[None]:
    """Every test starts with empty rate-limit counters."""
    limiter().reset()
    yield
    limiter().reset()
