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
    db = database_for(settings)
    if migrate:
        # Alembic (~0.2 s) is loaded only to migrate; `audit verify` and `worker` open without it.
        from kotapintar.core.db.migrate import upgrade

        upgrade(db.engine)
    return db


def database_for(settings: Settings) -> Database:
    """The settings' database with its read replica when `read_database_url` is set (issue 19)."""
    return Database(
        settings.database_url,
        settings.read_database_url,
        replica_max_lag_s=settings.read_replica_max_lag_s,
        replica_check_s=settings.read_replica_check_s,
    )
