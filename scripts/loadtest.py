"""Load and failure run (issue 19): real processes on loopback, real PostgreSQL and MQTT, Locust users, and
two kill -9s in the middle — then the invariants a city would notice if they broke.

For each profile step (1 or 2 web processes): a fresh PostgreSQL database, migrated, with the demo city;
`kotapintar run web` ×N + `worker` + `ingest` + `notifier` on loopback ports; timer cases whose SOP timers
come due while the load runs; Locust (loadtest/locustfile.py) with citizens submitting reports, operators
and officers working tasks, public readers, SSE clients that resume with Last-Event-ID and MQTT sensors.
A third of the way in, one web process is killed with SIGKILL and started again (as a supervisor would);
halfway, the worker is killed with SIGKILL (inside a timer batch when one can be caught) and restarted.

Checked afterwards (exit 1 when one fails):
- every acknowledged report (201 with a ticket) is in the database — report row and case ticket;
- every timer of the timer cases fired exactly once (2 reminders and one of each escalation rung per case)
  and no timer is left due after the run and a grace period;
- every SSE client saw every public event between its first and last id: none missing, none twice;
- no failed request outside the kill windows (inside them, requests to the killed process may fail).

Printed: throughput, p50/p95/p99 per request type, errors inside/outside the kill windows, the run's
figures. Usage (KOTAPINTAR_TEST_POSTGRES_URL and KOTAPINTAR_TEST_MQTT_URL name the servers):

    python scripts/loadtest.py --profile short   # ~60 s, 2 web processes (the CI test)
    python scripts/loadtest.py --profile long    # `make loadtest`: 1 and 2 web processes, longer
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kotapintar.app.reference import load_demo_city  # noqa: E402
from kotapintar.app.wiring import wire  # noqa: E402
from kotapintar.cases.schemas import ReportIn  # noqa: E402
from kotapintar.cases.stream_tail import catch_up  # noqa: E402
from kotapintar.core.access.actors import PUBLIC, channel_actor, system_actor  # noqa: E402
from kotapintar.core.db.database import Database  # noqa: E402
from kotapintar.core.db.migrate import upgrade  # noqa: E402
from kotapintar.core.settings import Settings  # noqa: E402
from kotapintar.intake import submit as report_intake  # noqa: E402
from kotapintar.sensors import devices as sensor_devices  # noqa: E402
from kotapintar.sensors.repository import SensorRepository  # noqa: E402

LOCUSTFILE = REPO / "loadtest" / "locustfile.py"
GAUGES = ("KPS-AWLR-01", "KPS-AWLR-02", "KPS-AWLR-03")
# A Monday morning long past: every timer of a case opened then is due by the real clock.
OPENED_LONG_AGO = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TIMER_SERVICE = "jembatan_rusak"  # no load user reports it, so no load report merges into a timer case


@dataclass(frozen=True)
class Profile:
    """How big one step of the run is."""

    webs: tuple[int, ...]
    seconds: int
    users: int
    timer_cases: int


PROFILES = {
    "short": Profile(webs=(2,), seconds=30, users=24, timer_cases=40),
    "long": Profile(webs=(1, 2), seconds=150, users=60, timer_cases=150),
}


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Processes:
    """The kotapintar processes of one step, with their logs in `logs`."""

    url: str
    logs: Path
    env: dict[str, str]
    webs: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)
    others: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started: int = 0

    def _spawn(self, args: list[str], name: str) -> subprocess.Popen[bytes]:
        self.started += 1
        log = open(self.logs / f"{name}-{self.started}.log", "wb")  # noqa: SIM115 — owned by the process
        env = {**self.env, "KOTAPINTAR_DATABASE_URL": _named(self.url, f"kp-load-{name}")}
        return subprocess.Popen(
            [sys.executable, "-m", "kotapintar", "run", *args], env=env, stdout=log, stderr=log, cwd=REPO
        )

    def start_web(self, port: int) -> subprocess.Popen[bytes]:
        return self._spawn(["web", "--host", "127.0.0.1", "--port", str(port)], f"web{port}")

    def start(self, role: str) -> subprocess.Popen[bytes]:
        self.others[role] = self._spawn([role], role)
        return self.others[role]

    def stop(self) -> None:
        procs = [p for p, _ in self.webs] + list(self.others.values())
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _named(url: str, name: str) -> str:
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


def wait_ready(base: str, proc: subprocess.Popen[bytes], seconds: float = 300) -> None:
    """Until /healthz answers 200 (the process has started and listens; generous: shared CI machines are slow)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the web process at {base} exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"the web process at {base} did not start in {seconds:.0f} s")


