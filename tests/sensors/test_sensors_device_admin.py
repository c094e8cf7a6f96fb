"""A city registers its own devices and gives each a real key: from a device file on the command line or over
the API, all or none with errors that name the line and field; issued keys replace the placeholder, survive a
re-import, and a key revoked by another process stops working in a running server within seconds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from kotapintar.app.cli import app as cli
from kotapintar.app.reference import DEMO_PASSWORD
from kotapintar.app.web import create_app
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors.engine.registry import hash_api_key
from kotapintar.sensors.repository import SensorRepository

DEVICE_FILE = """\
version: 1
defaults:
  water_level:
    owner_agency: bpbd
    interval_s: 600
    valid_range: {waterLevel: [-1.0, 15.0]}
devices:
  - {id: KPS-AWLR-90, name: "Pos Duga Air Sungai Kapuas Murung - Palingkau", kind: water_level,
     lon: 114.40, lat: -2.95, region: "62.03.01", river: Kapuas Murung, gauge_class: kapuas_hilir}
  - id: KPS-ARG-90
    name: "Penakar Hujan Palingkau"
    kind: rain_gauge
    owner_agency: bpbd
    interval_s: 600
    lon: 114.41
    lat: -2.96
    region: "62.03.01"
"""


@pytest.fixture
def runner(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI on the test database."""
    monkeypatch.setenv("KOTAPINTAR_DATABASE_URL", settings.database_url)
    from kotapintar.core.settings import get_settings

    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def reading(device_id: str, minutes_ago: int, value: float) -> dict[str, Any]:
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return {"deviceId": device_id, "waterLevel": value, "observedAt": at.isoformat()}


def post(client: TestClient, key: str, body: dict[str, Any]) -> int:
    return int(client.post("/api/v1/sensors/ingest", json=body, headers={"X-Device-Key": key}).status_code)


