"""Brute force, revocable sessions and tokens, password strength, production guard (issue 16, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.catalog.staff import create_user
from kotapintar.core.access import accounts
from kotapintar.core.access.actors import system_actor
from kotapintar.core.access.passwords import check_password
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
ADMIN = system_actor("tests")
STRONG = "Sungai-Kapuas-banjir-2026"


def _token(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> int | str:
    r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    return str(r.json()["access_token"]) if r.status_code == 200 else r.status_code


def _events(db: Database, type_: str) -> list[dict[str, object]]:
    with db.reading() as uow:
        return [dict(e.payload) for e in uow.events.after(0, 100_000) if e.type == type_]


def test_wrong_passwords_lock_the_account_then_the_right_one_is_429(client: TestClient, db: Database) -> None:
    codes = [_token(client, "admin", f"salah-{n}") for n in range(5)]
    assert codes == [401] * 5
    right = client.post("/api/v1/auth/token", data={"username": "admin", "password": DEMO_PASSWORD})
    assert right.status_code == 429 and int(right.headers["Retry-After"]) > 0
    assert right.json()["error"]["code"] == "login_throttled"
    assert any(
        e["username"] == "admin" and e["scope"] == "login-account" for e in _events(db, "login_throttled")
    )
    # the browser login is throttled the same way
    form = client.post("/api/v1/auth/session", data={"username": "admin", "password": DEMO_PASSWORD})
    assert form.status_code == 429
    assert isinstance(_token(client, "operator"), str)  # other accounts are not affected


def test_one_address_trying_many_accounts_is_throttled(client: TestClient) -> None:
    for n in range(20):
        assert _token(client, f"tebakan{n}", "salah-sekali") == 401
    assert _token(client, "operator") == 429


def test_logout_ends_the_server_side_session(client: TestClient) -> None:
    r = client.post("/api/v1/auth/session", data={"username": "operator", "password": DEMO_PASSWORD})
    assert r.status_code == 204
    cookie = client.cookies.get("kp_session")
    assert cookie and client.get("/api/v1/me").status_code == 200
    assert client.delete("/api/v1/auth/session").status_code == 204
    client.cookies.set("kp_session", cookie)  # an attacker kept a copy of the cookie
    assert client.get("/api/v1/me").status_code == 401


def test_bearer_token_can_be_revoked_by_its_holder(client: TestClient) -> None:
    token = _token(client, "operator")
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=bearer).status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def _new_user(db: Database, username: str) -> None:
    """A user of this test only (users are reference data kept between tests on PostgreSQL)."""
    create_user(
        db,
        ADMIN,
        username=username,
        password=STRONG,
        full_name=username,
        agency_code="pupr",
        roles=["agency_officer"],
    )


def test_disable_enable_and_reset_password_end_access_at_once(client: TestClient, db: Database) -> None:
    _new_user(db, "uji.petugas")
    token = _token(client, "uji.petugas", STRONG)
    bearer = {"Authorization": f"Bearer {token}"}
    client.post("/api/v1/auth/session", data={"username": "uji.petugas", "password": STRONG})
    change = accounts.disable_user(db, ADMIN, "uji.petugas")
    assert change.revoked == 2 and not change.active
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    assert client.get("/api/v1/me").status_code == 401  # the cookie session too
    assert _token(client, "uji.petugas", STRONG) == 401
    accounts.enable_user(db, ADMIN, "uji.petugas")
    token = _token(client, "uji.petugas", STRONG)
    assert isinstance(token, str)
    with pytest.raises(ValidationFailed):
        accounts.reset_password(db, ADMIN, "uji.petugas", "password12")
    accounts.reset_password(db, ADMIN, "uji.petugas", "Kapuas-jembatan-baru-88")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _token(client, "uji.petugas", STRONG) == 401
    assert isinstance(_token(client, "uji.petugas", "Kapuas-jembatan-baru-88"), str)
    kinds = {
        e["username"]
        for t in ("user_disabled", "user_enabled", "user_password_reset")
        for e in _events(db, t)
    }
    assert kinds == {"uji.petugas"}


def _cli(db: Database, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "KOTAPINTAR_DATABASE_URL": db.url,
        "KOTAPINTAR_ENVIRONMENT": "test",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "kotapintar", *args],
        cwd=REPO,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_disables_users_and_revokes_tokens(client: TestClient, db: Database) -> None:
    token = _token(client, "operator")
    bearer = {"Authorization": f"Bearer {token}"}
    run = _cli(db, "token", "revoke", str(token))
    assert run.returncode == 0, run.stderr
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    _new_user(db, "uji.cli")
    other = _token(client, "uji.cli", STRONG)
    run = _cli(db, "user", "disable", "uji.cli")
    assert run.returncode == 0, run.stderr
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {other}"}).status_code == 401
    assert _cli(db, "user", "enable", "uji.cli").returncode == 0
    run = _cli(db, "user", "reset-password", "uji.cli", env={"KOTAPINTAR_NEW_PASSWORD": "aaaaaaaaaa"})
    assert run.returncode == 2 and "mudah ditebak" in run.stderr


@pytest.mark.parametrize(
    "password",
    ["aaaaaaaaaa", " " * 10, "password12", "operator-baru", "kotapintar-demo", "bismillah123", "sayangkamu1"],
)
def test_weak_passwords_are_refused(password: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_password(password, username="operator-baru")
    assert refused.value.code == "weak_password" and refused.value.message


def test_demo_password_only_for_the_demo_and_strong_ones_pass(db: Database) -> None:
    check_password(DEMO_PASSWORD, allow_demo=True)
    check_password(STRONG, username="kepala.baru")
    with pytest.raises(ValidationFailed):
        create_user(
            db,
            ADMIN,
            username="kepala.baru",
            password=DEMO_PASSWORD,
            full_name="x",
            agency_code="pupr",
            roles=["agency_head"],
        )
    user = create_user(
        db,
        ADMIN,
        username="kepala.baru",
        password=STRONG,
        full_name="x",
        agency_code="pupr",
        roles=["agency_head"],
    )
    assert user.id


def test_production_refuses_short_secrets_and_forces_secure_cookies(tmp_path: Path) -> None:
    with pytest.raises(ValidationError):
        Settings(environment="production", secret_key="abcde")
    settings = Settings(environment="production", secret_key="x" * 40, cookie_secure=False)
    assert settings.cookie_secure is True


def test_production_refuses_the_demo_password_and_serve_demo(db: Database, settings: Settings) -> None:
    prod = settings.model_copy(update={"environment": "production", "secret_key": "y" * 48})
    with TestClient(create_app(prod, db=db)) as client:
        assert _token(client, "operator") == 401
    run = _cli(
        db, "serve", "--demo", env={"KOTAPINTAR_ENVIRONMENT": "production", "KOTAPINTAR_SECRET_KEY": "z" * 48}
    )
    assert run.returncode == 2 and "production" in run.stderr