def seed_timer_cases(db: Database, settings: Settings, n: int) -> list[int]:
    """`n` complaints opened long ago, through intake itself (its clock pinned): their SOP timers are due."""
    real = getattr(report_intake, "utcnow")  # noqa: B009 — pinned as the SOP timer tests pin it
    setattr(report_intake, "utcnow", lambda: OPENED_LONG_AGO)  # noqa: B010
    try:
        ids = []
        for i in range(n):
            body = ReportIn.model_validate(
                {
                    "service_code": TIMER_SERVICE,
                    "description": f"Jembatan kayu nomor {i} retak dan miring, warga takut melintas ({i}).",
                    "lon": 114.30 + 0.03 * (i % 7),
                    "lat": -3.05 + 0.03 * (i % 5),
                    "channel": "web",
                }
            )
            ids.append(report_intake.submit_report(db, channel_actor("web"), body, settings=settings).case_id)
    finally:
        setattr(report_intake, "utcnow", real)  # noqa: B010
    if len(set(ids)) != n:
        raise SystemExit(f"timer cases merged by triage: {n} reports, {len(set(ids))} cases")
    return ids


def spread_timers(db: Database, case_ids: list[int], start: datetime, span_s: float) -> int:
    """Make the waiting timers of the timer cases come due one after another while the load runs."""
    with db.transaction() as uow:
        rows = uow.session.execute(
            text("SELECT id FROM timers WHERE case_id = ANY(:ids) ORDER BY id"), {"ids": case_ids}
        ).all()
        for i, (timer_id,) in enumerate(rows):
            due = start + timedelta(seconds=span_s * i / max(1, len(rows)))
            uow.session.execute(
                text("UPDATE timers SET due_at = :d WHERE id = :i"), {"d": due, "i": timer_id}
            )
    return len(rows)


def _in_batch(db: Database, name: str) -> bool:
    with db.reading() as uow:
        found = uow.session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = :n AND xact_start IS NOT NULL "
                "AND state IN ('active', 'idle in transaction')"
            ),
            {"n": name},
        )
    return bool(found)


def _due_left(db: Database) -> int:
    now = datetime.now(UTC)
    with db.reading() as uow:
        return int(
            uow.session.scalar(text("SELECT count(*) FROM timers WHERE due_at <= :n"), {"n": now}) or 0
        )


@dataclass
class Outcome:
    """What one step measured and whether its invariants held."""

    lines: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line, flush=True)


def check_reports(db: Database, acked: list[dict[str, Any]], out: Outcome) -> None:
    report_ids = [int(a["report_id"]) for a in acked]
    tickets = sorted({str(a["ticket"]) for a in acked})
    with db.reading() as uow:
        found_reports = {
            int(r)
            for (r,) in uow.session.execute(
                text("SELECT id FROM reports WHERE id = ANY(:ids)"), {"ids": report_ids}
            )
        }
        found_tickets = {
            str(t)
            for (t,) in uow.session.execute(
                text("SELECT ticket FROM cases WHERE ticket = ANY(:t)"), {"t": tickets}
            )
        }
    lost = [i for i in report_ids if i not in found_reports]
    lost_tickets = [t for t in tickets if t not in found_tickets]
    out.say(
        f"  acknowledged reports: {len(report_ids)}; stored: {len(report_ids) - len(lost)}; "
        f"tickets found: {len(tickets) - len(lost_tickets)}/{len(tickets)}"
    )
    if lost or lost_tickets:
        out.problems.append(f"acknowledged reports lost: {lost[:10]} tickets {lost_tickets[:10]}")


