"""`kotapintar …`: the command line of the command center (Typer).

Only Typer and the light domain names that command signatures need (`Role`, `DomainError`) are imported
at module level; settings, the database stack, services, scikit-learn and the routing stack are imported
inside the commands that use them, so `kotapintar --help` and quick commands start in a fraction of a
second (tests/spine/test_cli_startup.py keeps it that way).
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from kotapintar.admin import cli as admin_commands
from kotapintar.analytics import cli as report_commands
from kotapintar.app import cli_access
from kotapintar.core.access.roles import Role
from kotapintar.core.errors import DomainError
from kotapintar.dispatch import cli as dispatch_commands
from kotapintar.indicators import cli as indicator_commands
from kotapintar.sensors import cli as sensors_commands
from kotapintar.sop import cli as sop_commands
from kotapintar.triage import cli as triage_commands

app = typer.Typer(help="Kotapintar: command center kabupaten/kota.", no_args_is_help=True)


@app.callback()
def _wire_features() -> None:
    """Every command runs with the features' hooks wired (cheap: it only registers functions)."""
    from kotapintar.app.wiring import wire

    wire()


db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
import_app = typer.Typer(help="Import reference data.", no_args_is_help=True)
load_app = typer.Typer(help="Load shipped data.", no_args_is_help=True)
user_app = typer.Typer(help="User accounts.", no_args_is_help=True)
apikey_app = typer.Typer(help="API keys of client applications (e.g. Open311 clients).", no_args_is_help=True)
audit_app = typer.Typer(help="Tamper-evidence of the event log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(import_app, name="import")
app.add_typer(load_app, name="load")
app.add_typer(user_app, name="user")
app.add_typer(apikey_app, name="apikey")
app.add_typer(audit_app, name="audit")
app.add_typer(sop_commands.app, name="sop")
app.add_typer(triage_commands.app, name="triage")
app.add_typer(dispatch_commands.app, name="dispatch")
app.add_typer(sensors_commands.app, name="sensors")
app.add_typer(report_commands.app, name="report")  # monthly accountability report (issue 15)
app.add_typer(report_commands.analytics_app, name="analytics")  # rebuild the analytics rollup (issue 15)
app.add_typer(indicator_commands.app, name="indicators")  # smart-city indicators (issue 15)
cli_access.register(app, user_app)  # user disable|enable|reset-password, token revoke (issue 16)
admin_commands.register(app, import_app)  # setup, export, import roads (issue 21)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database to the newest schema."""
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    open_database(settings)
    typer.echo(f"database at newest schema: {settings.database_url}")


@db_app.command("revision")
def db_revision(message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration (developers): compare tables.py with the database."""
    from kotapintar.core.db.migrate import revision as make_revision
    from kotapintar.core.settings import get_settings

    make_revision(get_settings().database_url, message)


@db_app.command("partitions")
def db_partitions(
    ahead: Annotated[
        int, typer.Option("--ahead", min=0, max=120, help="months of partitions to have made after this one")
    ] = 3,
    drop_older_than: Annotated[
        str | None,
        typer.Option(
            "--drop-older-than",
            help="sensor readings only: drop each month whose every reading is older than this "
            "(90d, 12w, 6m, 1y or a date such as 2026-01-01); events are never dropped",
        ),
    ] = None,
) -> None:
    """PostgreSQL: make the monthly partitions of `events` and sensor readings ahead; drop old readings."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import OperationalError

    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db import partitions as parts
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sensors.partitions import drop_old_readings

    settings = get_settings()
    now = datetime.now(UTC)
    try:
        cutoff = parts.cutoff_of(drop_older_than, now) if drop_older_than is not None else None
    except DomainError as exc:
        _fail(str(exc))
        return
    db = open_database(settings, migrate=False)
    if not db.is_postgres:
        if cutoff is not None:
            _fail(
                "SQLite tables are not partitioned: use `kotapintar sensors retention` to delete old readings"
            )
        typer.echo("SQLite: tables are not partitioned; nothing to do")
        return
    try:
        for name, made in parts.ensure_all_ahead(db, ahead, now).items():
            typer.echo(f"{name}: made {', '.join(made)}" if made else f"{name}: months ahead already made")
        if cutoff is not None:
            gone = drop_old_readings(db, system_actor("cli"), cutoff, settings=settings)
            for month in gone:
                typer.echo(
                    f"dropped {month.partition.name} ({month.readings} readings; 1-minute rollups kept)"
                )
            if not gone:
                typer.echo(f"no month of sensor readings lies wholly before {cutoff:%Y-%m-%d %H:%M} UTC")
        with db.engine.connect() as conn:
            for table in parts.TABLES:
                months = [p for p in parts.partitions(conn, table.name) if not p.is_default]
                waiting = parts.rows_in_default(conn, table)
                span = f"{months[0].name} … {months[-1].name}" if months else "none"
                typer.echo(f"{table.name}: {len(months)} months ({span}); {waiting} rows in DEFAULT")
    except DomainError as exc:
        _fail(str(exc))
    except OperationalError as exc:  # lock_timeout: a long query held the table
        _fail(f"the database did not let go of the table in time, try again: {exc.orig}")


@import_app.command("regions")
def import_regions_cmd(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Load administrative regions from a GeoJSON FeatureCollection with `kode` and `nama` properties."""
    from kotapintar.catalog.regions import import_regions_file
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings())
    try:
        result = import_regions_file(db, system_actor("cli"), file)
    except DomainError as exc:
        _fail(str(exc))
        return
    levels = ", ".join(f"{n} {level}" for level, n in sorted(result.levels.items()))
    typer.echo(f"loaded {result.loaded} regions ({result.created} new, {result.updated} updated): {levels}")
    typer.echo(f"skipped {len(result.skipped)}")
    for index, why in result.skipped:
        typer.echo(f"  feature #{index}: {why}")


@load_app.command("demo")
def load_demo_cmd() -> None:
    """Load the demo city (Kabupaten Kapuas): regions, agencies, catalogue, units and demo users."""
    from kotapintar.app.reference import DEMO_PASSWORD, load_demo_city
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings())
    out = load_demo_city(db, system_actor("cli"))
    typer.echo(
        f"demo city loaded: {out.regions} regions, {out.agencies} agencies, {out.services} services, "
        f"{out.units} units, {out.users} new users (password: {DEMO_PASSWORD})"
    )


@load_app.command("reference")
def load_reference_cmd() -> None:
    """Load the shipped agencies and service catalogue only (a real deployment)."""
    from kotapintar.app.reference import load_reference_data
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings())
    out = load_reference_data(db, system_actor("cli"))
    typer.echo(f"loaded {out.agencies} agencies and {out.services} services")


@user_app.command("create")
def user_create(
    role: Annotated[list[Role], typer.Option("--role", help="repeatable")],
    username: Annotated[str, typer.Option(prompt=True)],
    agency: Annotated[str, typer.Option(help="agency code")] = "diskominfo",
    full_name: Annotated[str | None, typer.Option()] = None,
    position: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Create a user (the first admin too). The password comes from KOTAPINTAR_NEW_PASSWORD or a prompt."""
    from kotapintar.catalog import staff
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    password = os.environ.get("KOTAPINTAR_NEW_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            _fail("no terminal to ask for a password; set KOTAPINTAR_NEW_PASSWORD")
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            _fail("the two passwords differ")
    db = open_database(get_settings())
    try:
        user = staff.create_user(
            db,
            system_actor("cli"),
            username=username,
            password=password or "",
            full_name=full_name or username,
            agency_code=agency,
            roles=[r.value for r in role],
            position=position,
        )
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(f"created user {user.username} ({', '.join(user.roles)}) in {user.agency_code}")


@apikey_app.command("create")
def apikey_create(name: str) -> None:
    """Create a key for a client application and print it (shown once)."""
    from kotapintar.core.access import auth
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings())
    try:
        key = auth.create_api_key(db, name)
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(key)


@apikey_app.command("revoke")
def apikey_revoke(name: str) -> None:
    """Revoke a client application's key."""
    from kotapintar.core.access import auth
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings())
    try:
        auth.revoke_api_key(db, name)
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(f"revoked {name}")


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Path | None,
        typer.Option("--checkpoint", exists=True, dir_okay=False, help="a signed checkpoint taken earlier"),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key", help="the trusted signer (base64 raw Ed25519); default: the configured key"
        ),
    ] = None,
    projections: Annotated[
        bool,
        typer.Option("--projections", help="rebuild case rows and reporter fingerprints from the events"),
    ] = False,
) -> None:
    """Walk every hash chain of the event log; exit 1 and name the first bad event on tampering.

    With --checkpoint, also prove nothing was rewritten since that signed checkpoint (recomputed chains,
    deleted streams, rewound anchors); with --projections, compare the case and reporter rows with the log.
    """
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.events.audit import iter_report, verify_log
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    db = open_database(settings, migrate=False)
    result = verify_log(db)
    for line in iter_report(result):
        typer.echo(line)
    failed = not result.ok
    if checkpoint is not None:
        failed = _verify_checkpoint(db, settings, checkpoint, public_key) or failed
    if projections:
        from kotapintar.cases.projections import check_projections

        checked, problems = check_projections(db)
        if problems:
            typer.echo(
                f"PROJECTIONS: {len(problems)} row(s) differ from the event log ({checked} cases checked)."
            )
            for problem in problems:
                typer.echo(f"  {problem}")
            failed = True
        else:
            typer.echo(f"OK: {checked} case rows and their reporters match the event log.")
    if failed:
        raise typer.Exit(1)


