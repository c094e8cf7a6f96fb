"""Bad input at every edge (issue 16, item 3): a clear 4xx in the API's error shape, never a 500, and
nothing half-stored."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from kotapintar.cases.models import Case, Report
from kotapintar.core.access.auth import create_api_key
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.intake.models import MediaFile
from tests.security.routes import iter_routes
from tests.security.security_support import login as _login

HUGE = "99999999999999999999"
GOOD: dict[str, Any] = {
    "service_code": "jalan_rusak",
    "description": "Jalan berlubang besar di depan pasar Kuala Kapuas",
    "lon": 114.39,
    "lat": -3.0,
}


def _count(db: Database, model: Any) -> int:
    with db.reading() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def _error(response: Any, status: int | tuple[int, ...]) -> dict[str, Any]:
    wanted = status if isinstance(status, tuple) else (status,)
    assert response.status_code in wanted, (response.status_code, response.text[:500])
    body = response.json()
    assert set(body["error"]) >= {"code", "message"}, body
    return dict(body["error"])


def test_json_report_api_is_rate_limited_per_address(client: TestClient, settings: Settings) -> None:
    settings.rate_limit_per_ip = "3/minute"
    codes = [
        client.post("/api/v1/reports", json={**GOOD, "lon": 114.39 + 0.01 * n}).status_code for n in range(4)
    ]
    assert codes == [201, 201, 201, 429]
    limited = client.post("/api/v1/reports", json=GOOD)
    assert _error(limited, 429)["code"] == "rate_limited" and int(limited.headers["Retry-After"]) > 0


def test_priority_and_channel_come_from_the_server(client: TestClient, db: Database) -> None:
    created = client.post("/api/v1/reports", json={**GOOD, "priority": "P1", "channel": "call112"})
    assert created.status_code == 201, created.text
    with db.reading() as uow:
        case = uow.session.get(Case, created.json()["case_id"])
        assert case is not None
        assert case.channel == "api" and case.priority != "P1"
    # A client application's own key may state its channel (it is issued by the administrator).
    key = create_api_key(db, "kanal-mitra")
    by_client = client.post(
        "/api/v1/reports", json={**GOOD, "lon": 114.41, "channel": "sms"}, headers={"X-API-Key": key}
    )
    assert by_client.status_code == 201, by_client.text
    with db.reading() as uow:
        case = uow.session.get(Case, by_client.json()["case_id"])
        assert case is not None and case.channel == "sms"


def _deep(levels: int) -> dict[str, Any]:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return {"nested": value}


@pytest.mark.parametrize(
    ("attributes", "code"),
    [
        ({f"k{n}": n for n in range(60)}, "attributes_too_large"),
        (_deep(300), "attributes_too_deep"),
        ({"blob": "x" * 40_000}, "attributes_too_large"),
        ({"teks": "ada\x00nul"}, "invalid_text"),
    ],
    ids=["count", "depth", "size", "nul"],
)
def test_attributes_are_bounded(
    client: TestClient, db: Database, attributes: dict[str, Any], code: str
) -> None:
    before = _count(db, Report)
    r = client.post("/api/v1/reports", json={**GOOD, "attributes": attributes})
    assert _error(r, 422)["code"] == code
    assert _count(db, Report) == before


@pytest.mark.parametrize(
    "description",
    ["Jalan rusak\x00 parah", "\u200b\u200b\u200b\u200b\u200b", "   \u200d\ufeff   ", "ada\x07bel"],
    ids=["nul", "zero-width", "bom-and-joiners", "bell"],
)
def test_unreadable_descriptions_are_refused(client: TestClient, db: Database, description: str) -> None:
    before = _count(db, Report)
    r = client.post("/api/v1/reports", json={**GOOD, "description": description})
    assert _error(r, 422)["code"] in ("invalid_text", "empty_text", "invalid_input")
    assert _count(db, Report) == before


def test_giant_numbers_and_dates_are_4xx_never_500(client: TestClient) -> None:
    op = _login(client, "operator")
    created = client.post("/api/v1/reports", json=GOOD).json()
    probes = [
        client.get(f"/api/v1/public/cases/{HUGE}"),
        client.get(f"/api/v1/cases/{HUGE}", headers=op),
        client.post(f"/api/v1/cases/{HUGE}/verify", headers=op),
        client.post(f"/api/v1/tasks/{HUGE}/accept", headers=op),
        client.post(
            f"/api/v1/cases/{created['case_id']}/merge", headers=op, json={"into_case_id": int(HUGE)}
        ),
        client.get(f"/api/v1/cases?cursor={HUGE}", headers=op),
        client.get("/api/v1/cases?created_from=0001-01-01T00:00:00%2B01:00", headers=op),
        client.get("/api/v1/cases?created_to=9999-12-31T23:59:59-14:00", headers=op),
        client.get(f"/api/v1/stream?after={HUGE}"),
    ]
    for response in probes:
        _error(response, 422)
    for date in ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"):
        r = client.get("/open311/v2/requests.json", params={"start_date": date})
        assert r.status_code == 400, r.text
        assert r.json()[0]["code"] == 400


def test_reusing_an_idempotency_key_for_another_body_is_409(client: TestClient, db: Database) -> None:
    first = client.post("/api/v1/reports", json=GOOD, headers={"Idempotency-Key": "kunci-1"})
    assert first.status_code == 201
    again = client.post("/api/v1/reports", json=GOOD, headers={"Idempotency-Key": "kunci-1"})
    assert again.status_code == 200 and again.json()["ticket"] == first.json()["ticket"]
    other = {**GOOD, "description": "Lampu jalan mati di simpang empat", "lon": 114.42}
    clash = client.post("/api/v1/reports", json=other, headers={"Idempotency-Key": "kunci-1"})
    assert _error(clash, 409)["code"] == "idempotency_key_reused"
    assert _count(db, Report) == 1


def test_open311_accepts_web_media_links_only(client: TestClient, db: Database) -> None:
    key = create_api_key(db, "fms-media")
    form = {"api_key": key, "service_code": "jalan_rusak", "lat": "-3.0", "long": "114.39"}
    form["description"] = "Jalan berlubang besar di depan SDN 2 Selat"
    for bad in ("javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd", "//evil.example/x"):
        r = client.post("/open311/v2/requests.json", data={**form, "media_url": bad})
        assert r.status_code == 400, (bad, r.text)
    ok = client.post(
        "/open311/v2/requests.json", data={**form, "media_url": "https://foto.example.org/a.jpg"}
    )
    assert ok.status_code == 200, ok.text
    assert "javascript:" not in client.get("/open311/v2/requests.json").text


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 60)).save(out, format="JPEG")
    return out.getvalue()


def test_a_refused_report_leaves_no_media_row(client: TestClient, db: Database) -> None:
    page = client.get("/lapor?layanan=jalan_rusak").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    data = {
        "csrf_token": token.group(1),
        "service_code": "jalan_rusak",
        "description": "\u200b\u200b\u200b\u200b",
        "lon": "114.39",
        "lat": "-3.0",
    }
    r = client.post("/lapor", data=data, files=[("photos", ("a.jpg", _jpeg(), "image/jpeg"))])
    assert r.status_code in (400, 422), r.status_code
    assert _count(db, Report) == 0
    # The photo is kept for the corrected form (issue 20): linked to nothing, served to no one, deleted
    # after a day if the form is never sent (tests/intake/test_intake_web_form.py).
    with db.reading() as uow:
        rows = list(uow.session.scalars(select(MediaFile)))
    assert len(rows) == 1 and rows[0].case_id is None and rows[0].report_id is None
    assert client.get(f"/media/{rows[0].token}.jpg").status_code == 404


def test_api_key_is_redacted_from_access_logs() -> None:
    from kotapintar.core.http.logs import RedactSecrets

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4:5", "GET", "/open311/v2/requests.json?api_key=kpk_SECRET123&x=1", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    line = record.getMessage()
    assert "kpk_SECRET123" not in line and "api_key=***" in line and "x=1" in line


def test_personal_data_and_staff_pages_are_not_cached(client: TestClient) -> None:
    op = _login(client, "operator")
    case_id = client.post("/api/v1/reports", json=GOOD).json()["case_id"]
    for path in (f"/api/v1/cases/{case_id}", "/api/v1/cases", "/operator"):
        r = client.get(path, headers=op)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        assert "no-store" in r.headers.get("cache-control", ""), path


def test_html_pages_called_with_a_bearer_token_do_not_fail(client: TestClient) -> None:
    pages = sorted(
        route.path
        for route in iter_routes(client.app)
        if "GET" in route.methods
        and "{" not in route.path
        and not route.path.startswith(("/api/", "/open311/", "/healthz"))
        and route.path != "/api/v1/stream"
    )
    assert len(pages) > 10
    for username in ("operator", "pupr.petugas", "crew", "admin"):
        try:
            headers = _login(client, username)
        except AssertionError:
            continue
        for path in pages:
            r = client.get(path, headers=headers, follow_redirects=False)
            assert r.status_code < 500, (username, path, r.status_code, r.text[:300])


def test_case_pages_survive_the_deepest_attributes_accepted(client: TestClient) -> None:
    body = {**GOOD, "attributes": json.loads(json.dumps(_deep(3)))}
    created = client.post("/api/v1/reports", json=body)
    assert created.status_code == 201, created.text
    case_id, ticket = created.json()["case_id"], created.json()["ticket"]
    op = _login(client, "operator")
    for path in (f"/api/v1/cases/{case_id}", f"/api/v1/tickets/{ticket}", f"/lacak/{ticket}"):
        assert client.get(path, headers=op).status_code == 200, path


def test_bad_input_battery_on_the_json_api(client: TestClient, db: Database) -> None:
    """NaN, infinities, swapped coordinates, giant numbers, bad UTF-8 and broken JSON: 4xx, nothing stored."""
    raw = [
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak parah", "lon": NaN, "lat": -3.0}',
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak parah", "lon": Infinity, "lat": -3.0}',
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak \xff\xfe parah", "lon": 114.39, "lat": -3.0}',
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak parah", "lon": 1e400, "lat": -3.0}',
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak parah", "lon": 114.39, "lat": -3.0',
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak parah", "lon": -3.0, "lat": 114.39}',
        b'{"service_code": "jalan_rusak", "description": "Jalan rusak parah", "lon": 114.39, "lat": -3.0, '
        b'"attributes": {"n": 99999999999999999999999999999999999999}}',
        b"[]",
        b'"teks"',
    ]
    for body in raw:
        r = client.post("/api/v1/reports", content=body, headers={"Content-Type": "application/json"})
        assert 400 <= r.status_code < 500, (body[:80], r.status_code, r.text[:200])
        assert "error" in r.json()
    assert _count(db, Report) == 0


def test_bad_input_on_open311_is_400_and_stores_nothing(client: TestClient, db: Database) -> None:
    key = create_api_key(db, "fms-bad")
    base = {"api_key": key, "service_code": "jalan_rusak", "lat": "-3.0", "long": "114.39"}
    for extra in (
        {"description": "ada\x00nul di sini"},
        {"description": "\u200b\u200b\u200b\u200b\u200b\u200b"},
        {"description": "Jalan rusak", "lat": "NaN"},
        {"description": "Jalan rusak", "long": "1e400"},
        {"description": "Jalan rusak", "attribute[x]": "a\x00b"},
    ):
        r = client.post("/open311/v2/requests.json", data={**base, **extra})
        assert 400 <= r.status_code < 500, (extra, r.status_code, r.text[:200])
    assert _count(db, Report) == 0
