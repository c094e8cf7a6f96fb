"""Backups of the whole database to one file, and restores from it (issue 19).

PostgreSQL: `pg_dump --format=custom` and `pg_restore --clean --if-exists --single-transaction` (the
client tools of the server's major version must be installed). SQLite: the online backup API, which copies
a consistent snapshot while the application keeps writing. A restore replaces everything in the target
database; the event log's hash chains come back byte for byte, so `kotapintar audit verify` passes after it.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy.engine import make_url

from kotapintar.core.errors import DomainError


class BackupError(DomainError):
    """A backup or restore could not be done; the message says why and what to do."""

    code = "backup_failed"
    http_status = 500


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up; use a database file")
    return Path(database)


def _libpq(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection string for pg_dump/pg_restore."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} not found: install the PostgreSQL client tools (e.g. apt install postgresql-client)"
        )
    return found


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=24 * 3600, check=False)
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-1500:]}")


def backup(url: str, file: Path) -> None:
    """Write a consistent copy of the database at `url` to `file`."""
    file.parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        source = sqlite3.connect(_sqlite_path(url))
        target = sqlite3.connect(file)
        try:
            with target:
                source.backup(target)
        finally:
            target.close()
            source.close()
        return
    _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(file), "--dbname", _libpq(url)])


def restore(url: str, file: Path) -> None:
    """Replace the content of the database at `url` with the backup in `file`."""
    if not file.is_file():
        raise BackupError(f"{file}: no such backup file")
    if url.startswith("sqlite"):
        source = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        try:
            if source.execute("PRAGMA quick_check").fetchone() != ("ok",):
                raise BackupError(f"{file} is not a sound SQLite database")
            target = sqlite3.connect(_sqlite_path(url))
            try:
                with target:
                    source.backup(target)
            finally:
                target.close()
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{file} is not a SQLite backup: {exc}") from exc
        finally:
            source.close()
        return
    _run(
        [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--dbname",
            _libpq(url),
            str(file),
        ]
    )
