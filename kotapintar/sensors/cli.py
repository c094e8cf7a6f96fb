"""`kotapintar sensors ...`: register devices, run the MQTT ingest loop, staleness tick, retention, quality."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import typer

# The database stack and the sensor services are imported inside each command: `kotapintar --help`
# must not pay for SQLAlchemy and the store (see tests/spine/test_cli_startup.py).

app = typer.Typer(help="Sensor kota terpadu / integrated city sensors.", no_args_is_help=True)


@app.command("load-demo")
def load_demo() -> None:
    """Register the shipped Kapuas demo devices (idempotent)."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import devices as sensor_devices

    db = open_database(get_settings())
    n = sensor_devices.load_demo_devices(db, system_actor("cli"))
    typer.echo(f"{n} perangkat demo terdaftar / demo devices registered")


@app.command("register")
def register(
    path: Path = typer.Argument(
        ..., help="device file (YAML, the format of kotapintar/sensors/data/devices.yaml)"
    ),
) -> None:
    """Register or update the devices of a file; all or none (an error names the line and the field).

    Keys issued with `issue-key` are kept when a device is registered again."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import devices as sensor_devices
    from kotapintar.sensors.engine.registry import load_devices

    try:
        devices = load_devices(path)
        created, updated = sensor_devices.register_devices(
            open_database(get_settings()), system_actor("cli"), devices
        )
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(
        f"{created} perangkat baru, {updated} diperbarui / {created} devices created, {updated} updated"
    )


@app.command("issue-key")
def issue_key(device_id: str) -> None:
    """Give a device a new random API key (printed once; only its hash is stored). The old key stops
    working at once here and within a few seconds in a running server and its ingest worker."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.errors import DomainError
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import devices as sensor_devices

    try:
        key = sensor_devices.issue_device_key(open_database(get_settings()), system_actor("cli"), device_id)
    except DomainError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(key)
    typer.echo(
        f"kunci API baru untuk {device_id} — simpan sekarang, tidak ditampilkan lagi / new API key for "
        f"{device_id}: store it now, it is not shown again",
        err=True,
    )


@app.command("demo-key")
def demo_key(device_id: str) -> None:
    """Print the placeholder API key of a demo device (derived from KOTAPINTAR_SENSOR_KEY_SECRET)."""
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import devices as sensor_devices

    typer.echo(sensor_devices.device_api_key(get_settings(), device_id))


@app.command("ingest-mqtt")
def ingest_mqtt(
    url: str | None = typer.Option(None, help="broker URL; default KOTAPINTAR_MQTT_URL"),
) -> None:
    """Subscribe to the FIWARE topics (/<apiKey>/<deviceId>/attrs, /ul/…, /json/…) and ingest until Ctrl-C."""
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors.runtime import MqttIngestor

    settings = get_settings()
    broker = url or settings.mqtt_url
    if not broker:
        typer.echo("error: no broker: pass --url or set KOTAPINTAR_MQTT_URL", err=True)
        raise typer.Exit(2)
    db = open_database(settings)
    ingestor = MqttIngestor(db, settings, broker, worker_process=settings.sensor_ingest_process)
    ingestor.start()
    typer.echo(f"mendengarkan / listening on {broker} (Ctrl-C untuk berhenti)")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        typer.echo("berhenti / stopping")
    finally:
        ingestor.stop()
        s = ingestor.stats
        typer.echo(
            f"received {s.received}, stored {s.stored}, rejected {s.rejected}, cases opened {s.cases_opened}, "
            f"dropped (backlog full) {s.dropped}, lost (worker died) {s.lost}"
        )


@app.command("tick")
def tick() -> None:
    """Evaluate the clock-driven rules once (a silent critical gauge goes stale)."""
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import ingest as sensor_ingest

    out = sensor_ingest.tick_sensors(open_database(get_settings()))
    typer.echo(json.dumps(out.as_dict(), ensure_ascii=False))


@app.command("retention")
def retention() -> None:
    """Delete raw readings older than the retention period (rollups stay)."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import ingest as sensor_ingest

    out = sensor_ingest.apply_retention(open_database(get_settings()), system_actor("cli"))
    typer.echo(json.dumps(out))


@app.command("quality")
def quality(hours: int = 24) -> None:
    """Print the data-quality summary per kind and device."""
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors import queries as sensor_queries

    report = sensor_queries.quality_report(open_database(get_settings()), hours=hours)
    for kind, s in report["kinds"].items():
        typer.echo(f"{kind:14} lengkap {s['completeness_pct']:6.2f}%  bertanda {s['flagged_pct']:6.2f}%")
    for d in report["devices"]:
        q = d["quality"]
        typer.echo(
            f"  {d['id']:16} {d['health']:10} lengkap {q['completeness_pct']:6.2f}%  "
            f"bertanda {q['flagged_pct']:6.2f}%  terakhir {d['last_seen'] or '-'}"
        )