@app.command("check")
def check() -> None:
    """Check the invariants over the whole database; exit 1 and name every offending row."""
    from kotapintar.app.integrity import check_database
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings(), migrate=False)
    problems = check_database(db)
    for problem in problems:
        typer.echo(problem.line())
    if problems:
        typer.echo(f"{len(problems)} masalah / problems found", err=True)
        raise typer.Exit(1)
    typer.echo("OK: semua invarian terpenuhi / every invariant holds")


def _verify_checkpoint(db: Any, settings: Any, path: Path, public_key: str | None) -> bool:
    """Print what changed since the signed checkpoint at `path`; True when something did."""
    from kotapintar.core.events import checkpoint as cp

    data = cp.read_checkpoint(path)
    trusted = None
    if public_key:
        trusted = cp.public_key_from_b64(public_key)
    elif settings.audit_signing_key_path is not None:
        trusted = cp.load_private_key(settings.audit_signing_key_path).public_key()
    bad_signature = cp.signature_problem(data, trusted)
    if bad_signature is not None:
        typer.echo(f"CHECKPOINT REFUSED: {bad_signature}")
        return True
    problems = cp.compare_with_log(db, data)
    if problems:
        typer.echo(
            f"REWRITTEN SINCE CHECKPOINT {data['created_at']} ({data['count']} events, root {str(data['root'])[:16]}…):"
        )
        for problem in problems:
            typer.echo(f"  {problem}")
        return True
    typer.echo(
        f"OK: the {data['count']} events signed at {data['created_at']} (root {str(data['root'])[:16]}…) are unchanged."
    )
    return False


