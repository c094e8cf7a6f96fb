"""CSRF on the JSON API (issue 16, item 4): a cookie-authenticated unsafe request needs the session's token
and the same origin; bearer tokens and API keys need neither; a login cannot be posted from another site."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kotapintar.app.reference import DEMO_PASSWORD

GOOD = {
    "service_code": "jalan_rusak",
    "description": "Jalan berlubang di depan pasar",
    "lon": 114.39,
    "lat": -3.0,
}


def _cookie_login(client: TestClient, username: str = "operator") -> None:
    r = client.post("/api/v1/auth/session", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 204, r.text


def test_cookie_session_needs_the_token_for_unsafe_api_calls(client: TestClient) -> None:
    case_id = client.post("/api/v1/reports", json=GOOD).json()["case_id"]
    _cookie_login(client)
    me = client.get("/api/v1/me")
    assert me.status_code == 200 and me.json()["csrf_token"]
    token = me.json()["csrf_token"]
    refused = [
        client.post(f"/api/v1/cases/{case_id}/verify"),  # no token at all
        client.post(f"/api/v1/cases/{case_id}/verify", headers={"X-CSRF-Token": "palsu"}),
        client.post(  # a sibling subdomain's page, even with a token it somehow holds
            f"/api/v1/cases/{case_id}/verify", headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-site"}
        ),
        client.post(
            f"/api/v1/cases/{case_id}/verify",
            headers={"X-CSRF-Token": token, "Origin": "https://evil.example"},
        ),
        client.post(f"/api/v1/cases/{case_id}/notes", json={"text": "dari situs lain"}),
    ]
    for r in refused:
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed", r.text
    ok = client.post(
        f"/api/v1/cases/{case_id}/verify",
        headers={"X-CSRF-Token": token, "Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
    )
    assert ok.status_code == 200, ok.text
    assert client.get(f"/api/v1/cases/{case_id}").status_code == 200  # reading needs no token


def test_bearer_and_api_key_calls_need_no_csrf_token(client: TestClient) -> None:
    case_id = client.post("/api/v1/reports", json=GOOD).json()["case_id"]
    r = client.post("/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORD})
    bearer = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert client.post(f"/api/v1/cases/{case_id}/verify", headers=bearer).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"}],
    ids=["origin", "sec-fetch-site", "null-origin"],
)
def test_login_cannot_be_posted_from_another_site(client: TestClient, headers: dict[str, str]) -> None:
    r = client.post(
        "/api/v1/auth/session", data={"username": "operator", "password": DEMO_PASSWORD}, headers=headers
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf_failed"
    assert "kp_session" not in r.headers.get("set-cookie", "")
