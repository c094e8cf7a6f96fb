"""The admin pages added by adminmore (issue 21 item 3): a user's roles, agency and password reset; agencies;
a unit's crew link. Each through the real app with a logged-in admin and CSRF, each change an event."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from fastapi import FastAPI
from fastapi.testclient import TestClient

from kotapintar.app.web import create_app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.admin.test_admin_pages import audit, token
from tests.helpers import DEMO_PASSWORD, web_client


def login_api(app: FastAPI, username: str, password: str) -> int:
    r = TestClient(app).post("/api/v1/auth/token", data={"username": username, "password": password})
    return int(r.status_code)


def test_admin_changes_roles_and_agency_and_resets_a_password(db: Database, settings: Settings) -> None:
    app = create_app(settings, db=db)
    admin = web_client(app, "admin")
    officer = web_client(app, "pupr.petugas")
    assert officer.get("/admin").status_code == 403
    page = admin.get("/admin/pengguna")
    csrf = token(page.text)

    # A non-admin cannot change anyone's roles (its own CSRF token, still refused by role).
    operator = web_client(app, "operator")
    op_token = token(operator.get("/admin/pengguna").text)
    r = operator.post(
        "/admin/pengguna/operator/peran",
        data={"csrf_token": op_token, "roles": ["admin"], "agency": "pupr"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert audit(db, "user_access_changed") == []

    # Bad input: an unknown role, an unknown agency, an unknown user: 4xx with the reason, nothing changed.
    bad = admin.post(
        "/admin/pengguna/pupr.petugas/peran", data={"csrf_token": csrf, "roles": ["raja"], "agency": "pupr"}
    )
    assert bad.status_code == 422 and "Peran tidak dikenal" in bad.text
    bad = admin.post(
        "/admin/pengguna/pupr.petugas/peran",
        data={"csrf_token": csrf, "roles": ["agency_officer"], "agency": "tidak-ada"},
    )
    assert bad.status_code == 422 and "Instansi &#39;tidak-ada&#39; tidak ada" in bad.text
    bad = admin.post("/admin/pengguna/pupr.petugas/peran", data={"csrf_token": csrf, "agency": "pupr"})
    assert bad.status_code == 422 and "minimal satu peran" in bad.text
    bad = admin.post(
        "/admin/pengguna/siapa/peran", data={"csrf_token": csrf, "roles": ["operator"], "agency": "pupr"}
    )
    assert bad.status_code == 404 and "siapa" in bad.text
    assert audit(db, "user_access_changed") == []

    # The new role takes effect on the officer's very next request (same session).
    r = admin.post(
        "/admin/pengguna/pupr.petugas/peran",
        data={"csrf_token": csrf, "roles": ["agency_officer", "admin"], "agency": "dlh"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert officer.get("/admin").status_code == 200
    change = audit(db, "user_access_changed")[-1]
    assert change["username"] == "pupr.petugas"
    assert change["before"] == {"roles": ["agency_officer"], "agency": "pupr"}
    assert change["after"] == {"roles": ["admin", "agency_officer"], "agency": "dlh"}
    row = re.search(r"<tr><td>pupr\.petugas</td>.*?</tr>", admin.get("/admin/pengguna").text, re.S)
    assert row is not None and "<td><code>dlh</code></td>" in row.group(0)

    # Reset: a generated password shown once; the user's session ends; the new password works, the old not.
    assert officer.get("/admin").status_code == 200
    r = admin.post("/admin/pengguna/pupr.petugas/atur-ulang-sandi", data={"csrf_token": csrf})
    assert r.status_code == 200
    shown = re.search(r'<code id="new-password">([^<]+)</code>', r.text)
    assert shown is not None
    new_password = shown.group(1)
    assert new_password not in admin.get("/admin/pengguna").text, "shown once only"
    assert officer.get("/admin", follow_redirects=False).status_code in (303, 401)
    assert login_api(app, "pupr.petugas", DEMO_PASSWORD) == 401
    assert login_api(app, "pupr.petugas", new_password) == 200
    reset = audit(db, "user_password_reset")[-1]
    assert reset["username"] == "pupr.petugas" and int(str(reset["revoked"])) >= 1
    assert new_password not in str(audit(db, "user_password_reset")), "the password is never in the log"

    # An admin cannot lock themselves out by dropping their own admin role.
    r = admin.post(
        "/admin/pengguna/admin/peran", data={"csrf_token": csrf, "roles": ["operator"], "agency": "pupr"}
    )
    assert r.status_code == 422 and "peran admin Anda sendiri" in r.text


def test_admin_creates_and_edits_an_agency(db: Database, settings: Settings) -> None:
    app = create_app(settings, db=db)
    admin = web_client(app, "admin")
    assert web_client(app, "supervisor").get("/admin/instansi").status_code == 403
    page = admin.get("/admin/instansi")
    assert page.status_code == 200 and "pupr" in page.text
    csrf = token(page.text)
    form = {
        "csrf_token": csrf,
        "code": "dpmd",
        "name": "Dinas Pemberdayaan Masyarakat dan Desa",
        "short": "DPMD",
        "kind": "internal",
        "phone": "(0513) 21234",
        "email": "dpmd@kapuaskab.go.id",
        "jurisdiction": "62.03, 62.03.01",
    }
    r = admin.post("/admin/instansi", data=form, follow_redirects=False)
    assert r.status_code == 303
    created = audit(db, "agency_created")[-1]
    assert created["code"] == "dpmd" and created["after"]["jurisdiction"] == ["62.03", "62.03.01"]  # type: ignore[index]
    # The new agency can take users at once.
    r = admin.post(
        "/admin/pengguna",
        data={
            "csrf_token": csrf,
            "username": "dpmd.petugas",
            "password": "Jembatan-Kapuas-Hijau-71",
            "agency": "dpmd",
            "roles": ["agency_officer"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 303

    # Bad input: a taken code, an unknown region, a bad kind, an empty name: 4xx naming the problem.
    assert admin.post("/admin/instansi", data=form).status_code == 409
    bad = admin.post("/admin/instansi", data={**form, "code": "dpmd2", "jurisdiction": "99.99"})
    assert bad.status_code == 422 and "Wilayah &#39;99.99&#39; tidak dikenal" in bad.text
    bad = admin.post("/admin/instansi", data={**form, "code": "dpmd2", "kind": "swasta"})
    assert bad.status_code == 422 and "pilih internal atau external" in bad.text
    bad = admin.post("/admin/instansi", data={**form, "code": "Dishub Baru"})
    assert bad.status_code == 422 and "huruf kecil" in bad.text
    bad = admin.post("/admin/instansi/dpmd", data={**form, "name": " ", "phone": "0513 777"})
    assert bad.status_code == 422 and "Nama instansi wajib" in bad.text
    # The refused edit stays an edit of that agency, with what was typed kept.
    assert 'action="/admin/instansi/dpmd"' in bad.text and 'value="0513 777"' in bad.text
    assert admin.post("/admin/instansi/tidak-ada", data=form).status_code == 404
    assert len(audit(db, "agency_created")) == 1 and audit(db, "agency_changed") == []

    # Edit: external now, new phone, narrower jurisdiction; the page shows it and the event has before/after.
    edit = admin.get("/admin/instansi?ubah=dpmd")
    assert 'action="/admin/instansi/dpmd"' in edit.text and "dpmd@kapuaskab.go.id" in edit.text
    r = admin.post(
        "/admin/instansi/dpmd",
        data={**form, "kind": "external", "phone": "0513 999", "jurisdiction": "62.03.01"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    changed = audit(db, "agency_changed")[-1]
    assert changed["before"]["kind"] == "internal" and changed["after"]["kind"] == "external"  # type: ignore[index]
    assert changed["after"]["jurisdiction"] == ["62.03.01"]  # type: ignore[index]
    row = re.search(r"<tr><td>dpmd</td>.*?</tr>", admin.get("/admin/instansi").text, re.S)
    assert row is not None and "0513 999" in row.group(0) and "Eksternal" in row.group(0)


def test_admin_shows_a_units_crew_link(db: Database, settings: Settings) -> None:
    app = create_app(settings, db=db)
    admin = web_client(app, "admin")
    page = admin.get("/admin/unit")
    csrf = token(page.text)
    operator = web_client(app, "operator")
    r = operator.post(
        "/admin/unit/DMK-01/tautan-awak", data={"csrf_token": token(operator.get("/admin/unit").text)}
    )
    assert r.status_code == 403 and "crew-link" not in r.text
    assert admin.post("/admin/unit/TIDAK-ADA/tautan-awak", data={"csrf_token": csrf}).status_code == 404
    r = admin.post("/admin/unit/DMK-01/tautan-awak", data={"csrf_token": csrf})
    assert r.status_code == 200
    link = re.search(r'<code id="crew-link">([^<]+)</code>', r.text)
    assert link is not None and "/unit/DMK-01?token=" in link.group(1)
    # The link opens the crew page of that unit; a wrong token does not.
    parts = urlsplit(link.group(1).replace("&amp;", "&"))
    crew = TestClient(app).get(f"{parts.path}?{parts.query}")
    assert crew.status_code == 200 and "DMK-01" in crew.text
    wrong = TestClient(app).get(f"{parts.path}?token=0000", follow_redirects=False)
    assert wrong.status_code in (401, 403)
    assert [e["code"] for e in audit(db, "unit_crew_link_shown")] == ["DMK-01"]


DEVICE_FILE = """\
version: 1
defaults:
  water_level:
    owner_agency: bpbd
    interval_s: 600
    valid_range: {waterLevel: [-1.0, 15.0]}