@audit_app.command("keygen")
def audit_keygen(
    out: Annotated[Path, typer.Option("--out", help="where to write the private key (PEM)")],
) -> None:
    """Create the Ed25519 key that signs checkpoints; keep it outside the database (set KOTAPINTAR_AUDIT_SIGNING_KEY_PATH)."""
    from kotapintar.core.events.checkpoint import generate_key

    if out.exists():
        _fail(f"{out} exists; refusing to overwrite a signing key")
    typer.echo(f"key {generate_key(out)} written to {out}")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Sign and publish a checkpoint of the event log now (the worker does this periodically)."""
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.events.checkpoint import publish_checkpoint
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    done = publish_checkpoint(open_database(settings, migrate=False), settings)
    if done is None:
        _fail("no signing key: set KOTAPINTAR_AUDIT_SIGNING_KEY_PATH (kotapintar audit keygen --out FILE)")
        return
    typer.echo(
        f"checkpoint of {done['count']} events, root {done['root']}, written to {settings.audit_checkpoint_path}"
    )


@app.command("serve")
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    demo: Annotated[bool, typer.Option(help="load the demo city and keep synthetic reports flowing")] = False,
) -> None:
    """Run the web server with every background loop in one process (= `kotapintar run all`)."""
    from kotapintar.app.reference import DEMO_PASSWORD, load_demo_city
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    settings = get_settings()
    if demo and settings.environment == "production":
        _fail(
            "serve --demo menolak berjalan di produksi (kata sandi demo dipublikasikan) / "
            "serve --demo refuses to run in production: the demo password is public."
        )
    from kotapintar.core.settings import served_base_url

    db = open_database(settings)
    _refuse_unready_production(settings, db)
    if not settings.public_base_url.strip():  # development/demo: the address this server is reached at
        settings.public_base_url = served_base_url(host, port)
    simulator = None
    if demo:
        from kotapintar.sim.reports import DemoSimulator

        out = load_demo_city(db, system_actor("demo"))
        base = settings.public_base_url.rstrip("/")
        typer.echo(
            "\n".join(
                [
                    "",
                    f"Kotapintar demo — Kabupaten Kapuas ({out.regions} wilayah, {out.agencies} instansi, "
                    f"{out.services} layanan, {out.units} unit)",
                    f"  live cases        {base}/",
                    f"  command center    {base}/operator      (log in at {base}/masuk)",
                    f"  agency inbox      {base}/instansi      supervisor {base}/supervisor",
                    f"  112 call-taking   {base}/112",
                    f"  public portal     {base}/beranda       report form {base}/lapor",
                    f"  SOP library       {base}/sop           open data {base}/data",
                    f"  API documentation {base}/docs",
                    f"  live event stream {base}/api/v1/stream",
                    f"  demo logins (password '{DEMO_PASSWORD}'): admin, operator, supervisor, "
                    "pupr.petugas, bpbd.petugas, polres.liaison, …",
                    f"  token: curl -d username=operator -d password={DEMO_PASSWORD} {base}/api/v1/auth/token",
                    "",
                ]
            )
        )
        if settings.demo_report_interval_s > 0:
            simulator = DemoSimulator(db, interval_s=settings.demo_report_interval_s)
            simulator.start()
    _serve_role(settings, db, "all", host, port, demo=demo, simulator=simulator)


def _refuse_unready_production(settings: Any, db: Any) -> None:
    """A production web server does not start half set up: every gap is named at once with the command or
    setting that fills it (the public address links are built on, the kabupaten boundary, a service
    catalogue, an admin) — never a 500 on the first citizen's report."""
    if settings.environment != "production":
        return
    from kotapintar.admin.readiness import missing_setup
    from kotapintar.core.settings import public_base_url_problem

    problems = [p for p in [public_base_url_problem(settings)] if p is not None]
    problems += missing_setup(db, settings.region_code)
    if problems:
        _fail("server belum siap / not set up:\n  " + "\n  ".join(problems))


