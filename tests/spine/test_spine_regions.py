"""Importing real administrative boundaries and placing points in them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shapely.geometry import shape
from typer.testing import CliRunner

from kotapintar.app.cli import app
from kotapintar.catalog.locating import region_index
from kotapintar.catalog.regions import import_regions, import_regions_file
from kotapintar.catalog.repository import RegionRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import get_settings
from tests.conftest import shared_data


def test_real_kapuas_boundaries_import_and_place_points(db: Database) -> None:
    kec = import_regions_file(
        db, system_actor("test"), shared_data("wilayah", "kalteng_kecamatan_62.geojson")
    )
    desa = import_regions_file(db, system_actor("test"), shared_data("wilayah", "kapuas_desa_62.03.geojson"))
    assert kec.skipped == [] and desa.skipped == []
    assert desa.levels == {"desa": 231}
    with db.reading() as uow:
        assert len(uow.repo(RegionRepository).all(level="kecamatan", parent_prefix="62.03")) == 17
        assert len(uow.repo(RegionRepository).all(level="desa", parent_prefix="62.03")) == 231
        some = uow.repo(RegionRepository).get("62.03.01.1007")
        assert some is not None and some.parent_code == "62.03.01"
    index = region_index(db)
    features = json.loads(shared_data("wilayah", "kapuas_desa_62.03.geojson").read_text())["features"]
    # The data's own label points sometimes fall in a neighbouring desa, so probe a point of each polygon.
    for feature in features[:60]:
        props = feature["properties"]
        inside = shape(feature["geometry"]).representative_point()
        found = index.locate(inside.x, inside.y)
        assert found.region_code == props["kode"], props["nama"]
        assert found.kecamatan_code == props["kode"].rsplit(".", 1)[0]
        assert found.precision == "desa"


def test_point_on_a_shared_border_gets_one_stable_answer(db: Database) -> None:
    import_regions_file(db, system_actor("test"), shared_data("wilayah", "kalteng_kecamatan_62.geojson"))
    index = region_index(db)
    a, b = index.by_code["62.03.01"].geometry, index.by_code["62.03.02"].geometry
    shared = a.intersection(b)
    if shared.is_empty:
        pytest.skip("these two kecamatan do not touch in this data")
    point = shared.representative_point()
    first = index.locate(point.x, point.y)
    assert first.kecamatan_code in ("62.03.01", "62.03.02")
    assert index.locate(point.x, point.y) == first


def test_bad_features_are_skipped_with_reasons(db: Database) -> None:
    square = {
        "type": "Polygon",
        "coordinates": [[[114, -3], [114.1, -3], [114.1, -2.9], [114, -2.9], [114, -3]]],
    }
    data = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": {"kode": "62.03.99", "nama": "Uji"}, "geometry": square},
            {"type": "Feature", "properties": {"nama": "Tanpa kode"}, "geometry": square},
            {"type": "Feature", "properties": {"kode": "62-03", "nama": "Salah format"}, "geometry": square},
            {"type": "Feature", "properties": {"kode": "62.03.99", "nama": "Ganda"}, "geometry": square},
            {
                "type": "Feature",
                "properties": {"kode": "62.03.98", "nama": "Titik"},
                "geometry": {"type": "Point", "coordinates": [114, -3]},
            },
        ],
    }
    result = import_regions(db, system_actor("test"), data)
    assert result.created == 1
    reasons = dict(result.skipped)
    assert (
        "no 'kode'" in reasons[1]
        and "Kemendagri" in reasons[2]
        and "twice" in reasons[3]
        and "Point" in reasons[4]
    )


def test_cli_reports_loaded_and_skipped(
    db: Database, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", db.url)
    get_settings.cache_clear()
    try:
        out = CliRunner().invoke(
            app, ["import", "regions", str(shared_data("wilayah", "kapuas_desa_62.03.geojson"))]
        )
        assert out.exit_code == 0, out.output
        assert "231" in out.output and "skipped 0" in out.output
        broken = tmp_path / "broken.geojson"
        broken.write_text('{"type": "FeatureCollection",\n "features": [}')
        bad = CliRunner().invoke(app, ["import", "regions", str(broken)])
        assert bad.exit_code == 2 and "broken.geojson:2" in bad.output
    finally:
        get_settings.cache_clear()
