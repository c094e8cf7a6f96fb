"""Locating reports from their words: fuzzy gazetteer matches and intake without coordinates."""

from __future__ import annotations

import pytest

from kotapintar.catalog.locating import region_index
from kotapintar.catalog.regions import import_regions_file
from kotapintar.core.access.actors import channel_actor, system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.assess import assess_report
from kotapintar.intake.submit import submit_report
from kotapintar.triage.classify.dataset import data_dir
from kotapintar.triage.context import forget_triage_context
from kotapintar.triage.corrections import triage_queue
from kotapintar.triage.gazetteer import Gazetteer, GazetteerEntry, normalise_place_text
from kotapintar.triage.places import import_places_file
from tests.conftest import shared_data
from tests.helpers import actor, report

ENTRIES = [
    GazetteerEntry("Selat", "kecamatan", "kecamatan", 114.372, -3.003, "62.03.01"),
    GazetteerEntry("Kapuas Hilir", "kecamatan", "kecamatan", 114.452, -2.985, "62.03.02"),
    GazetteerEntry("Selat Hulu", "desa", "desa", 114.37, -2.99, "62.03.01.1001"),
    GazetteerEntry("Pantai", "desa", "desa", 114.1, -2.5, "62.03.05.2001"),
    GazetteerEntry("Pasar Kapuas", "pasar", "point", 114.3855, -3.0012, "62.03.01", aliases=("pasar",)),
    GazetteerEntry("Jalan Pemuda", "jalan", "point", 114.379, -3.0045, "62.03.01"),
    GazetteerEntry("SD Negeri 2 Selat", "sekolah", "point", 114.3745, -3.0052, "62.03.01"),
]


@pytest.fixture(scope="module")
def gazetteer() -> Gazetteer:
    return Gazetteer(ENTRIES)


def test_abbreviations_are_expanded() -> None:
    assert (
        normalise_place_text("Ds. Selat-Hulu, Kec. KAPUAS hilir") == "desa selat hulu kecamatan kapuas hilir"
    )
    assert normalise_place_text("dpn SDN2 selat") == "depan sd negeri 2 selat"


@pytest.mark.parametrize(
    ("text", "name", "precision"),
    [
        ("banjir di ds. selat hulu sdh selutut", "Selat Hulu", "desa"),
        ("jalan rusak parah kec kapuas hilir", "Kapuas Hilir", "kecamatan"),
        ("ada kebakaran dpn pasar!!", "Pasar Kapuas", "point"),
        ("lubang besar di jln pemuda", "Jalan Pemuda", "point"),
        ("atap kelas bocor di sdn 2 selat", "SD Negeri 2 Selat", "point"),
        ("banjir di desa slat hulu", "Selat Hulu", "desa"),  # typo
        ("pohon tumbang di kecamatan kapuas hilr", "Kapuas Hilir", "kecamatan"),  # typo
        ("banjir di selat hulu dan kec selat", "Selat Hulu", "desa"),  # the more precise wins
    ],
)
def test_fuzzy_matches(gazetteer: Gazetteer, text: str, name: str, precision: str) -> None:
    match = gazetteer.match(text)
    assert (match.name, match.precision) == (name, precision)
    assert match.lon is not None and match.lat is not None


def test_everyday_words_are_not_places(gazetteer: Gazetteer) -> None:
    assert not gazetteer.match("rumah dekat pantai kebanjiran").known  # `Pantai` needs `desa`
    assert gazetteer.match("banjir di desa pantai").name == "Pantai"
    assert not gazetteer.match("tolong ada kebakaran!!").known
    assert gazetteer.match("").precision == "unknown"


def _with_places(db: Database) -> None:
    import_places_file(db, system_actor("tests"), data_dir() / "places.yaml")


def test_report_without_point_is_placed_from_its_text(db: Database, settings: Settings) -> None:
    _with_places(db)
    result = assess_report(
        db, report(description="ada kebakaran dpn pasar kapuas, api besar", lon=None, lat=None), settings
    )
    assert result.location is not None and result.location.precision == "point"
    assert result.location.kecamatan_code == "62.03.01"
    assert result.lon is not None and abs(result.lon - 114.3855) < 1e-6
    kec = assess_report(
        db, report(description="jalan rusak di kec kapuas hilir", lon=None, lat=None), settings
    )
    assert kec.location is not None
    assert (kec.location.precision, kec.location.kecamatan_code) == ("kecamatan", "62.03.02")
    office = assess_report(
        db, report(description="pohon tumbang depan kantor polres", lon=None, lat=None), settings
    )
    assert office.location is not None and office.location.precision == "point"  # an agency's office


def test_unknown_place_goes_to_the_triage_queue(db: Database, settings: Settings) -> None:
    _with_places(db)
    result = submit_report(
        db,
        channel_actor("web"),
        report(description="jalan berlubang besar, bahaya buat motor", lon=None, lat=None),
        settings=settings,
    )
    queue = triage_queue(db, actor(db, "operator"))
    item = next(i for i in queue if i.case_id == result.case_id)
    assert "location_unknown" in item.reasons and item.precision == "unknown"


def test_real_desa_names_from_shared_data(db: Database, settings: Settings) -> None:
    path = shared_data("wilayah", "kapuas_desa_62.03.geojson")
    import_regions_file(db, system_actor("tests"), path)
    forget_triage_context(db)
    result = assess_report(
        db, report(description="banjir di ds. selat hulu sdh masuk rumah", lon=None, lat=None), settings
    )
    assert result.location is not None and result.location.precision == "desa"
    assert result.location.kecamatan_code == "62.03.01"
    shape = region_index(db).by_code[result.location.region_code or ""]
    assert shape.name == "Selat Hulu"
