"""The public case list (/kasus) over plain HTTP, as a browser without JavaScript uses it: filters narrow the
list to exact counts, words find cases by title and description, pages end where they should, the feed and
the map follow the same filter, and the public case page never shows an internal note."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.cases import service as case_service
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake import submit as submit_module
from kotapintar.intake.submit import submit_report
from tests.helpers import actor, report, spot

TOTAL = re.compile(r'data-total="(\d+)"')
ITEM = re.compile(r'<li class="portal-case" data-ticket="([^"]+)"')
ATOM = "{http://www.w3.org/2005/Atom}"
SELAT = "62.03.01"
BASARANG = "62.03.08"
BASARANG_POINT = {"lon": 114.2744, "lat": -2.9252}


def _at(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    """Make intake's clock read `moment` (the report is received then; its events carry that time)."""
    monkeypatch.setattr(submit_module, "utcnow", lambda: moment)


def _new(db: Database, **overrides: Any) -> tuple[int, str]:
    result = submit_report(db, channel_actor("web"), report(**overrides))
    assert result.merged_into is None, "test cases must be separate incidents"
    return result.case_id, result.ticket


def _count(client: TestClient, query: str) -> int:
    page = client.get(f"/kasus?{query}")
    found = TOTAL.search(page.text)
    assert found, page.text[:500]
    return int(found.group(1))


