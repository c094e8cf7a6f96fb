"""`kotapintar dispatch eta` and `recommend` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from kotapintar.dispatch.cli import app
from kotapintar.dispatch.engine import RoadNetwork

runner = CliRunner()


def test_eta_prints_csv_nearest_first(tmp_path: Path, balikpapan: RoadNetwork) -> None:
    units = tmp_path / "units.csv"
    units.write_text("id,lon,lat\nfar,116.8100,-1.2790\nnear,116.8420,-1.2660\nmid,116.8300,-1.2700\n")
    res = runner.invoke(
        app, ["eta", "--network", balikpapan.source, "--incident", "116.8430,-1.2655", "--units", str(units)]
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()
    assert lines[0] == "id,eta_seconds,distance_m"
    rows = [line.split(",") for line in lines[1:]]
    assert rows[0][0] == "near" and sorted(r[0] for r in rows) == ["far", "mid", "near"]
    etas = [float(r[1]) for r in rows]
    assert etas == sorted(etas) and all(float(r[2]) > 0 for r in rows)


def test_bad_csv_row_names_the_line(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text("id,lon,lat\nok,114.0,-3.0\nbad,abc,-3.0\n")
    net = tmp_path / "net.graphml"
    net.write_text("<graphml/>")
    res = runner.invoke(app, ["eta", "--network", str(net), "--incident", "114,-3", "--units", str(units)])
    assert res.exit_code == 2
    assert "baris 3" in res.stderr and "lon" in res.stderr


def test_recommend_without_network_prints_json(tmp_path: Path) -> None:
    units = tmp_path / "units.csv"
    units.write_text(
        "id,kind,agency,lon,lat,status,mutual_aid\n"
        "A1,ambulance,psc119,114.01,-3.0,available,\n"
        "P1,police_patrol,polres,114.0,-3.01,available,\n"
    )
    res = runner.invoke(
        app,
        [
            "recommend",
            "--incident",
            "114,-3",
            "--units",
            str(units),
            "--service",
            "kecelakaan",
            "--answer",
            "ada_korban=ya",
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["method"] == "straight_line"
    assert [k["kind"] for k in doc["kinds"]] == ["ambulance", "police_patrol"]
