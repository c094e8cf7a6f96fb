"""The admin pages on the demo city: users, services and API keys, each change audited (issue 21)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.helpers import web_client

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def token(page: str) -> str:
    found = CSRF.search(page)
    assert found is not None
    return found.group(1)


def audit(db: Database, type_: str) -> list[dict[str, object]]:
    with db.reading() as uow:
        return [dict(e.payload) for e in uow.events.of_type(type_)]


def test_admin_manages_users_services_and_keys(db: Database, settings: Settings) -> None:
    app = create_app(settings, db=db)
    admin = web_client(app, "admin")
    assert web_client(app, "operator").get("/admin/pengguna").status_code == 403
    home = admin.get("/admin")
    assert home.status_code == 200 and "Administrasi" in home.text

    page = admin.get("/admin/pengguna")
    assert "pupr.petugas" in page.text
    r = admin.post(
        "/admin/pengguna",
        data={
            "csrf_token": token(page.text),
            "username": "dlh.baru",
            "full_name": "Petugas Baru DLH",
            "password": "Sungai-Kapuas-Biru-93",
            "agency": "dlh",
            "roles": ["agency_officer"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303
    login = TestClient(app).post(
        "/api/v1/auth/token", data={"username": "dlh.baru", "password": "Sungai-Kapuas-Biru-93"}
    )
    assert login.status_code == 200
    # A duplicate username is refused on the page with the reason, not a 500.
    dup = admin.post(
        "/admin/pengguna",
        data={
            "csrf_token": token(page.text),
            "username": "dlh.baru",
            "password": "Sungai-Kapuas-Biru-93",
            "agency": "dlh",
            "roles": ["agency_officer"],
        },
    )
    assert dup.status_code == 409 and "sudah dipakai" in dup.text
    r = admin.post(
        "/admin/pengguna/dlh.baru/nonaktifkan", data={"csrf_token": token(page.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    refused = TestClient(app).post(
        "/api/v1/auth/token", data={"username": "dlh.baru", "password": "Sungai-Kapuas-Biru-93"}
    )
    assert refused.status_code == 401
    assert "Nonaktif" in admin.get("/admin/pengguna").text

    # Closing a service for reports takes effect at once for citizens.
    page = admin.get("/admin/layanan")
    r = admin.post(
        "/admin/layanan/sampah",
        data={"csrf_token": token(page.text), "priority": "P2"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    codes = {s["service_code"] for s in TestClient(app).get("/open311/v2/services.json").json()}
    assert "sampah" not in codes and "jalan_rusak" in codes
    assert audit(db, "service_changed")[-1]["after"] == {"active": False, "priority": "P2"}

    page = admin.get("/admin/kunci-api")
    made = admin.post("/admin/kunci-api", data={"csrf_token": token(page.text), "name": "mitra-lapor"})
    key = re.search(r'<code id="new-key">([^<]+)</code>', made.text)
    assert key is not None and key.group(1).startswith("kpk_")
    r = admin.post(
        "/admin/kunci-api/mitra-lapor/cabut", data={"csrf_token": token(made.text)}, follow_redirects=False
    )
    assert r.status_code == 303
    assert [e["name"] for e in audit(db, "api_key_created")] == ["mitra-lapor"]
    assert [e["name"] for e in audit(db, "api_key_revoked")] == ["mitra-lapor"]


def test_admin_checks_diffs_and_publishes_an_sop(db: Database, settings: Settings) -> None:
    from kotapintar.core.access.actors import system_actor
    from kotapintar.sop.library import publish_shipped_sops
    from kotapintar.sop.loader import shipped_sop_path

    publish_shipped_sops(db, system_actor("tests"))  # PostgreSQL tests start with an empty SOP library
    app = create_app(settings, db=db)
    admin = web_client(app, "admin")
    page = admin.get("/admin/sop")
    assert page.status_code == 200 and "jalan_rusak" in page.text
    source = shipped_sop_path("jalan_rusak").read_text(encoding="utf-8")
    lines = source.splitlines()
    bad_line = next(i for i, line in enumerate(lines) if line.strip() == "waktu: 3 hari kerja")
    broken = "\n".join([*lines[:bad_line], "  waktu: tiga hari", *lines[bad_line + 1 :]]) + "\n"
    r = admin.post(
        "/admin/sop/periksa",
        data={"csrf_token": token(page.text)},
        files={"file": ("jalan_rusak.yaml", broken.encode(), "application/x-yaml")},
    )
    assert r.status_code == 422
    assert f"sop.yaml:{bad_line + 1}:" in r.text, "the error names the line of the upload"
    changed = source.replace("waktu: 5 hari kerja", "waktu: 4 hari kerja", 1)
    r = admin.post(
        "/admin/sop/periksa",
        data={"csrf_token": token(page.text)},
        files={"file": ("jalan_rusak.yaml", changed.encode(), "application/x-yaml")},
    )
    assert r.status_code == 200, r.text[-2000:]
    diff = re.search(r'<ul id="sop-diff">(.*?)</ul>', r.text, re.S)
    assert diff is not None and "4 hari kerja" in diff.group(1)
    r = admin.post(
        "/admin/sop/terbitkan",
        data={"csrf_token": token(r.text), "text": changed, "note": "PUPR: perbaikan selesai 4 hari kerja"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    note = audit(db, "sop_publish_note")[-1]
    assert note["sop"] == "jalan_rusak" and note["version"] == 2 and note["created"] is True
    assert "v2" in admin.get("/admin/sop").text
