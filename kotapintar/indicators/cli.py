"""`kotapintar indicators import FILE.csv`: load figures the city already has (code,period,value)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

# The database stack is imported inside the command: `kotapintar --help` stays quick.

app = typer.Typer(help="Smart-city indicators (issue 15).", no_args_is_help=True)


@app.command("import")
def import_values(
    file: Annotated[Path, typer.Argument(help="CSV with columns code, period (YYYY-MM), value")],
) -> None:
    """Store every line's value, or nothing when any line is wrong (the error names the line)."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings
    from kotapintar.indicators.service import import_csv

    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(2) from None
    db = open_database(get_settings())
    try:
        stored = import_csv(db, system_actor("indicators-import"), text, file.name)
    except DomainError as exc:
        typer.echo(f"{file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{stored} nilai indikator disimpan dari {file.name}.")
