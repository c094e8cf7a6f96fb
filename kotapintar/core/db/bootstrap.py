"""Opening the configured database, migrated to the newest schema, for the CLI, server and demo."""

from __future__ import annotations

from pathlib import Path

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """The settings' database; on first use creates the SQLite file's folder and runs the migrations."""
    if settings.database_url.startswith("sqlite:///"):
        path = Path(settings.database_url.removeprefix("sqlite:///"))
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(settings.database_url)
    if migrate:
        # Alembic (~0.2 s) is loaded only to migrate; `audit verify` and `worker` open without it.
        from kotapintar.core.db.migrate import upgrade

        upgrade(db.engine)
    return db