def _serve_role(
    settings: Any, db: Any, role: str, host: str, port: int, *, demo: bool, simulator: Any = None
) -> None:
    """Run the web server with the background loops of `role` in this process (issue 19)."""
    import uvicorn

    from kotapintar.app.roles import start_background
    from kotapintar.app.web import create_app

    application = create_app(settings, db=db)
    started = start_background(db, settings, role, demo=demo)
    application.state.sensor_ingestors = started.ingestors
    try:
        logging: dict[str, Any] = {} if not settings.json_logs else {"log_config": _log_config(settings)}
        uvicorn.run(application, host=host, port=port, log_level="info", **logging)
    finally:
        if simulator is not None:
            simulator.stop()
        started.stop()


def _log_config(settings: Any) -> dict[str, Any] | None:
    """uvicorn's logging: its default, or JSON lines with the request id when `json_logs` is on."""
    if not settings.json_logs:
        return None
    from kotapintar.core.http.logs import json_log_config

    return json_log_config()


@app.command("run")
def run_role(
    role: Annotated[str, typer.Argument(help="web | worker | ingest | notifier | all")],
    host: str = "127.0.0.1",
    port: int = 8000,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            min=1,
            max=65535,
            help="worker/ingest/notifier: serve Prometheus metrics on this loopback port "
            "(default KOTAPINTAR_METRICS_PORT; the web role serves /metrics itself).",
        ),
    ] = None,
) -> None:
    """Run one process role; start any number of copies of each (see docs/operations.md).

    `web` serves HTTP and runs no background loop; `worker` fires SOP timers; `ingest` takes MQTT sensor
    and unit messages; `notifier` sends status messages to reporters; `all` is `serve` (one process).
    SIGTERM stops a role cleanly.
    """
    from kotapintar.app.roles import ROLES, start_background, start_metrics_server, wait_for_termination
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    if role not in ROLES:
        _fail(f"unknown role {role!r}; choose one of: {', '.join(ROLES)}")
    settings = get_settings()
    if settings.json_logs:
        import logging.config

        from kotapintar.core.http.logs import json_log_config

        logging.config.dictConfig(json_log_config())
    db = open_database(settings, migrate=role in ("web", "all"))
    if role in ("web", "all"):
        _refuse_unready_production(settings, db)
        _serve_role(settings, db, role, host, port, demo=False)
        return
    started = start_background(db, settings, role)
    try:
        metrics = start_metrics_server(db, settings, role, started, metrics_port)
    except OSError as exc:
        started.stop()
        db.dispose()
        _fail(f"metrics port {metrics_port or settings.metrics_port} cannot be used: {exc.strerror or exc}")
    try:
        wait_for_termination(lambda: typer.echo(f"kotapintar {role} running (pid {os.getpid()})"))
    finally:
        if metrics is not None:
            metrics.stop()
        started.stop()
        db.dispose()
    typer.echo(f"kotapintar {role} stopped")


