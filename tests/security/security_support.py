"""What the security tests share: a staff bearer login (the `client` fixture is in conftest.py)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from kotapintar.app.reference import DEMO_PASSWORD


def login(client: TestClient, username: str) -> dict[str, str]:
    """A demo user's bearer token header."""
    r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}
