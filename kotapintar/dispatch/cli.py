"""`kotapintar dispatch ...`: travel-time table and unit recommendation from the command line."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from kotapintar.core.errors import DomainError

if TYPE_CHECKING:
    from kotapintar.dispatch.engine import UnitPosition

# kotapintar.dispatch (networkx, scikit-learn, scipy) is imported inside the functions that use it, so
# `kotapintar --help` does not load the routing stack (see tests/spine/test_cli_startup.py).

app = typer.Typer(help="Dispatch darurat: waktu tempuh dan rekomendasi unit. / Emergency dispatch tools.")


class CsvError(ValueError):
    """A CSV row that cannot be read; the message names the line."""


def parse_point(text: str) -> tuple[float, float]:
    """'LON,LAT' → (lon, lat), validated."""
    parts = text.replace(" ", "").split(",")
    try:
        lon, lat = (float(p) for p in parts)
    except ValueError as exc:
        raise typer.BadParameter(f"harus LON,LAT (contoh 116.84,-1.265), dapat {text!r}") from exc
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise typer.BadParameter(f"koordinat di luar jangkauan: {text!r}")
    return lon, lat


def _float(row: dict[str, str | None], col: str, line: int, lo: float, hi: float) -> float:
    raw = (row.get(col) or "").strip()
    try:
        value = float(raw)
    except ValueError as exc:
        raise CsvError(f"baris {line}: kolom {col} {raw!r} bukan angka") from exc
    if not (math.isfinite(value) and lo <= value <= hi):
        raise CsvError(f"baris {line}: kolom {col} {raw!r} di luar jangkauan {lo}..{hi}")
    return value


def read_units_csv(path: Path, *, require_kind: bool = False) -> list[UnitPosition]:
    """Units from a CSV with columns id,lon,lat (and kind, agency, status, mutual_aid when present)."""
    from kotapintar.dispatch.engine import UnitPosition

    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise CsvError(f"berkas unit {path} tidak dapat dibuka: {exc.strerror}") from exc
    with fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in reader.fieldnames or []]
        reader.fieldnames = header
        needed = ["id", "lon", "lat"] + (["kind"] if require_kind else [])
        missing = [c for c in needed if c not in header]
        if missing:
            raise CsvError(f"baris 1: header harus memuat {','.join(needed)} (kurang: {','.join(missing)})")
        units: list[UnitPosition] = []
        seen: set[str] = set()
        for row in reader:
            line = reader.line_num
            if None in row:
                raise CsvError(f"baris {line}: kolom lebih banyak dari header")
            uid = (row.get("id") or "").strip()
            if not uid:
                raise CsvError(f"baris {line}: kolom id kosong")
            if uid in seen:
                raise CsvError(f"baris {line}: id {uid!r} muncul dua kali")
            seen.add(uid)
            lon = _float(row, "lon", line, -180, 180)
            lat = _float(row, "lat", line, -90, 90)
            kind = (row.get("kind") or "").strip() or "default"
            units.append(
                UnitPosition(
                    id=uid,
                    kind=kind,
                    agency=(row.get("agency") or "").strip(),
                    lon=lon,
                    lat=lat,
                    status=(row.get("status") or "").strip() or "available",
                    mutual_aid=(row.get("mutual_aid") or "").strip().lower() in ("1", "true", "yes", "ya"),
                )
            )
    return units


def _fail(message: str) -> typer.Exit:
    typer.echo(f"Galat: {message}", err=True)
    return typer.Exit(code=2)


@app.command("eta")
def eta(
    network: Annotated[Path, typer.Option("--network", help="GraphML (OSMnx) atau .osm.pbf")],
    incident: Annotated[str, typer.Option("--incident", help="Lokasi kejadian LON,LAT")],
    units: Annotated[Path, typer.Option("--units", help="CSV unit dengan kolom id,lon,lat")],
    profile: Annotated[str, typer.Option("--profile", help="Profil kecepatan (jenis unit)")] = "default",
) -> None:
    """Print id,eta_seconds,distance_m for every unit, nearest first (unreachable last, empty eta)."""
    from kotapintar.dispatch.engine import eta_table, load_network

    point = parse_point(incident)
    try:
        unit_list = read_units_csv(units)
        net = load_network(network)
        rows = eta_table(net, point, unit_list, profile=profile)
    except CsvError as exc:
        raise _fail(f"{units}: {exc}") from exc
    except DomainError as exc:
        raise _fail(exc.message) from exc
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["id", "eta_seconds", "distance_m"])
    for r in rows:
        out.writerow(
            [
                r.id,
                "" if r.eta_s is None else f"{r.eta_s:.1f}",
                "" if r.distance_m is None else f"{r.distance_m:.1f}",
            ]
        )


@app.command("recommend")
def recommend(
    incident: Annotated[str, typer.Option("--incident", help="Lokasi kejadian LON,LAT")],
    units: Annotated[
        Path, typer.Option("--units", help="CSV unit: id,kind,agency,lon,lat,status,mutual_aid")
    ],
    service: Annotated[str, typer.Option("--service", help="Kode layanan, mis. kebakaran")],
    network: Annotated[
        Path | None, typer.Option("--network", help="GraphML atau .osm.pbf (tanpa: garis lurus)")
    ] = None,
    priority: Annotated[str | None, typer.Option("--priority", help="P1..P4")] = None,
    answer: Annotated[
        list[str] | None, typer.Option("--answer", help="Jawaban protokol nama=ya/tidak")
    ] = None,
    target_min: Annotated[
        float | None, typer.Option("--target-min", help="Target waktu tempuh (menit)")
    ] = None,
) -> None:
    """Print the recommendation for one incident as JSON (run card chosen from service and answers)."""
    from kotapintar.dispatch.engine import load_network, load_runcards, recommend_units

    point = parse_point(incident)
    answers: dict[str, bool | str] = {}
    for item in answer or []:
        name, _, value = item.partition("=")
        low = value.strip().lower()
        answers[name.strip()] = (
            True
            if low in ("ya", "yes", "true", "1")
            else False
            if low in ("tidak", "no", "false", "0")
            else value.strip()
        )
    try:
        unit_list = read_units_csv(units, require_kind=True)
        net = load_network(network) if network else None
        card = load_runcards().select(service, priority, answers)
        rec = recommend_units(
            net, point, unit_list, card, target_s=None if target_min is None else target_min * 60
        )
    except CsvError as exc:
        raise _fail(f"{units}: {exc}") from exc
    except DomainError as exc:
        raise _fail(exc.message) from exc
    typer.echo(json.dumps(rec.to_dict(), ensure_ascii=False, indent=2))


@app.command("unit-token")
def unit_token_cmd(
    code: Annotated[str, typer.Argument(help="unit code, e.g. AMB-01")],
    base_url: Annotated[
        str | None,
        typer.Option(help="where the crew opens the page (default: KOTAPINTAR_PUBLIC_BASE_URL)"),
    ] = None,
) -> None:
    """Print a unit's crew token and the link of its crew page (rotate unit_token_secret to revoke)."""
    from kotapintar.core.settings import get_settings, served_base_url
    from kotapintar.dispatch.units import unit_token

    settings = get_settings()
    base = base_url or settings.public_base_url.strip()
    if not base:
        base = served_base_url("127.0.0.1", 8000)
        typer.echo(
            "catatan: KOTAPINTAR_PUBLIC_BASE_URL kosong; tautan memakai alamat bawaan `kotapintar serve` "
            f"({base}). Isi setelan itu atau --base-url dengan alamat server yang sebenarnya.",
            err=True,
        )
    token = unit_token(settings, code)
    typer.echo(f"{code}\t{token}\t{base.rstrip('/')}/unit/{code}?token={token}")
