"""`kotapintar report monthly`: the monthly accountability report as PDF and one CSV per table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# The database stack and the report are imported inside the command: `kotapintar --help` stays quick.

app = typer.Typer(help="Accountability reports (issue 15).", no_args_is_help=True)


@app.command("monthly")
def monthly(
    month: Annotated[str, typer.Option("--month", help="local month, e.g. 2026-11")],
    agency: Annotated[str | None, typer.Option("--agency", help="one agency's code, e.g. pupr")] = None,
    out: Annotated[Path, typer.Option("--out", help="folder for the PDF and CSV files")] = Path("."),
) -> None:
    """Write laporan-<month>[-<agency>].pdf and its tables as CSV into --out."""
    from kotapintar.analytics.report import build_monthly, to_csv, to_pdf
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    db = open_database(settings)
    try:
        report = build_monthly(db, system_actor("report"), month, agency, settings=settings)
    except DomainError as exc:
        typer.echo(f"--month/--agency: {exc}", err=True)
        raise typer.Exit(2) from None
    out.mkdir(parents=True, exist_ok=True)
    stem = f"laporan-{month}" + (f"-{agency}" if agency else "")
    (out / f"{stem}.pdf").write_bytes(to_pdf(report))
    for name, text in to_csv(report).items():
        (out / f"{stem}-{name}").write_text(text, encoding="utf-8")
    typer.echo(f"{out / stem}.pdf and {len(report.tables)} CSV files written.")


analytics_app = typer.Typer(
    help="The analytics rollup behind the accountability figures.", no_args_is_help=True
)


@analytics_app.command("rebuild")
def rebuild() -> None:
    """Recompute the rollup (one row per task and per 112 incident) from the tasks, cases and event log:
    after an upgrade, a change of time zone or targets, or a script that wrote without the app's wiring."""
    from kotapintar.analytics.service import rebuild_rollup
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    db = open_database(settings)
    tasks, incidents = rebuild_rollup(db, settings=settings)
    typer.echo(f"Rollup rebuilt: {tasks} tasks, {incidents} incidents.")
