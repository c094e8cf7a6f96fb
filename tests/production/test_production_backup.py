"""`kotapintar backup FILE` / `restore FILE` round trip (issue 19), through the real CLI, on
SQLite and PostgreSQL: the cases come back, later changes are gone, and `audit verify` is clean."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner, Result

from kotapintar.app import cli
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings, get_settings
from kotapintar.intake.submit import submit_report
from tests.helpers import report, spot


def _cli(db: Database, tmp: Path, *args: str) -> Result:
    """The real CLI, in this process (a subprocess would spend seconds importing): settings from `env`."""
    env = {"KOTAPINTAR_DATABASE_URL": db.url, "KOTAPINTAR_ENVIRONMENT": "test"}
    env["KOTAPINTAR_MEDIA_DIR"] = str(tmp / "media")
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli.app, list(args), env=env)
    finally:
        get_settings.cache_clear()


def _tickets(db: Database) -> list[str]:
    with db.reading() as uow:
        return list(uow.session.scalars(text("SELECT ticket FROM cases ORDER BY id")))


def test_backup_restore_round_trip_keeps_the_log_verifiable(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    web = channel_actor("web")
    for n in range(3):
        submit_report(
            db, web, report(description=f"Jalan berlubang besar nomor {n}", **spot(n)), settings=settings
        )
    before = _tickets(db)
    file = tmp_path / "kotapintar.backup"
    done = _cli(db, tmp_path, "backup", str(file))
    assert done.exit_code == 0, done.output
    assert file.stat().st_size > 0 and "backup written" in done.stdout
    submit_report(
        db,
        web,
        report(service_code="lampu_jalan", description="Lampu jalan mati di pasar", **spot(9)),
        settings=settings,
    )
    assert len(_tickets(db)) == 4
    db.dispose()  # the restore replaces the database under the application: reconnect after it
    done = _cli(db, tmp_path, "restore", "--yes", str(file))
    assert done.exit_code == 0, done.output
    assert _tickets(db) == before
    verify = _cli(db, tmp_path, "audit", "verify")
    assert verify.exit_code == 0, verify.output


def test_restore_of_a_missing_or_foreign_file_names_the_problem(db: Database, tmp_path: Path) -> None:
    missing = _cli(db, tmp_path, "restore", "--yes", str(tmp_path / "nope.backup"))
    assert missing.exit_code == 2 and "no such backup file" in missing.output
    junk = tmp_path / "junk.backup"
    junk.write_text("not a backup")
    refused = _cli(db, tmp_path, "restore", "--yes", str(junk))
    assert refused.exit_code == 2 and "error:" in refused.output
    assert _tickets(db) == []
