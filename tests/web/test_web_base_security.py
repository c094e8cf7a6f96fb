"""CSRF tokens bound to a session, the `require_csrf` dependency, and the security headers."""

from __future__ import annotations

import time

import pytest
from fastapi import Depends, FastAPI, Form, Request
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from kotapintar.core.http.security import (
    SecurityHeadersMiddleware,
    build_csp,
    configure_csrf,
    issue_csrf_token,
    require_csrf,
    security_headers,
    tile_origin,
    verify_csrf_token,
)

SECRET = "another-test-secret-abcdef"


def test_token_verifies_only_for_its_session_and_secret() -> None:
    token = issue_csrf_token("session-a", SECRET)
    assert verify_csrf_token(token, "session-a", SECRET)
    assert not verify_csrf_token(token, "session-b", SECRET)
    assert not verify_csrf_token(token, "session-a", "other-secret")
    assert not verify_csrf_token(token + "x", "session-a", SECRET)
    assert not verify_csrf_token("", "session-a", SECRET)
    assert not verify_csrf_token(None, "session-a", SECRET)
    assert not verify_csrf_token(token, None, SECRET)


def test_token_does_not_reveal_the_session_id_and_is_fresh_each_time() -> None:
    session_id = "very-secret-session-id-123"
    first, second = issue_csrf_token(session_id, SECRET), issue_csrf_token(session_id, SECRET)
    assert first != second
    assert session_id not in first
    assert verify_csrf_token(first, session_id, SECRET) and verify_csrf_token(second, session_id, SECRET)


def test_token_expires_with_max_age(monkeypatch: pytest.MonkeyPatch) -> None:
    token = issue_csrf_token("s", SECRET)
    assert verify_csrf_token(token, "s", SECRET, max_age_s=60)
    later = time.time() + 120
    monkeypatch.setattr("itsdangerous.timed.time.time", lambda: later)
    assert not verify_csrf_token(token, "s", SECRET, max_age_s=60)
    assert verify_csrf_token(token, "s", SECRET)  # no max age: still valid


def test_issuing_without_a_session_is_refused() -> None:
    with pytest.raises(ValueError):
        issue_csrf_token("", SECRET)


@given(st.text(max_size=200))
def test_random_strings_never_verify(candidate: str) -> None:
    assert not verify_csrf_token(candidate, "session-a", SECRET)


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(SecurityHeadersMiddleware, tile_url="https://{s}.tile.example.org/{z}/{x}/{y}.png")
    configure_csrf(app, secret=SECRET, session_id=lambda request: request.cookies.get("sid"))

    @app.get("/form", dependencies=[Depends(require_csrf)])
    def show() -> dict[str, str]:
        return {"ok": "get is safe"}

    @app.post("/form", dependencies=[Depends(require_csrf)])
    def submit(title: str = Form(...)) -> dict[str, str]:
        return {"title": title}

    @app.post("/api", dependencies=[Depends(require_csrf)])
    async def api(request: Request) -> dict[str, object]:
        return {"body": await request.json()}

    return app


@pytest.fixture
def client() -> TestClient:
    client = TestClient(make_app())
    client.cookies.set("sid", "session-a")
    return client


def test_safe_methods_need_no_token(client: TestClient) -> None:
    assert client.get("/form").status_code == 200


def test_form_with_valid_token_is_accepted_and_fields_still_parse(client: TestClient) -> None:
    token = issue_csrf_token("session-a", SECRET)
    response = client.post("/form", data={"csrf_token": token, "title": "Jalan berlubang"})
    assert response.status_code == 200
    assert response.json() == {"title": "Jalan berlubang"}


def test_multipart_form_with_valid_token_is_accepted(client: TestClient) -> None:
    token = issue_csrf_token("session-a", SECRET)
    response = client.post(
        "/form",
        data={"csrf_token": token, "title": "x"},
        files={"photo": ("a.jpg", b"\xff\xd8", "image/jpeg")},
    )
    assert response.status_code == 200


def test_header_token_is_accepted_for_json(client: TestClient) -> None:
    token = issue_csrf_token("session-a", SECRET)
    response = client.post("/api", json={"a": 1}, headers={"X-CSRF-Token": token})
    assert response.status_code == 200 and response.json() == {"body": {"a": 1}}


def test_missing_token_is_rejected_with_an_indonesian_message(client: TestClient) -> None:
    response = client.post("/form", data={"title": "x"})
    assert response.status_code == 403
    assert "Formulir kedaluwarsa" in response.json()["detail"]


def test_rejection_message_follows_the_locale(client: TestClient) -> None:
    response = client.post("/form", data={"title": "x"}, headers={"Accept-Language": "en"})
    assert response.status_code == 403
    assert "The form has expired" in response.json()["detail"]


def test_token_of_another_session_is_rejected(client: TestClient) -> None:
    stolen = issue_csrf_token("session-b", SECRET)
    assert client.post("/form", data={"csrf_token": stolen, "title": "x"}).status_code == 403
    assert client.post("/api", json={}, headers={"X-CSRF-Token": stolen}).status_code == 403


def test_no_session_cookie_means_rejection() -> None:
    client = TestClient(make_app())
    token = issue_csrf_token("session-a", SECRET)
    assert client.post("/form", data={"csrf_token": token, "title": "x"}).status_code == 403


def test_cross_site_fetch_is_rejected_even_with_a_token(client: TestClient) -> None:
    token = issue_csrf_token("session-a", SECRET)
    response = client.post("/api", json={}, headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403


def test_unconfigured_csrf_fails_loudly() -> None:
    app = FastAPI()

    @app.post("/x", dependencies=[Depends(require_csrf)])
    def x() -> None:
        return None

    with pytest.raises(RuntimeError, match="configure_csrf"):
        TestClient(app).post("/x")


def test_tile_host_is_allowed_for_images_only(client: TestClient) -> None:
    csp = client.get("/form").headers["content-security-policy"]
    img = next(part for part in csp.split("; ") if part.startswith("img-src"))
    assert "https://*.tile.example.org" in img
    assert csp.count("tile.example.org") == 1


def test_tile_origin() -> None:
    assert tile_origin(None) is None
    assert tile_origin("/tiles/{z}/{x}/{y}.png") is None
    assert tile_origin("https://tiles.example.id/{z}/{x}/{y}.png") == "https://tiles.example.id"
    assert tile_origin("https://{s}.tile.example.org/{z}/{x}/{y}.png") == "https://*.tile.example.org"


def test_default_csp_and_headers() -> None:
    assert build_csp().startswith("default-src 'self'; img-src 'self' data: blob:;")
    headers = security_headers()
    assert "Strict-Transport-Security" not in headers
    assert "max-age" in security_headers(hsts=True)["Strict-Transport-Security"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