@pytest.fixture
def city(db: Database, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """22 pothole reports in Selat (3 of them in November), 2 floods in Basarang, one crime report whose
    words are not public, and one rahasia report; three of the potholes move on in their lifecycle."""
    made: dict[str, Any] = {"potholes": [], "floods": []}
    for n in range(22):
        when = (
            datetime(2026, 11, 10 + n % 3, 3, 0, tzinfo=UTC)
            if n < 3
            else datetime(2026, 12, 2, 3, n, tzinfo=UTC)
        )
        _at(monkeypatch, when)
        words = "Jalan berlubang dalam" if n % 2 == 0 else "Aspal retak memanjang"
        made["potholes"].append(_new(db, description=f"{words} di gang {n}, dekat pasar ikan.", **spot(n)))
    _at(monkeypatch, datetime(2026, 12, 3, 3, 0, tzinfo=UTC))
    for n in range(2):
        point = {"lon": BASARANG_POINT["lon"] + 0.01 * n, "lat": BASARANG_POINT["lat"]}
        made["floods"].append(
            _new(db, service_code="banjir", description=f"Banjir setinggi lutut, rumah {n}.", **point)
        )
    made["crime"] = _new(
        db, service_code="kriminalitas", description="Pencurian motor di jalan berlubang.", **spot(23)
    )
    made["secret"] = _new(
        db, description="Jalan berlubang rahasia di depan kantor.", confidential=True, **spot(22)
    )
    operator = actor(db, "operator")
    for case_id, _ in made["potholes"][:3]:
        case_service.verify_case(db, operator, case_id)
    return made


def test_filters_search_and_pages_give_exact_counts(
    db: Database, settings: Settings, city: dict[str, Any], backend: str
) -> None:
    client = TestClient(create_app(settings, db=db))
    # the migrations built the real full-text index of each database (not the LIKE fallback)
    assert ("SQLite FTS5" if backend == "sqlite" else "(PostgreSQL)") in client.get("/kasus").text
    assert _count(client, "") == 25  # 22 + 2 + crime; never the rahasia one
    assert _count(client, "layanan=jalan_rusak") == 22
    assert _count(client, "layanan=banjir") == 2
    assert _count(client, f"kecamatan={BASARANG}") == 2
    assert _count(client, f"kecamatan={SELAT}&layanan=banjir") == 0
    assert _count(client, "status=verified") == 3
    assert _count(client, "status=terbuka") == 25
    assert _count(client, "status=closed") == 0
    assert _count(client, "dari=2026-11-01&sampai=2026-11-30") == 3
    assert _count(client, "dari=2026-12-03") == 3  # the floods and the crime report
    assert _count(client, "sampai=2026-11-10") == 1  # the 10th counts whole days in WIB
    # words in the description (11 "berlubang"), in the title ("Selat" names the kecamatan), prefixes
    assert _count(client, "q=berlubang") == 11
    assert _count(client, "q=BERLUBANG+pasar") == 11
    assert _count(client, "q=aspal+retak") == 11
    assert _count(client, "q=berlub") == 11
    assert _count(client, "q=banjir+lutut") == 2
    assert _count(client, "q=selat") == 22
    assert _count(client, "q=pencurian") == 0  # a sensitive report's words are not public, nor searched
    assert _count(client, "q=rahasia") == 0
    assert _count(client, f"q={city['floods'][1][1]}") == 1  # a ticket number finds its case
    assert _count(client, 'q="*+OR+NEAR(a+b)+%25_') == 0  # query syntax is not passed through
    assert _count(client, "q=berlubang&layanan=jalan_rusak&status=verified") == 2  # cases 0 and 2 of 0..2

    first = client.get("/kasus")
    assert len(ITEM.findall(first.text)) == 20 and "Halaman 1 dari 2" in first.text
    assert "Menampilkan 1–20 dari 25 laporan" in first.text
    newest = city["floods"][1][1] if city["crime"][1] < city["floods"][1][1] else city["crime"][1]
    assert ITEM.findall(first.text)[0] == newest  # newest first
    second = client.get("/kasus?halaman=2")
    assert len(ITEM.findall(second.text)) == 5 and "Menampilkan 21–25 dari 25 laporan" in second.text
    assert 'rel="next"' not in second.text and 'href="/kasus?halaman=1"' not in second.text
    assert set(ITEM.findall(first.text)).isdisjoint(ITEM.findall(second.text))
    beyond = client.get("/kasus?halaman=3&layanan=banjir")
    assert beyond.status_code == 200 and ITEM.findall(beyond.text) == []
    assert 'href="/kasus?layanan=banjir"' in beyond.text  # the way back to the last page that has items
    exactly = client.get("/kasus?layanan=jalan_rusak&halaman=2")
    assert len(ITEM.findall(exactly.text)) == 2


def test_bad_filters_say_what_to_fix(db: Database, settings: Settings, city: dict[str, Any]) -> None:
    client = TestClient(create_app(settings, db=db))
    bad = client.get("/kasus?halaman=abc&dari=kemarin&layanan=ufo&status=selesai-banget")
    assert bad.status_code == 400
    for message in (
        "Nomor halaman tidak sah",
        "Tanggal tidak terbaca",
        "Layanan ini tidak dikenal",
        "Status ini",
    ):
        assert message in bad.text
    assert 'id="q-dari-error"' in bad.text and 'aria-invalid="true"' in bad.text
    assert TOTAL.search(bad.text).group(1) == "25"  # type: ignore[union-attr]  # the other filters still list
    order = client.get("/kasus?dari=2026-12-05&sampai=2026-12-01")
    assert order.status_code == 400 and "Tanggal akhir lebih awal" in order.text


def test_feed_and_map_follow_the_filter(db: Database, settings: Settings, city: dict[str, Any]) -> None:
    client = TestClient(create_app(settings, db=db))
    feed = client.get("/kasus.atom?layanan=banjir")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    root = ET.fromstring(feed.content)
    entries = root.findall(f"{ATOM}entry")
    assert {e.findtext(f"{ATOM}id", "").rsplit("/", 1)[1] for e in entries} == {t for _, t in city["floods"]}
    # The summary names the most precise place known: the desa when the city has its desa (the real Kapuas
    # boundaries in ../shared/data), else the kecamatan (the shipped approximate outlines).
    places = ("Basarang", "Batu Nindan", "Tarung Manuah")
    assert all(any(p in (e.findtext(f"{ATOM}summary") or "") for p in places) for e in entries)
    assert len(ET.fromstring(client.get("/kasus.atom").content).findall(f"{ATOM}entry")) == 25
    page = client.get("/kasus?layanan=banjir").text
    assert (
        'href="/kasus.atom?layanan=banjir"' in page
        and 'data-cases-url="/kasus.geojson?layanan=banjir"' in page
    )
    shapes = client.get("/kasus.geojson?layanan=banjir").json()["features"]
    assert {f["properties"]["ticket"] for f in shapes} == {t for _, t in city["floods"]}
    assert all(f["properties"]["url"].startswith("/kasus/KPS-") for f in shapes)
    words = client.get("/kasus.geojson?q=berlubang").json()["features"]
    assert len(words) == 11
    everything = client.get("/kasus.geojson").text
    assert city["secret"][1] not in everything and "Pencurian" not in everything


def test_public_case_page_is_a_whitelist(db: Database, settings: Settings, city: dict[str, Any]) -> None:
    client = TestClient(create_app(settings, db=db))
    case_id, ticket = city["potholes"][5]
    operator = actor(db, "operator")
    case_service.add_note(db, operator, case_id, "CATATAN-INTERNAL: pelapor kerabat pak camat, hati-hati.")
    case_service.verify_case(db, operator, case_id, note="VERIFIKASI-INTERNAL cek dulu ke lapangan")
    case_service.add_note(db, operator, case_id, "Terima kasih, tim segera memeriksa.", visibility="public")
    case_service.assign_case(db, operator, case_id, "dlh", due_hours=24)
    case_service.resolve_case(db, operator, case_id, "Lubang sudah ditambal aspal dingin.")
    page = client.get(f"/kasus/{ticket}")
    assert page.status_code == 200
    text = page.text
    assert "CATATAN-INTERNAL" not in text and "VERIFIKASI-INTERNAL" not in text and "pak camat" not in text
    assert "Budi" not in text and "81234567890" not in text and "budi@example.org" not in text
    assert "Lubang sudah ditambal aspal dingin." in text  # the agency's public answer
    assert "Terima kasih, tim segera memeriksa." in text  # its public reply on the timeline
    assert "Laporan diterima" in text and "Selesai ditangani" in text
    assert f"/kasus/{ticket}" in text and 'rel="canonical"' in text
    assert "gang 5" in text  # the report's own words are public
    for query in ("q=camat", "q=CATATAN", "q=hati-hati"):
        assert _count(client, query) == 0  # notes are not searchable either
    secret = client.get(f"/kasus/{city['secret'][1]}")
    assert secret.status_code == 404 and "rahasia" not in secret.text.split("<main", 1)[-1].lower().replace(
        "laporan rahasia tidak ditampilkan", ""
    )
    crime = client.get(f"/kasus/{city['crime'][1]}")
    assert crime.status_code == 200 and "Pencurian" not in crime.text
    assert client.get("/kasus/KPS-2026-999999").status_code == 404
    assert client.get("/kasus/%3Cscript%3E").status_code == 404


@pytest.mark.parametrize("backend", ["sqlite"])  # placing in desa is the catalogue's; one database suffices
def test_desa_filter_with_the_real_kapuas_desa(db: Database, settings: Settings) -> None:
    """With the 231 real desa loaded, reports are placed in their desa; the desa box (grouped by kecamatan)
    narrows the list to exactly the reports in that desa, and the case page names it."""
    import json

    from shapely.geometry import shape

    from kotapintar.catalog.regions import import_regions_file
    from kotapintar.core.access.actors import system_actor
    from tests.conftest import shared_data

    path = shared_data("wilayah", "kapuas_desa_62.03.geojson")
    import_regions_file(db, system_actor("test"), shared_data("wilayah", "kalteng_kecamatan_62.geojson"))
    import_regions_file(db, system_actor("test"), path)
    features = json.loads(path.read_text())["features"]
    first, second = features[0], features[40]
    inside = [shape(f["geometry"]).representative_point() for f in (first, second)]
    tickets = [
        _new(db, lon=inside[0].x, lat=inside[0].y)[1],
        _new(
            db,
            service_code="lampu_jalan",
            description="Lampu jalan mati sejak seminggu.",
            lon=inside[0].x,
            lat=inside[0].y,
        )[1],
        _new(db, lon=inside[1].x, lat=inside[1].y)[1],
    ]
    client = TestClient(create_app(settings, db=db))
    code, name = first["properties"]["kode"], first["properties"]["nama"]
    assert _count(client, f"desa={code}") == 2
    assert _count(client, f"desa={second['properties']['kode']}") == 1
    assert _count(client, f"desa={code}&layanan=lampu_jalan") == 1
    page = client.get("/kasus").text
    assert f'<option value="{code}">{name}</option>' in page and "<optgroup label=" in page
    assert name in client.get(f"/kasus/{tickets[0]}").text
    unknown = client.get("/kasus?desa=62.03.99.9999")
    assert unknown.status_code == 400 and "Wilayah ini tidak dikenal" in unknown.text
    assert _count(client, "desa=62.03.99.9999") == 3  # the unknown desa is named, the list is not narrowed
