"""The citizen web form and tracking page over real HTTP: plain POST without JS, errors, weight, limits."""

from __future__ import annotations

import gzip
import re

import httpx

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from tests.conftest import LiveServer
from tests.intake.intake_helpers import count_cases, report_ids

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PHONE = "+6281377778888"


def _form_session(base: str, service: str = "jalan_rusak") -> tuple[httpx.Client, str, str]:
    client = httpx.Client(base_url=base, timeout=30)
    page = client.get(f"/lapor?layanan={service}")
    assert page.status_code == 200
    found = CSRF.search(page.text)
    assert found, "the form must carry a CSRF token"
    return client, found.group(1), page.text


def _fields(token: str, **overrides: str) -> dict[str, str]:
    data = {
        "csrf_token": token,
        "service_code": "jalan_rusak",
        "description": "Jalan berlubang besar di depan SDN 2 Selat, bahaya untuk motor.",
        "lon": "114.39",
        "lat": "-3.0",
        "address": "Depan SDN 2 Selat",
        "name": "Siti Aminah",
        "phone": PHONE,
        "email": "",
    }
    data.update(overrides)
    return data


def test_services_page_lists_services_with_nav(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/lapor", timeout=30)
    assert page.status_code == 200
    assert 'href="/lapor?layanan=jalan_rusak"' in page.text
    assert 'href="/lapor"' in page.text and 'href="/lacak"' in page.text
    form = httpx.get(f"{live_server.url}/lapor?layanan=kebakaran", timeout=30).text
    assert 'name="attr_ada_korban"' in form  # the service's Open311 attributes become fields
    assert 'name="photos"' in form and "multiple" in form
    assert 'name="anonymous"' in form and 'name="confidential"' in form


def test_plain_form_post_without_js_gives_ticket_and_tracking(live_server: LiveServer, db: Database) -> None:
    client, token, _ = _form_session(live_server.url)
    response = client.post(
        "/lapor", data=_fields(token), files={"photos": ("", b"", "application/octet-stream")}
    )
    assert response.status_code == 303, response.text[:2000]
    location = response.headers["location"]
    ticket = re.search(r"/lacak/(KPS-\d{4}-\d{6})", location)
    assert ticket
    page = client.get(location)
    assert page.status_code == 200
    assert ticket.group(1) in page.text and "Laporan terkirim" in page.text
    assert "Dinas" in page.text or "PUPR" in page.text  # the responsible agency
    assert "81377778888" not in page.text and "Siti" not in page.text
    public = httpx.get(f"{live_server.url}/lacak/{ticket.group(1)}", timeout=30)
    assert public.status_code == 200 and "Laporan terkirim" not in public.text
    assert count_cases(db) == 1
    # a double click (same form content again) does not make a second case
    client.post("/lapor", data=_fields(token))
    assert count_cases(db) == 1 and len(report_ids(db)) == 1


def test_form_errors_are_shown_next_to_fields_and_nothing_is_created(
    live_server: LiveServer, db: Database
) -> None:
    client, token, _ = _form_session(live_server.url)
    response = client.post("/lapor", data=_fields(token, description="x", lon="", lat="", address=""))
    assert response.status_code == 422
    assert 'id="f-description-error"' in response.text
    assert 'id="f-lon-error"' in response.text
    assert "Jalan berlubang" not in response.text or 'value="x"' not in response.text
    bad_phone = client.post("/lapor", data=_fields(token, phone="call me maybe"))
    assert bad_phone.status_code == 422 and 'id="f-phone-error"' in bad_phone.text
    assert count_cases(db) == 0


def test_form_post_without_csrf_is_refused(live_server: LiveServer, db: Database) -> None:
    client, token, _ = _form_session(live_server.url)
    response = client.post("/lapor", data=_fields("forged-token"))
    assert response.status_code == 403
    stranger = httpx.post(f"{live_server.url}/lapor", data=_fields(token), timeout=30)  # no session cookie
    assert stranger.status_code == 403
    assert count_cases(db) == 0


def test_form_page_under_300_kb_at_360px(live_server: LiveServer) -> None:
    client = httpx.Client(base_url=live_server.url, timeout=30, headers={"Accept-Encoding": "gzip"})
    for path in ("/lapor", "/lapor?layanan=jalan_rusak", "/lacak"):
        page = client.get(path)
        assert 'name="viewport" content="width=device-width, initial-scale=1"' in page.text
        assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text)
        assert assets
        wire = len(gzip.compress(page.content))
        raw = len(page.content)
        for asset in set(assets):
            response = client.get(asset)
            assert response.status_code == 200, asset
            raw += len(response.content)
            wire += int(response.headers.get("content-length") or len(response.content))
        assert raw < 300 * 1024, f"{path}: {raw} bytes uncompressed"
        assert wire < 300 * 1024, f"{path}: {wire} bytes on the wire"


def test_rate_limit_per_ip_gives_429_with_retry_after(
    live_server: LiveServer, db: Database, settings: Settings
) -> None:
    settings.rate_limit_per_ip = "2/minute"  # the running app reads this same settings object
    client, token, _ = _form_session(live_server.url)
    codes = []
    for n in range(3):
        answer = client.post("/lapor", data=_fields(token, description=f"Jalan berlubang nomor {n} di Selat"))
        codes.append(answer.status_code)
    assert codes == [303, 303, 429]
    assert int(answer.headers["Retry-After"]) > 0
    assert "Terlalu banyak laporan" in answer.text
    assert len(report_ids(db)) == 2


def test_unknown_ticket_is_404_with_lookup_form(live_server: LiveServer) -> None:
    page = httpx.get(f"{live_server.url}/lacak/KPS-2026-999999", timeout=30)
    assert page.status_code == 404
    assert 'name="tiket"' in page.text
    lookup = httpx.get(f"{live_server.url}/lacak", params={"tiket": "kps-2026-000001"}, timeout=30)
    assert lookup.status_code == 303 and lookup.headers["location"] == "/lacak/KPS-2026-000001"