devices:
  - {id: KPS-AWLR-91, name: "Pos Duga Air Sungai Kapuas Murung - Palingkau", kind: water_level,
     lon: 114.40, lat: -2.95, region: "62.03.01", river: Kapuas Murung, gauge_class: kapuas_hilir}
"""


def test_admin_registers_rekeys_and_disables_a_sensor_device(db: Database, settings: Settings) -> None:
    app = create_app(settings, db=db)
    admin = web_client(app, "admin")
    operator = web_client(app, "operator")
    assert operator.get("/admin/sensor").status_code == 403
    page = admin.get("/admin/sensor")
    assert page.status_code == 200
    csrf = token(page.text)

    # A bad file: refused with the line and the field, nothing registered.
    bad = admin.post(
        "/admin/sensor",
        data={"csrf_token": csrf},
        files={
            "file": ("perangkat.yaml", DEVICE_FILE.replace('"62.03.01"', '"99.99.99"').encode(), "text/yaml")
        },
    )
    assert bad.status_code == 422 and "99.99.99" in bad.text
    assert "KPS-AWLR-91" not in admin.get("/admin/sensor").text
    r = admin.post(
        "/admin/sensor",
        data={"csrf_token": csrf},
        files={"file": ("perangkat.yaml", DEVICE_FILE.encode(), "application/x-yaml")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "KPS-AWLR-91" in admin.get("/admin/sensor").text
    registered = audit(db, "sensor_devices_registered")[-1]
    assert registered == {"devices": ["KPS-AWLR-91"], "created": 1, "updated": 0}

    made = admin.post("/admin/sensor/KPS-AWLR-91/kunci-baru", data={"csrf_token": csrf})
    key = re.search(r'<code id="new-key">([^<]+)</code>', made.text)
    assert made.status_code == 200 and key is not None
    api = TestClient(app)

    def ingest(value: float) -> int:
        body = {"deviceId": "KPS-AWLR-91", "waterLevel": value}
        return int(
            api.post("/api/v1/sensors/ingest", json=body, headers={"X-Device-Key": key.group(1)}).status_code
        )

    assert ingest(1.2) == 202
    r = admin.post("/admin/sensor/KPS-AWLR-91/nonaktifkan", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert ingest(1.3) == 403, "a disabled device's readings are refused at once"
    row = re.search(r"<tr><td><code>KPS-AWLR-91</code></td>.*?</tr>", admin.get("/admin/sensor").text, re.S)
    assert row is not None and "Nonaktif" in row.group(0)
    r = admin.post("/admin/sensor/KPS-AWLR-91/aktifkan", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and ingest(1.4) == 202
    assert audit(db, "sensor_device_key_issued") == [{"device": "KPS-AWLR-91"}]
    assert audit(db, "sensor_device_disabled") == [{"device": "KPS-AWLR-91", "was_active": True}]
    assert audit(db, "sensor_device_enabled") == [{"device": "KPS-AWLR-91", "was_active": False}]
    assert admin.post("/admin/sensor/TIDAK-ADA/nonaktifkan", data={"csrf_token": csrf}).status_code == 404
    refused = operator.post(
        "/admin/sensor/KPS-AWLR-91/nonaktifkan",
        data={"csrf_token": token(operator.get("/admin/sensor").text)},
    )
    assert refused.status_code == 403 and len(audit(db, "sensor_device_disabled")) == 1
