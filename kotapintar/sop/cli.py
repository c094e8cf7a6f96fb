"""`kotapintar sop ...`: validate SOP files, render an SOP for print, diff two SOP versions."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from kotapintar.core.errors import DomainError

if TYPE_CHECKING:
    from kotapintar.sop.spec import SopSpec
    from kotapintar.sop.versioning import VersionSource

# The SOP model (pydantic, YAML) is imported inside the commands that use it, so `kotapintar --help`
# stays quick (see tests/spine/test_cli_startup.py).

app = typer.Typer(help="SOP: periksa, cetak dan bandingkan SOP (PermenPANRB 35/2012).", no_args_is_help=True)

_version_source: VersionSource | None = None


def set_version_source(source: VersionSource) -> None:
    """Let the application plug in where published versions live (the database, for the lead's store)."""
    global _version_source
    _version_source = source


def _database_source() -> VersionSource:
    """Published versions in the configured database (plugged in on first use)."""
    global _version_source
    if _version_source is None:
        from kotapintar.core.db.bootstrap import open_database
        from kotapintar.core.settings import get_settings
        from kotapintar.sop.library import DatabaseVersionSource

        _version_source = DatabaseVersionSource(open_database(get_settings()))
    return _version_source


def _resolve(ref: str, version: str | None = None) -> SopSpec:
    from kotapintar.sop.loader import load_sop, shipped_sop_path

    path = Path(ref)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_sop(path)
    source = _database_source()
    if version is not None:
        return source.get(ref, version)
    published = source.versions(ref)
    if published:
        return source.get(ref, published[-1])
    return load_sop(shipped_sop_path(ref))


@app.command("validate")
def validate_cmd(
    paths: list[Path] = typer.Argument(None, help="Berkas atau folder SOP (bawaan: pustaka SOP)."),
) -> None:
    """Periksa berkas SOP; semua kesalahan dicetak sebagai `file:baris: step 'x': pesan`."""
    from kotapintar.sop.loader import SHIPPED_SOP_DIR, validate_file
    from kotapintar.sop.versioning import content_hash

    files: list[Path] = []
    for path in paths or [SHIPPED_SOP_DIR]:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    failed = 0
    for file in files:
        spec, errors = validate_file(file)
        for error in errors:
            typer.echo(str(error), err=True)
        if errors:
            failed += 1
        elif spec is not None:
            typer.echo(
                f"OK  {file}  ({spec.code}, {len(spec.steps)} langkah, versi {content_hash(spec)[:12]})"
            )
    if failed:
        typer.echo(f"{failed} dari {len(files)} berkas SOP bermasalah.", err=True)
        raise typer.Exit(1)


@app.command("render")
def render_cmd(
    code: str = typer.Argument(..., help="Kode layanan (SOP bawaan) atau berkas SOP."),
    format: str = typer.Option("html", "--format", "-f", help="html, svg atau pdf"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Berkas keluaran (bawaan: stdout untuk html/svg)."
    ),
    version: str | None = typer.Option(
        None, "--version", "-v", help="Versi terbit di basis data (bawaan: yang terbaru)."
    ),
) -> None:
    """Cetak SOP sebagai tabel dan bagan alir PermenPANRB 35/2012 (versi terbit terbaru dari basis data)."""
    from kotapintar.sop.render import render_html, render_pdf, render_svg

    try:
        spec = _resolve(code, version)
        if format == "pdf":
            data = render_pdf(spec)
            target = out or Path(f"{spec.code}.pdf")
            target.write_bytes(data)
            typer.echo(f"PDF ditulis ke {target}")
            return
        if format not in ("html", "svg"):
            raise typer.BadParameter("format harus html, svg atau pdf")
        text = render_html(spec) if format == "html" else render_svg(spec)
    except DomainError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"{format.upper()} ditulis ke {out}")


@app.command("diff")
def diff_cmd(
    a: str = typer.Argument(..., help="Berkas SOP / kode layanan, atau KODE bila V1 dan V2 diberikan."),
    b: str = typer.Argument(..., help="Berkas SOP / kode layanan, atau V1."),
    c: str | None = typer.Argument(None, help="V2 (bentuk `diff KODE V1 V2`)."),
    versions_dir: Path | None = typer.Option(None, "--versions-dir", help="Folder versi: <kode>/v<N>.yaml"),
) -> None:
    """Tampilkan perubahan antara dua SOP: `diff A.yaml B.yaml` atau `diff KODE V1 V2`."""
    from kotapintar.sop.versioning import DirectoryVersionSource, diff

    try:
        if c is not None:
            source = DirectoryVersionSource(versions_dir) if versions_dir else _database_source()
            old, new = source.get(a, b), source.get(a, c)
        else:
            old, new = _resolve(a), _resolve(b)
    except DomainError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    lines = diff(old, new)
    if not lines:
        typer.echo("Tidak ada perubahan.")
        return
    for line in lines:
        typer.echo(line)


@app.command("publish")
def publish_cmd(
    paths: list[Path] = typer.Argument(None, help="Berkas atau folder SOP (bawaan: pustaka SOP bawaan)."),
) -> None:
    """Terbitkan SOP ke basis data: versi baru yang tidak dapat diubah bila isinya berubah."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sop.library import publish_sop
    from kotapintar.sop.loader import SHIPPED_SOP_DIR

    files: list[Path] = []
    for path in paths or [SHIPPED_SOP_DIR]:
        files.extend(sorted(path.glob("*.yaml")) if path.is_dir() else [path])
    db = open_database(get_settings())
    failed = 0
    for file in files:
        try:
            result = publish_sop(db, system_actor("cli"), file)
        except DomainError as exc:
            typer.echo(str(exc), err=True)
            failed += 1
            continue
        state = "versi baru" if result.created else "tidak berubah"
        typer.echo(f"{result.code}: v{result.version} ({state}, {result.content_hash[:12]})")
    if failed:
        raise typer.Exit(1)