def check_timers(db: Database, case_ids: list[int], out: Outcome) -> None:
    bad: list[str] = []
    fired = 0
    with db.reading() as uow:
        for case_id in case_ids:
            events = [
                e for e in uow.events.for_case(case_id) if e.type in ("task_reminded", "task_escalated")
            ]
            fired += len(events)
            rungs = Counter(e.payload["rung"] for e in events if e.type == "task_escalated")
            reminders = sum(1 for e in events if e.type == "task_reminded")
            if rungs != Counter({1: 1, 2: 1, 3: 1}) or reminders != 2:
                bad.append(f"case {case_id}: reminders {reminders}, rungs {dict(rungs)}")
    left = _due_left(db)
    out.say(
        f"  timers: {len(case_ids)} timer cases, {fired} firings (expected {5 * len(case_ids)}: "
        f"2 reminders + 3 escalation rungs each), {len(bad)} cases wrong, {left} due timers left unfired"
    )
    if bad:
        out.problems.append(f"timers not fired exactly once: {bad[:5]}")
    if left:
        out.problems.append(f"{left} due timers left unfired after the grace period")


def check_sse(db: Database, sessions: list[dict[str, Any]], out: Outcome) -> None:
    used = [s for s in sessions if s["ids"]]
    if not used:
        out.problems.append("no SSE client received an event")
        return
    first = min(min(s["ids"]) for s in used)
    visible = [int(e["id"]) for e in catch_up(db, PUBLIC, first - 1)]
    missing_total = duplicates_total = unexpected_total = received = 0
    details: list[str] = []
    for s in used:
        ids = [int(i) for i in s["ids"]]
        received += len(ids)
        lo, hi = min(ids), max(ids)
        expected = {i for i in visible if lo <= i <= hi}
        missing = expected - set(ids)
        repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
        missing_total += len(missing)
        unexpected_total += len(set(ids) - expected)
        duplicates_total += len(ids) - len(set(ids))
        for wrong in sorted(missing)[:3] + repeated[:3]:
            around = [
                f"[{c['web'][-5:]} after {c['last_event_id']}: {[i for i in c['ids'] if abs(i - wrong) <= 3]}]"
                for c in s["connections"]
                if any(abs(i - wrong) <= 3 for i in c["ids"])
            ]
            kind = "missing" if wrong in missing else "repeated"
            details.append(f"{kind} {wrong}: " + " ".join(around))
    resumed = sum(int(s["resumed"]) for s in sessions)
    out.say(
        f"  SSE: {len(sessions)} clients, {received} events received, {resumed} resumes with Last-Event-ID; "
        f"missing {missing_total}, repeated {duplicates_total}, not public {unexpected_total}"
    )
    for line in details[:8]:
        out.say(f"    SSE {line}")
    if missing_total or duplicates_total or unexpected_total:
        out.problems.append(
            f"SSE gaps: {missing_total} missing, {duplicates_total} repeated, {unexpected_total} unexpected"
        )


def print_stats(csv_prefix: Path, seconds: float, out: Outcome) -> None:
    rows = list(csv.DictReader(open(f"{csv_prefix}_stats.csv", encoding="utf-8")))  # noqa: SIM115
    out.say(f"  {'request':44} {'count':>7} {'fail':>5} {'req/s':>7} {'p50':>7} {'p95':>7} {'p99':>7}  (ms)")
    for row in rows:
        name = row["Name"] if row["Type"] in ("", "GET", "POST") else f"{row['Type']} {row['Name']}"
        if row["Name"] == "Aggregated":
            name = "all requests"
        out.say(
            f"  {name[:44]:44} {row['Request Count']:>7} {row['Failure Count']:>5} "
            f"{float(row['Requests/s']):7.1f} {row['50%']:>7} {row['95%']:>7} {row['99%']:>7}"
        )
    out.say("  (SSE rows: how long a connection was held, by design 3-8 s; MQTT: publish until PUBACK)")