def test_register_a_device_file_and_issue_keys_from_the_command_line(
    runner: CliRunner, db: Database, settings: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "perangkat.yaml"
    path.write_text(DEVICE_FILE, encoding="utf-8")
    first = runner.invoke(cli, ["sensors", "register", str(path)])
    assert first.exit_code == 0, first.output
    assert "2 devices created, 0 updated" in first.output
    with db.reading() as uow:
        rows = {r.id: r for r in SensorRepository(uow.session).devices()}
    assert rows["KPS-AWLR-90"].owner_agency == "bpbd" and rows["KPS-AWLR-90"].interval_s == 600

    issued = runner.invoke(cli, ["sensors", "issue-key", "KPS-AWLR-90"])
    assert issued.exit_code == 0, issued.output
    key = issued.stdout.strip().splitlines()[0]
    assert len(key) >= 24
    placeholder = sensor_devices.device_api_key(settings, "KPS-AWLR-90")

    with TestClient(create_app(settings, db=db)) as client:
        assert post(client, key, reading("KPS-AWLR-90", 20, 1.4)) == 202
        assert post(client, placeholder, reading("KPS-AWLR-90", 10, 1.5)) == 403  # the placeholder is gone
        # Registering the file again (e.g. after editing a name) keeps the issued key.
        again = runner.invoke(cli, ["sensors", "register", str(path)])
        assert "0 devices created, 2 updated" in again.output
        with db.reading() as uow:
            row = SensorRepository(uow.session).device("KPS-AWLR-90")
            assert row is not None and row.api_key_hash == hash_api_key(key)
            assert row.spec["api_key_hash"] == row.api_key_hash  # the registry is built from the spec
        assert post(client, key, reading("KPS-AWLR-90", 5, 1.6)) == 202
        # A second key replaces the first (the server sees the CLI's change on its next request).
        newer = runner.invoke(cli, ["sensors", "issue-key", "KPS-AWLR-90"]).stdout.strip().splitlines()[0]
        assert post(client, key, reading("KPS-AWLR-90", 4, 1.6)) == 403
        assert post(client, newer, reading("KPS-AWLR-90", 3, 1.6)) == 202
    assert "not shown again" in issued.stderr

    unknown = runner.invoke(cli, ["sensors", "issue-key", "NO-SUCH-DEVICE"])
    assert unknown.exit_code == 2 and "NO-SUCH-DEVICE" in unknown.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ("lat: -2.96", "lat: -92.96"),
            "line 10 (KPS-ARG-90): lat: Input should be greater than or equal to -90",
        ),
        (('region: "62.03.01"\n', 'region: "62.99.01"\n'), "wilayah 62.99.01 tidak dikenal"),
        (("owner_agency: bpbd\n    interval", "owner_agency: dinas-x\n    interval"), "instansi dinas-x"),
        (
            ("id: KPS-ARG-90", "id: KPS-AWLR-90"),
            "line 10: ID perangkat ganda / duplicate device id KPS-AWLR-90",
        ),
        (("devices:\n", "devices: [\n"), "YAML tidak sah"),
    ],
)
def test_a_bad_device_file_registers_nothing_and_says_where(
    runner: CliRunner, db: Database, tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    path = tmp_path / "perangkat.yaml"
    old, new = change
    assert old in DEVICE_FILE
    path.write_text(DEVICE_FILE.replace(old, new, 1), encoding="utf-8")
    result = runner.invoke(cli, ["sensors", "register", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr
    with db.reading() as uow:
        ids = {r.id for r in SensorRepository(uow.session).devices()}
    assert not ids & {"KPS-AWLR-90", "KPS-ARG-90"}  # all or none: the good entry is not registered either


def test_administrators_register_devices_and_issue_keys_over_the_api(
    db: Database, settings: Settings
) -> None:
    device = {
        "id": "KPS-AQ-90",
        "name": "Stasiun Kualitas Udara Selat",
        "kind": "air_quality",
        "lon": 114.37,
        "lat": -3.01,
        "region": "62.03.01",
        "owner_agency": "dlh",
        "interval_s": 600,
        "valid_range": {"pm25": [0, 1000]},
    }
    with TestClient(create_app(settings, db=db)) as client:
        assert client.post("/api/v1/sensors/devices", json=device).status_code == 401

        def login(username: str) -> dict[str, str]:
            r = client.post("/api/v1/auth/token", data={"username": username, "password": DEMO_PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        operator, admin = login("operator"), login("admin")
        assert client.post("/api/v1/sensors/devices", json=device, headers=operator).status_code == 403
        bad = client.post(
            "/api/v1/sensors/devices", json=[device, {**device, "id": "X", "lat": 120}], headers=admin
        )
        assert bad.status_code == 422
        assert "device 2 (X): lat: Input should be less than or equal to 90" in bad.json()["error"]["message"]
        keyed = client.post(
            "/api/v1/sensors/devices", json={**device, "api_key_hash": "0" * 64}, headers=admin
        )
        assert keyed.status_code == 422 and "/key" in keyed.json()["error"]["message"]
        assert "KPS-AQ-90" not in sensor_devices.sensor_context(db, settings).devices

        made = client.post("/api/v1/sensors/devices", json=device, headers=admin)
        assert made.status_code == 201, made.text
        assert made.json() == {"created": 1, "updated": 0, "devices": ["KPS-AQ-90"]}
        assert client.post("/api/v1/sensors/devices/KPS-AQ-90/key", headers=operator).status_code == 403
        issued = client.post("/api/v1/sensors/devices/KPS-AQ-90/key", headers=admin)
        assert issued.status_code == 201
        key = issued.json()["api_key"]
        at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0).isoformat()
        body = {"deviceId": "KPS-AQ-90", "pm25": 180.0, "observedAt": at}
        assert post(client, key, body) == 202
        assert client.post("/api/v1/sensors/devices/NOPE/key", headers=admin).status_code == 404


def test_a_key_revoked_by_another_process_stops_working_in_a_running_server(
    db: Database, settings: Settings
) -> None:
    sensor_devices.load_demo_devices(db, system_actor("tests"))
    server_db = Database(db.url)  # the server's own engine and registry cache, as in another process
    try:
        with TestClient(create_app(settings, db=server_db)) as client:
            old = sensor_devices.device_api_key(settings, "KPS-AWLR-02")
            assert post(client, old, reading("KPS-AWLR-02", 30, 1.2)) == 202  # registry now cached
            new = sensor_devices.issue_device_key(
                db, system_actor("cli"), "KPS-AWLR-02"
            )  # the CLI, elsewhere: no wait, the next request sees the bumped sensors version
            assert post(client, old, reading("KPS-AWLR-02", 20, 1.2)) == 403
            assert post(client, new, reading("KPS-AWLR-02", 10, 1.2)) == 202
    finally:
        server_db.dispose()
