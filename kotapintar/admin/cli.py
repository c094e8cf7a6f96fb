"""`kotapintar setup`, `kotapintar import roads`, `kotapintar export …`: a city from its own files.

Only Typer is imported at module level (the CLI starts fast); the work is imported inside each command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

EXPORTABLE = ("regions", "agencies", "services", "units", "users", "roads")


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def setup(
    kabupaten: Annotated[str, typer.Option(help="kode Kemendagri kabupaten/kota, mis. 62.71")],
    regions: Annotated[
        list[Path] | None,
        typer.Option(
            "--regions", exists=True, dir_okay=False, help="GeoJSON kabupaten/kecamatan/desa (repeatable)"
        ),
    ] = None,
    agencies: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="instansi (.yaml/.csv)")
    ] = None,
    services: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="layanan (.yaml/.csv); default: katalog bawaan"),
    ] = None,
    units: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="unit/armada (.yaml/.csv)")
    ] = None,
    users: Annotated[
        Path | None, typer.Option(exists=True, dir_okay=False, help="pengguna (.yaml/.csv)")
    ] = None,
    sops: Annotated[
        bool, typer.Option(help="publish the shipped SOP library for services without one")
    ] = True,
) -> None:
    """Set up the kabupaten/kota from its files: all or nothing, every problem named by file and line."""
    from kotapintar.catalog.setup import SetupFiles, report_lines, setup_city
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    if kabupaten != settings.region_code:
        _fail(
            f"--kabupaten {kabupaten} berbeda dari KOTAPINTAR_REGION_CODE={settings.region_code}; "
            f"setel `export KOTAPINTAR_REGION_CODE={kabupaten}` untuk semua proses lalu ulangi."
        )
    db = open_database(settings)
    actor = system_actor("setup")
    files = SetupFiles(kabupaten, list(regions or []), agencies, services, units, users)
    try:
        report = setup_city(db, actor, files)
    except DomainError as exc:
        _fail(str(exc))
        return
    if sops:
        from kotapintar.sop.library import publish_shipped_sops

        publish_shipped_sops(db, actor)
    for line in report_lines(report):
        typer.echo(line)


def import_roads(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Store the road network (OSMnx .graphml or .osm.pbf) in the database; dispatch routes on it."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings
    from kotapintar.dispatch.roads import import_roads as store

    db = open_database(get_settings())
    try:
        done = store(db, system_actor("cli"), file)
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(
        f"jaringan jalan {done.name} ({done.format}): {done.nodes} simpul, {done.edges} ruas tersimpan"
    )


def export(
    what: Annotated[str, typer.Argument(help="regions | agencies | services | units | users | roads")],
    file: Annotated[
        Path, typer.Argument(dir_okay=False, help=".geojson, .yaml, .csv or the roads' own format")
    ],
) -> None:
    """Write the city's data in the format `kotapintar setup` (or `import roads`) reads back."""
    from kotapintar.catalog.export import export_table
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings
    from kotapintar.dispatch.roads import export_roads

    if what not in EXPORTABLE:
        _fail(f"'{what}': pilih {', '.join(EXPORTABLE)}")
    db = open_database(get_settings(), migrate=False)
    try:
        if what == "roads":
            done = export_roads(db, file)
            typer.echo(f"{done.name} ({done.format}) ditulis ke {file}")
            return
        count = export_table(db, what, file)
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(f"{count} {what} ditulis ke {file}")


def register(app: typer.Typer, import_app: typer.Typer) -> None:
    """Add the set-up commands to the CLI root and to `kotapintar import`."""
    app.command("setup")(setup)
    app.command("export")(export)
    import_app.command("roads")(import_roads)
