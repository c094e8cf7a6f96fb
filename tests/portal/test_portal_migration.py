"""Migration 0011 both ways on SQLite: the search index is dropped and rebuilt from the cases already there
(backfill), and the location columns come and go with it."""

from __future__ import annotations

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from kotapintar.app.web import create_app
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import alembic_config, upgrade
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from tests.helpers import report

BEFORE = "0010_security_user_sessions"


@pytest.mark.parametrize(
    "backend", ["sqlite"]
)  # PostgreSQL's index is one statement, covered by every PG test
def test_search_index_is_rebuilt_for_cases_made_before_it(db: Database, settings: Settings) -> None:
    submit_report(db, channel_actor("web"), report(description="Gorong-gorong tersumbat sampah plastik."))
    db.dispose()
    with db.engine.begin() as conn:
        cfg = alembic_config(db.url)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, BEFORE)
    tables = inspect(db.engine)
    assert "cases_fts" not in tables.get_table_names()
    assert "location_source" not in {c["name"] for c in tables.get_columns("reports")}
    upgrade(db.engine)
    page = TestClient(create_app(settings, db=db)).get("/kasus?q=gorong+tersumbat")
    assert 'data-total="1"' in page.text and "SQLite FTS5" in page.text
