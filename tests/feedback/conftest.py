"""Fixtures of the answer-loop tests: settings with the channel secrets and an absolute public address."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.abuse import limiter
from tests.intake.intake_helpers import SMS_SECRET, TG_SECRET, WA_SECRET, WA_VERIFY

PUBLIC = "https://lapor.example.go.id"


@pytest.fixture
def settings(db: Database, tmp_path: Path) -> Settings:
    """Test settings: channel secrets, loose limits, no quiet hours, the public address links are built on."""
    return Settings(
        environment="test",
        database_url=db.url,
        media_dir=tmp_path / "media",
        demo_report_interval_s=0,
        stream_poll_s=0.05,
        sms_webhook_secret=SMS_SECRET,
        whatsapp_app_secret=WA_SECRET,
        whatsapp_verify_token=WA_VERIFY,
        telegram_secret_token=TG_SECRET,
        rate_limit_per_ip="1000/minute",
        rate_limit_per_phone="1000/minute",
        public_base_url=PUBLIC,
        quiet_hours="",
    )


@pytest.fixture(autouse=True)
def fresh_limits() -> Iterator[None]:
    """Every test starts with empty rate-limit counters."""
    limiter().reset()
    yield
    limiter().reset()