@app.command("worker")
def worker(
    once: Annotated[bool, typer.Option("--once", help="fire what is due now, then exit")] = False,
    limit: Annotated[int, typer.Option(help="most timers fired per run")] = 1000,
) -> None:
    """Fire SOP timers (reminders, escalations, auto-close); run several, each timer fires exactly once."""
    import threading

    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings
    from kotapintar.sop.scheduler import run_due_timers, run_scheduler

    settings = get_settings()
    db = open_database(settings, migrate=False)
    if once:
        result = run_due_timers(db, limit=limit)
        typer.echo(f"fired {result.fired} timer(s), {result.failed} failed")
        return
    from kotapintar.core.events.checkpoint import start_checkpoint_thread

    audit_stop = start_checkpoint_thread(db, settings)  # signed audit checkpoints (audit_signing_key_path)
    from kotapintar.core.db.partitions import start_partition_thread

    partitions_stop = start_partition_thread(
        db, settings.partition_months_ahead, settings.partition_interval_s
    )
    stop = threading.Event()
    try:
        run_scheduler(db, stop, interval_s=settings.scheduler_interval_s, batch=limit)
    except KeyboardInterrupt:
        stop.set()
    finally:
        if audit_stop is not None:
            audit_stop.set()
        if partitions_stop is not None:
            partitions_stop.set()


# --- backups (issue 19) ----------------------------------------------------------------------------------
@app.command("backup")
def backup_cmd(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="where to write the backup")],
) -> None:
    """Write a consistent backup of the whole database to FILE (pg_dump custom format, or a SQLite copy)."""
    from kotapintar.core.db.backup import backup
    from kotapintar.core.settings import get_settings

    try:
        backup(get_settings().database_url, file)
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(f"backup written to {file} ({file.stat().st_size:,} bytes)")


@app.command("restore")
def restore_cmd(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="a file written by `kotapintar backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="do not ask before replacing the database")] = False,
) -> None:
    """Replace the whole database with the backup in FILE; then run `kotapintar audit verify`."""
    from kotapintar.core.db.backup import restore
    from kotapintar.core.settings import get_settings

    url = get_settings().database_url
    if not yes and not typer.confirm(f"replace everything in {url} with {file}?"):
        raise typer.Exit(1)
    try:
        restore(url, file)
    except DomainError as exc:
        _fail(str(exc))
        return
    typer.echo(f"restored {file}; check it with `kotapintar audit verify`")


def main() -> None:
    """Entry point for `python -m kotapintar`."""
    app()
