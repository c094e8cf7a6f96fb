"""Backups of the whole database to one file, and restores from it (issue 19).

PostgreSQL: `pg_dump --format=custom`, and `pg_restore --clean --if-exists` piped into one `psql
--single-transaction` (the client tools of the server's major version must be installed). SQLite: the online backup API, which copies
a consistent snapshot while the application keeps writing. A restore replaces everything in the target
database; the event log's hash chains come back byte for byte, so `kotapintar audit verify` passes after it.
"""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import tempfile
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
    _restore_postgres(url, file)


# Partitioned tables (migration 0017) go first, with all their partitions: `pg_restore --clean` would drop
# each partition's inherited key constraint on its own, which PostgreSQL refuses ("cannot drop inherited
# constraint"), and the whole restore would fail. Dropped this way, the later DROP … IF EXISTS find nothing.
_DROP_PARTITIONED = """DO $$
DECLARE t regclass;
BEGIN
  FOR t IN SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind = 'p' AND NOT c.relispartition AND n.nspname = current_schema()
  LOOP EXECUTE format('DROP TABLE %s CASCADE', t); END LOOP;
END $$;
"""


def _restore_postgres(url: str, file: Path) -> None:
    """`pg_restore --clean` as a script piped into one `psql --single-transaction`, after the partitioned
    tables are dropped in that same transaction: all of it commits, or (any error, a truncated archive)
    nothing does. The archive is checked before anything is touched."""
    # Not a pg_dump archive (or unreadable): refused here, before the database is touched.
    _run([_tool("pg_restore"), "--list", str(file)])
    load = ["--no-psqlrc", "--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1", "--file", "-"]
    with tempfile.TemporaryFile() as script_err, tempfile.TemporaryFile() as psql_err:
        script = subprocess.Popen(
            [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner", "--file", "-", str(file)],
            stdout=subprocess.PIPE,
            stderr=script_err,
        )
        psql = subprocess.Popen(
            [_tool("psql"), *load, "--dbname", _libpq(url)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=psql_err,
        )
        assert script.stdout is not None and psql.stdin is not None
        with contextlib.suppress(BrokenPipeError):  # psql stopped at an error: it rolled back, says why
            psql.stdin.write(_DROP_PARTITIONED.encode())
            shutil.copyfileobj(script.stdout, psql.stdin, 1 << 20)
        if script.wait() != 0:
            psql.kill()  # before psql reads the end of its input and commits half a restore
            psql.wait()
            script_err.seek(0)
            raise BackupError(
                f"pg_restore failed: {script_err.read().decode(errors='replace').strip()[-1500:]}"
            )
        with contextlib.suppress(BrokenPipeError):  # psql already stopped at an error
            psql.stdin.close()
        if psql.wait(timeout=24 * 3600) != 0:
            psql_err.seek(0)
            raise BackupError(f"psql failed: {psql_err.read().decode(errors='replace').strip()[-1500:]}")
