"""Kota Palangka Raya (62.71) set up from nothing with the documented commands and only files (issue 21).

The path these tests follow is the one docs/setup.md and README's deployment section describe:
`kotapintar db upgrade` → `kotapintar setup --kabupaten 62.71 --regions … --agencies … --units … --users …`
→ `kotapintar import roads …` → serve. Then a citizen report inside the city is routed to its agency and
worked to closure by that agency's people; a report in Kapuas is refused; a unit added on the admin page is
recommended for an emergency without a restart. Bad files change nothing and name the line.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from kotapintar.app.cli import app as cli
from kotapintar.app.web import create_app
from kotapintar.cases.repository import CaseRepository, TaskRepository
from kotapintar.core.access.auth import actor_for
from kotapintar.core.db.database import Database
from kotapintar.core.settings import get_settings
from kotapintar.sop import tasks as sop_tasks
from kotapintar.sop.scheduler import run_due_timers
from tests.conftest import shared_data

PASSWORD = "Kahayan-Sungai-Biru-47"
# Shipped catalogue and triage routing name these agencies; a city lists its own names for them.
AGENCIES = [
    ("diskominfo", "Dinas Komunikasi dan Informatika Kota Palangka Raya", "Diskominfo", "internal", "true"),
    ("setda", "Sekretariat Daerah Kota Palangka Raya", "Setda", "internal", "false"),
    ("bpbd", "BPBD Kota Palangka Raya", "BPBD", "internal", "false"),
    ("damkar", "Dinas Pemadam Kebakaran Kota Palangka Raya", "Damkar", "internal", "false"),
    ("pupr", "Dinas PUPR Kota Palangka Raya", "PUPR", "internal", "false"),
    ("dinkes", "Dinas Kesehatan Kota Palangka Raya", "Dinkes", "internal", "false"),
    ("psc119", "PSC 119 Kota Palangka Raya", "PSC 119", "internal", "false"),
    ("dinsos", "Dinas Sosial Kota Palangka Raya", "Dinsos", "internal", "false"),
    ("disdik", "Dinas Pendidikan Kota Palangka Raya", "Disdik", "internal", "false"),
    ("disdukcapil", "Disdukcapil Kota Palangka Raya", "Disdukcapil", "internal", "false"),
    ("dishub", "Dinas Perhubungan Kota Palangka Raya", "Dishub", "internal", "false"),
    ("dlh", "Dinas Lingkungan Hidup Kota Palangka Raya", "DLH", "internal", "false"),
    ("satpolpp", "Satpol PP Kota Palangka Raya", "Satpol PP", "internal", "false"),
    ("polres", "Polresta Palangka Raya", "Polresta", "external", "false"),
    ("pln", "PLN UP3 Palangka Raya", "PLN", "external", "false"),
    ("pdam", "Perumda Air Minum Kota Palangka Raya", "PDAM", "external", "false"),
    ("basarnas", "Kantor SAR Palangka Raya", "Basarnas", "external", "false"),
]
PAHANDUT = (113.92, -2.21)  # Kecamatan Pahandut, the city centre by the Kahayan
KUALA_KAPUAS = (114.39, -3.0)  # Kabupaten Kapuas: another kabupaten


def write_city_files(folder: Path) -> dict[str, Path]:
    """The small files a city writes itself: agencies (CSV), units (YAML), users (CSV), roads (GraphML)."""
    agencies = folder / "instansi.csv"
    agencies.write_text(
        "code,name,short,kind,command_center,jurisdiction\n"
        + "".join(f'{c},"{n}",{s},{k},{cc},62.71\n' for c, n, s, k, cc in AGENCIES),
        encoding="utf-8",
    )
    units = folder / "unit.yaml"
    units.write_text(
        "units:\n"
        "  - code: PKY-DMK-01\n"
        "    name: Mobil Pemadam 01 Pahandut\n"
        "    agency: damkar\n"
        "    kind: fire_truck\n"
        "    base: {name: Pos Damkar Pahandut, lon: 113.915, lat: -2.205}\n"
        "    crew: 5\n",
        encoding="utf-8",
    )
    users = folder / "pengguna.csv"
    users.write_text(
        "username,full_name,agency,roles,position,password\n"
        f"admin.pky,Admin Command Center,diskominfo,admin,,{PASSWORD}\n"
        f"operator.pky,Operator Command Center,diskominfo,operator,,{PASSWORD}\n"
        f"dlh.petugas.pky,Petugas DLH,dlh,agency_officer,,{PASSWORD}\n"
        f"dlh.kepala.pky,Kepala DLH,dlh,agency_head,kepala,{PASSWORD}\n",
        encoding="utf-8",
    )
    return {
        "agencies": agencies,
        "units": units,
        "users": users,
        "roads": write_roads(folder / "jalan.graphml"),
    }


def write_roads(path: Path) -> Path:
    """A small two-way street grid around Pahandut (OSMnx GraphML attributes)."""
    nodes = []
    edges = []
    size = 5
    for i in range(size):
        for j in range(size):
            nodes.append(
                f'<node id="{i}-{j}"><data key="x">{113.89 + 0.015 * i}</data><data key="y">{-2.23 + 0.015 * j}</data></node>'
            )
    for i in range(size):
        for j in range(size):
            for di, dj in ((1, 0), (0, 1)):
                if i + di < size and j + dj < size:
                    for a, b in (((i, j), (i + di, j + dj)), ((i + di, j + dj), (i, j))):
                        edges.append(
                            f'<edge source="{a[0]}-{a[1]}" target="{b[0]}-{b[1]}">'
                            '<data key="highway">secondary</data><data key="length">1670</data></edge>'
                        )
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
        '<key id="x" for="node" attr.name="x" attr.type="double"/>\n'
        '<key id="y" for="node" attr.name="y" attr.type="double"/>\n'
        '<key id="highway" for="edge" attr.name="highway" attr.type="string"/>\n'
        '<key id="length" for="edge" attr.name="length" attr.type="double"/>\n'
        '<graph edgedefault="directed">\n' + "\n".join(nodes + edges) + "\n</graph>\n</graphml>\n",
        encoding="utf-8",
    )
    return path


def run(*args: str) -> Any:
    """One documented command, as a user types it."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def setup_args(files: dict[str, Path]) -> list[str]:
    """`kotapintar setup` for Palangka Raya with the province's boundary files."""
    return [
        "setup",
        "--kabupaten",
        "62.71",
        "--regions",
        str(shared_data("wilayah", "kalteng_kabupaten_62.geojson")),
        "--regions",
        str(shared_data("wilayah", "kalteng_kecamatan_62.geojson")),
        "--agencies",
        str(files["agencies"]),
        "--units",
        str(files["units"]),
        "--users",
        str(files["users"]),
    ]


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login(app: Any, username: str) -> TestClient:
    """A browser-like client logged in through the login form."""
    client = TestClient(app)
    token = CSRF.search(client.get("/masuk").text)
    assert token is not None
    r = client.post(
        "/masuk",
        data={"username": username, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:300]
    return client


def actor_of(db: Database, username: str) -> Any:
    with db.reading() as uow:
        user = uow.users.by_username(username)
        assert user is not None
        return actor_for(user)


def open_task(db: Database, case_id: int, step: str) -> Any:
    with db.reading() as uow:
        rows = [
            t
            for t in uow.repo(TaskRepository).for_case(case_id)
            if t.step_id == step and t.status in sop_tasks.OPEN_STATUSES
        ]
    assert rows, f"no open task {step}"
    return rows[0]


def test_palangka_raya_from_nothing(empty_url: str, tmp_path: Path) -> None:
    files = write_city_files(tmp_path)
    assert run("db", "upgrade").exit_code == 0
    done = run(*setup_args(files))
    assert done.exit_code == 0, done.output
    assert "1 kabupaten, 5 kecamatan" in done.output
    assert "Kota Palangkaraya" in done.output
    # The province's other 13 kabupaten and 131 kecamatan were skipped, each with its reason.
    assert done.output.count("di luar 62.71 (kode)") == 13 + 131
    roads = run("import", "roads", str(files["roads"]))
    assert roads.exit_code == 0, roads.output
    assert "25 simpul, 80 ruas" in roads.output

    settings = get_settings()
    db = Database(empty_url)
    app = create_app(settings, db=db)
    citizen = TestClient(app)

    # A citizen report in Pahandut reaches DLH, the agency the catalogue names for waste.
    r = citizen.post(
        "/api/v1/reports",
        json={
            "service_code": "sampah",
            "description": "Sampah menumpuk di pinggir jalan dekat pasar, sudah tiga hari tidak diangkut.",
            "lon": PAHANDUT[0],
            "lat": PAHANDUT[1],
        },
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    with db.reading() as uow:
        case = uow.repo(CaseRepository).get(case_id)
        assert case is not None
        assert case.region_code is not None and case.region_code.startswith("62.71.01")
    op = actor_of(db, "operator.pky")
    sop_tasks.accept_task(db, op, open_task(db, case_id, "verifikasi").id)
    sop_tasks.complete_task(db, op, open_task(db, case_id, "verifikasi").id, outputs={"lengkap": True})
    sop_tasks.complete_task(db, op, open_task(db, case_id, "disposisi").id)
    answer = open_task(db, case_id, "tanggapi")
    assert answer.agency_code == "dlh"
    officer, head = actor_of(db, "dlh.petugas.pky"), actor_of(db, "dlh.kepala.pky")
    sop_tasks.draft_answer(db, officer, answer.id, "Petugas DLH mengangkut sampah besok pagi.")
    sop_tasks.approve_answer(db, head, answer.id)
    work = open_task(db, case_id, "kerjakan")
    assert work.agency_code == "dlh"
    # The officer finishes the work from the agency page, as in the browser.
    dlh = login(app, "dlh.petugas.pky")
    page = dlh.get("/instansi")
    token = CSRF.search(page.text)
    assert token is not None
    photo = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 60)).save(photo, format="JPEG")
    for action in ("terima", "selesai"):
        r = dlh.post(
            f"/instansi/tugas/{work.id}/{action}",
            data={"csrf_token": token.group(1), "out_tuntas": "true", "output": "Sampah sudah diangkut."},
            files={"photos": ("sesudah.jpg", photo.getvalue(), "image/jpeg")},
            follow_redirects=False,
        )
        assert r.status_code == 303, re.findall(r'flash-error" role="alert">(.*?)</li>', r.text, re.S)
    with db.reading() as uow:
        done_case = uow.repo(CaseRepository).get(case_id)
        assert done_case is not None and done_case.status == "resolved"
        resolved_at = done_case.resolved_at
    assert resolved_at is not None
    # Nobody disputes the result: the SOP closes the case after its waiting time (the worker's timers).
    run_due_timers(db, now=resolved_at + timedelta(days=20))
    with db.reading() as uow:
        assert uow.repo(CaseRepository).get(case_id).status == "closed"  # type: ignore[union-attr]

    # A report in Kapuas is refused: outside the area, with a message naming the city.
    r = citizen.post(
        "/api/v1/reports",
        json={
            "service_code": "sampah",
            "description": "Sampah menumpuk di tepi sungai Kapuas dekat dermaga.",
            "lon": KUALA_KAPUAS[0],
            "lat": KUALA_KAPUAS[1],
        },
    )
    assert r.status_code == 422, r.text
    assert "di luar wilayah Kota Palangkaraya" in r.json()["error"]["message"]

    # A fire truck added on the admin page is recommended for a fire at once (no restart).
    admin = login(app, "admin.pky")
    page = admin.get("/admin/unit")
    assert page.status_code == 200 and "PKY-DMK-01" in page.text
    assert "Kota Palangkaraya" in page.text  # the header names the city set up, not the demo
    token = CSRF.search(page.text)
    assert token is not None
    r = admin.post(
        "/admin/unit",
        data={
            "csrf_token": token.group(1),
            "code": "PKY-DMK-02",
            "name": "Mobil Pemadam 02 Jekan Raya",
            "agency": "damkar",
            "kind": "fire_truck",
            "base_name": "Pos Damkar Jekan Raya",
            "base_lon": "113.905",
            "base_lat": "-2.215",
            "crew": "4",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text[:500]
    r = citizen.post(
        "/api/v1/reports",
        json={
            "service_code": "kebakaran",
            "description": "Kebakaran rumah kayu di gang dekat pasar, api besar.",
            "lon": 113.91,
            "lat": -2.21,
        },
    )
    assert r.status_code == 201, r.text
    fire = r.json()["case_id"]
    operator = login(app, "operator.pky")
    rec = operator.get(f"/api/v1/dispatch/cases/{fire}/recommendation")
    assert rec.status_code == 200, rec.text
    body = rec.json()
    assert "PKY-DMK-02" in body["selected"], body
    assert body["method"] != "straight_line", "the imported road network is used without a path setting"
    db.dispose()


def test_bad_files_change_nothing_and_name_the_line(empty_url: str, tmp_path: Path) -> None:
    files = write_city_files(tmp_path)
    assert run("db", "upgrade").exit_code == 0
    # Wrong code: the kabupaten files do not hold 62.99.
    wrong = run("setup", *setup_args(files)[1:2], "62.99", *setup_args(files)[3:])
    assert wrong.exit_code == 2
    assert "KOTAPINTAR_REGION_CODE" in wrong.output

    # A unit with an unknown agency and a duplicate username: both named with file, line and field.
    files["units"].write_text(
        files["units"].read_text(encoding="utf-8")
        + "  - code: PKY-X\n    name: X\n    agency: damkarr\n    kind: fire_truck\n"
        "    base: {lon: 113.92, lat: -2.21}\n",
        encoding="utf-8",
    )
    files["users"].write_text(
        files["users"].read_text(encoding="utf-8") + f"admin.pky,Admin Dua,diskominfo,admin,,{PASSWORD}\n",
        encoding="utf-8",
    )
    bad = run(*setup_args(files))
    assert bad.exit_code == 2
    assert "unit.yaml:8: agency: instansi 'damkarr' tidak dikenal" in bad.output
    assert "pengguna.csv:6: username: 'admin.pky' sudah dipakai di baris 2" in bad.output
    assert "tidak ada yang diubah" in bad.output

    # Overlapping kecamatan: a copy of Pahandut under another code overlaps it completely.
    import json

    source = json.loads(shared_data("wilayah", "kalteng_kecamatan_62.geojson").read_text(encoding="utf-8"))
    kec = [f for f in source["features"] if f["properties"]["kode"].startswith("62.71.")]
    twin = json.loads(json.dumps(kec[0]))
    twin["properties"]["kode"], twin["properties"]["nama"] = "62.71.09", "Pahandut Kembar"
    overlap = tmp_path / "kecamatan_tumpang.geojson"
    overlap.write_text(json.dumps({"type": "FeatureCollection", "features": [*kec, twin]}, indent=1))
    args = setup_args(files)
    args[args.index(str(shared_data("wilayah", "kalteng_kecamatan_62.geojson")))] = str(overlap)
    files["units"].write_text("units: []\n", encoding="utf-8")
    files["users"].write_text(
        f"username,full_name,agency,roles,password\nadmin.pky,Admin,diskominfo,admin,{PASSWORD}\n",
        encoding="utf-8",
    )
    bad = run(*args)
    assert bad.exit_code == 2
    assert re.search(
        r"kecamatan_tumpang\.geojson:\d+: feature #\d+ \(kode 62\.71\.\d\d\): bertumpang tindih", bad.output
    )

    # Nothing of the refused set-ups was written.
    db = Database(empty_url)
    with db.reading() as uow:
        assert uow.users.all() == []
    from kotapintar.catalog import service as catalog

    assert list(catalog.regions(db, "kecamatan")) == []
    assert list(catalog.units(db)) == []
    db.dispose()


def test_production_refuses_to_start_until_set_up_and_never_answers_500(
    empty_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("db", "upgrade").exit_code == 0
    monkeypatch.setenv("KOTAPINTAR_ENVIRONMENT", "production")
    monkeypatch.setenv("KOTAPINTAR_SECRET_KEY", "x" * 64)
    # production also requires the public address (issue 19); set, so the refusal is about the set-up only
    monkeypatch.setenv("KOTAPINTAR_PUBLIC_BASE_URL", "https://lapor.palangkaraya.go.id")
    get_settings.cache_clear()
    refused = run("serve", "--port", "0")
    assert refused.exit_code == 2
    assert "kotapintar setup --kabupaten 62.71 --regions" in refused.output
    assert "no service catalogue" in refused.output and "no admin" in refused.output
    monkeypatch.setenv("KOTAPINTAR_ENVIRONMENT", "test")
    get_settings.cache_clear()
    # The path of issue 21's report: reference data and kecamatan but no kabupaten boundary. A located
    # report is a 503 whose message names the command to run, never a 500.
    assert run("load", "reference").exit_code == 0
    kec = run("import", "regions", str(shared_data("wilayah", "kalteng_kecamatan_62.geojson")))
    assert kec.exit_code == 0, kec.output
    db = Database(empty_url)
    app = create_app(get_settings(), db=db)
    r = TestClient(app).post(
        "/api/v1/reports",
        json={
            "service_code": "sampah",
            "description": "Sampah menumpuk di pasar.",
            "lon": 113.92,
            "lat": -2.21,
        },
    )
    assert r.status_code == 503, r.text
    assert "kotapintar setup --kabupaten 62.71" in r.json()["error"]["message"]
    db.dispose()