def run_step(server: str, mqtt: str, profile: Profile, webs: int, keep: bool) -> Outcome:
    out = Outcome()
    out.say(
        f"\n=== {webs} web process(es) + worker + ingest + notifier; {profile.users} users, {profile.seconds} s"
    )
    name = f"kp_load_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    work = Path(tempfile.mkdtemp(prefix="kp-load-"))
    secret = uuid.uuid4().hex
    settings = Settings(
        environment="test", database_url=url, media_dir=work / "media", sensor_key_secret=secret
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "KOTAPINTAR_ENVIRONMENT": "test",
        "KOTAPINTAR_MEDIA_DIR": str(work / "media"),
        "KOTAPINTAR_SENSOR_KEY_SECRET": secret,
        "KOTAPINTAR_MQTT_URL": f"mqtt://{mqtt}",
        "KOTAPINTAR_SCHEDULER_INTERVAL_S": "0.5",
        "KOTAPINTAR_SCHEDULER_BATCH": "10",
        "KOTAPINTAR_RATE_LIMIT_PER_IP": "1000000/minute",
        "KOTAPINTAR_RATE_LIMIT_PER_PHONE": "1000000/hour",
        "KOTAPINTAR_DEMO_REPORT_INTERVAL_S": "0",
    }
    procs = Processes(url=url, logs=work, env=env)
    db = Database(url)
    ok = False
    try:
        t0 = time.monotonic()
        upgrade(db.engine)
        load_demo_city(db, system_actor("loadtest"))
        timer_cases = seed_timer_cases(db, settings, profile.timer_cases)
        (work / "skip.json").write_text(json.dumps(timer_cases))
        out.say(
            f"  set-up: database, demo city and {len(timer_cases)} timer cases in {time.monotonic() - t0:.1f} s"
        )
        ports = [_port() for _ in range(webs)]
        procs.webs = [(procs.start_web(p), p) for p in ports]
        for role in ("worker", "ingest", "notifier"):
            procs.start(role)
        bases = [f"http://127.0.0.1:{p}" for p in ports]
        for (proc, _), base in zip(procs.webs, bases, strict=True):
            wait_ready(base, proc)
        out.say(f"  processes up after {time.monotonic() - t0:.1f} s: {', '.join(bases)}")

        topics = [[f"/{sensor_devices.device_api_key(settings, g)}/{g}/attrs", "wl"] for g in GAUGES]
        csv_prefix = work / "stats"
        record_path = work / "record.json"
        locust_env = {
            **env,
            "KP_LOADTEST_WEBS": ",".join(bases),
            "KP_LOADTEST_OUT": str(record_path),
            "KP_LOADTEST_SKIP": str(work / "skip.json"),
            "KP_LOADTEST_MQTT": mqtt,
            "KP_LOADTEST_TOPICS": json.dumps(topics),
        }
        spread = spread_timers(
            db, timer_cases, datetime.now(UTC) + timedelta(seconds=3), profile.seconds * 0.7
        )
        out.say(f"  {spread} waiting timers set to come due over the first {profile.seconds * 0.7:.0f} s")
        locust_log = open(work / "locust.log", "wb")  # noqa: SIM115
        started_wall, started = time.time(), time.monotonic()
        locust = subprocess.Popen(
            [
                sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
                "-u", str(profile.users), "-r", str(max(1, profile.users // 3)),
                "-t", f"{profile.seconds}s", "--stop-timeout", "12", "--csv", str(csv_prefix),
                "--only-summary", "--exit-code-on-error", "0", "--loglevel", "WARNING",
            ],
            env=locust_env, stdout=locust_log, stderr=subprocess.STDOUT, cwd=REPO,
        )  # fmt: skip
        windows: list[tuple[float, float]] = []

        # Kill -9 a web process a third of the way in, and start it again on its port (as systemd would).
        time.sleep(max(0.0, started + profile.seconds / 3 - time.monotonic()))
        victim, port = procs.webs[0]
        kill_at = time.time()
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        replacement = procs.start_web(port)
        procs.webs[0] = (replacement, port)

        # Kill -9 the worker halfway (while the web process may still be starting), inside a timer batch
        # when one shows up within 5 s; restart it.
        time.sleep(max(0.0, started + profile.seconds / 2 - time.monotonic()))
        worker = procs.others["worker"]
        caught = False
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not caught:
            caught = _in_batch(db, "kp-load-worker")
            if not caught:
                time.sleep(0.005)
        worker_kill = time.time()
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        procs.start("worker")
        windows.append((worker_kill - 0.5, worker_kill + 2.0))

        wait_ready(f"http://127.0.0.1:{port}", replacement)
        windows.append((kill_at - 0.5, time.time() + 2.0))
        out.say(
            f"  kill -9 web :{port} at +{kill_at - started_wall:.1f} s; back after {time.time() - kill_at:.1f} s"
        )
        out.say(
            f"  kill -9 worker at +{worker_kill - started_wall:.1f} s "
            f"({'inside a timer batch' if caught else 'no batch caught open within 5 s'}); restarted"
        )

        locust.wait(timeout=profile.seconds + 120)
        elapsed = time.time() - started_wall
        if not record_path.exists():
            raise SystemExit(f"locust wrote no record; see {work / 'locust.log'}")
        record = json.loads(record_path.read_text())

        deadline = time.monotonic() + 60  # grace: the restarted worker fires what is still due
        while _due_left(db) and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1.0)

        print_stats(csv_prefix, elapsed, out)
        failures = record["failures"]
        inside = [f for f in failures if any(a <= f["t"] <= b for a, b in windows)]
        outside = [f for f in failures if f not in inside]
        out.say(
            f"  errors: {len(failures)} in all; {len(inside)} inside the kill windows (allowed), "
            f"{len(outside)} outside"
        )
        for kind, n in Counter(f["name"] for f in outside).most_common(8):
            example = next(f["error"] for f in outside if f["name"] == kind)
            out.say(f"    outside: {n} × {kind}: {example}")
        if outside:
            out.problems.append(f"{len(outside)} failed requests outside the kill windows")

        check_reports(db, record["acked"], out)
        check_timers(db, timer_cases, out)
        check_sse(db, record["sse_sessions"], out)
        with db.reading() as uow:
            stored = sum(SensorRepository(uow.session).count_observations(g) for g in GAUGES)
        out.say(f"  sensors: {record['mqtt_published']} MQTT readings published (QoS 1), {stored} stored")
        out.say(f"  load ran {elapsed:.1f} s; logs in {work}" if keep else f"  load ran {elapsed:.1f} s")
        ok = not out.problems
        return out
    finally:
        procs.stop()
        db.dispose()
        if not ok:
            out.say(f"  logs kept in {work}")
            for log in sorted(work.glob("*.log")):
                tail = log.read_bytes()[-1500:].decode("utf-8", "replace")
                if "Traceback" in tail or "Error" in tail:
                    print(f"--- {log.name}\n{tail}", flush=True)
        elif not keep:
            shutil.rmtree(work, ignore_errors=True)
        if not keep:
            with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the profile's steps; 0 when every invariant held."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--seconds", type=int, help="load time per step (overrides the profile)")
    parser.add_argument("--users", type=int, help="Locust users (overrides the profile)")
    parser.add_argument("--webs", type=int, nargs="+", help="web process counts to run (overrides)")
    parser.add_argument("--keep", action="store_true", help="keep the databases and logs")
    args = parser.parse_args(argv)
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if not server or not server.startswith("postgresql"):
        print("KOTAPINTAR_TEST_POSTGRES_URL must name a PostgreSQL server (the run is PostgreSQL only)")
        return 2
    mqtt_url = os.environ.get("KOTAPINTAR_TEST_MQTT_URL", "mqtt://127.0.0.1:1883")
    mqtt = mqtt_url.split("://", 1)[-1].rstrip("/")
    if ":" not in mqtt:
        mqtt += ":1883"
    base = PROFILES[args.profile]
    profile = Profile(
        webs=tuple(args.webs) if args.webs else base.webs,
        seconds=args.seconds or base.seconds,
        users=args.users or base.users,
        timer_cases=base.timer_cases,
    )
    if min(profile.webs) < 1 or profile.seconds < 10 or profile.users < 6:
        print("--webs must be ≥ 1, --seconds ≥ 10 and --users ≥ 6 (one of each user class)")
        return 2
    wire()
    problems: list[str] = []
    for webs in profile.webs:
        problems += [f"{webs} web: {p}" for p in run_step(server, mqtt, profile, webs, args.keep).problems]
    print()
    if problems:
        print("LOAD TEST FAILED:\n" + "\n".join(f"  - {p}" for p in problems))
        return 1
    print("LOAD TEST PASSED: every acknowledged report stored, every due timer fired once, no SSE gap")
    return 0


if __name__ == "__main__":
    sys.exit(main())
