"""`kotapintar apikey create|revoke NAME` as an operator runs it, and what an Open311 client then sees."""

from __future__ import annotations

from typing import Any

import httpx
from typer.testing import CliRunner, Result

from kotapintar.app.cli import app
from kotapintar.core.db.database import Database
from kotapintar.core.settings import get_settings
from tests.open311.open311_support import LAT, LON, xml


def _cli(db: Database, *args: str) -> Result:
    """Run the real CLI in-process against the test database (as `kotapintar apikey …` would)."""
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, ["apikey", *args], env={"KOTAPINTAR_DATABASE_URL": db.url})
    finally:
        get_settings.cache_clear()


def test_cli_key_opens_and_revoke_closes_the_door(db: Database, live_server: Any) -> None:
    created = _cli(db, "create", "kabupaten-app")
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("kpk_") and len(key) > 30

    form = {
        "service_code": "jalan_rusak",
        "lat": LAT,
        "long": LON,
        "description": "Jalan rusak parah dekat dermaga",
    }
    with httpx.Client(base_url=live_server.url) as http:
        accepted = http.post("/open311/v2/requests.xml", data={**form, "api_key": key})
        assert accepted.status_code == 200, accepted.text
        assert xml(accepted).findtext("request/service_request_id")
        by_query = http.post(f"/open311/v2/requests.json?api_key={key}", data=form)
        assert by_query.status_code == 200

        duplicate = _cli(db, "create", "kabupaten-app")
        assert duplicate.exit_code != 0  # a second live key of the same name is refused

        revoked = _cli(db, "revoke", "kabupaten-app")
        assert revoked.exit_code == 0, revoked.output
        refused = http.post("/open311/v2/requests.xml", data={**form, "api_key": key})
        assert refused.status_code == 403
        assert xml(refused).findtext("error/code") == "403"
        assert http.post("/open311/v2/requests.xml", data=form).status_code == 403
        assert _cli(db, "revoke", "kabupaten-app").exit_code != 0
