"""What the interop tests share: the official examples, the devices they name, and the outside clients' venv."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors.engine.registry import Device, hash_api_key
from tests.conftest import REPO, skip_or_fail

DATA = Path(__file__).resolve().parent / "data"
# One key for every example device: a gateway (or a context broker) posting for several devices.
GATEWAY_KEY = "kunci-gerbang-interop-18"
CLIENTS_PYTHON = Path(os.environ.get("KOTAPINTAR_INTEROP_PYTHON", REPO / ".venv-clients" / "bin" / "python"))


def example(name: str) -> Any:
    """An official Smart Data Models example (tests/interop/data/sdm), parsed."""
    return json.loads((DATA / "sdm" / name).read_text(encoding="utf-8"))


def _device(device_id: str, kind: str, **extra: Any) -> Device:
    return Device(
        id=device_id,
        name=f"Perangkat contoh resmi {device_id}",
        kind=kind,
        lon=114.38,
        lat=-3.0,
        region="62.03.01",
        owner_agency="bpbd",
        interval_s=600,
        api_key_hash=hash_api_key(GATEWAY_KEY),
        **extra,
    )


# The devices the official examples name (refDevice, else the local part of the entity id).
EXAMPLE_DEVICES = {
    "AirQualityObserved": _device("Madrid-AmbientObserved-28079004-2016-03-15T11:00:00", "air_quality"),
    "WaterObserved": _device("T2-NP-018", "water_level"),
    "WeatherObserved": _device("device-0A3478", "weather"),
    "FloodMonitoring": _device("Pune-NoiseLevelObserved", "water_level"),
}


def register_example_devices(db: Database) -> None:
    """Register the example devices through the real service, with the gateway key."""
    sensor_devices.register_devices(db, system_actor("tests"), list(EXAMPLE_DEVICES.values()))


def clients_python() -> Path:
    """The interpreter of the outside clients' own venv (`make interop-clients`); their pins (httpx < 0.24,
    lxml 4.6) cannot live in the project's venv."""
    if not CLIENTS_PYTHON.exists():
        skip_or_fail(f"outside clients not installed ({CLIENTS_PYTHON}); run `make interop-clients`")
    return CLIENTS_PYTHON


def run_client(script: str, *args: str, timeout: float = 120) -> Any:
    """Run a script under tests/interop/clients with the outside clients' interpreter; the last line of its
    stdout is JSON (clients print their own progress lines before it)."""
    done = subprocess.run(
        [str(clients_python()), str(Path(__file__).resolve().parent / "clients" / script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout.strip().splitlines()[-1])
