"""SSE clients on one web process (issue 19; aim: 2,000 clients with staff requests' p95 within 2x of idle).

Starts `kotapintar run web` on a loopback port against a scratch PostgreSQL database with the demo city.
For each client count (default 0, 500, 1000, 2000) it:

1. ramps the live-stream clients up in steps and waits until the server's own gauge
   (`kotapintar_sse_clients` on /metrics) reports every one of them connected — figures are taken only
   then (the old version measured after a fixed 5 s, before most of 2,000 clients had connected);
2. keeps events flowing (a report every `--report-every` seconds, verified by the operator so that the
   public sees it: its events fan out to every client) while it
   measures, one after the other, a staff request (`GET /api/v1/cases` as the operator, bearer token) and
   the public list (`GET /api/v1/public/cases`);
3. prints p50/p95 of both and their p95 ratio against the 0-client run of the same invocation, and how
   many events the clients received.

The clients are raw asyncio sockets reading the stream (not httpx: 2,000 httpx streams would cost the
benchmark more CPU than the server on a two-core machine, and measure the client), in a process of their
own that counts `data:` lines per read: until 2026-12-06 they ran line by line in the measuring process,
whose timed requests then waited behind 2,000 socket reads per batch (same server code, back-to-back runs: staff p95 at
2,000 clients 205-380 ms measured that way, 123-154 ms with the clients apart). The soft open-files limit
is raised to the hard one for this process, the clients' and the server.

The last column is the web process's CPU per delivered event, total and beyond the 0-client run's CPU
rate (what the same requests and reports cost without clients): the latter is the stream's own cost, and
far less noisy than the latency ratio on a shared machine.

    KOTAPINTAR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/sse_clients.py [--clients 0,500,1000,2000] [--samples 150]

Figures of 2026-12-06 (two cores shared with other jobs, load average 5-10; clients in their own
process), three back-to-back pairs of runs of the code before and after the tail's direct writes to the
clients' sockets (no task, queue or middleware per client per batch). p95 staff / public at 2,000 clients:
before 133-191 / 139-210 ms (3.3-5.1x / 3.9-8.7x idle); after 33-65 / 42-83 ms (1.3-1.5x / 1.0-2.9x);
at 500 clients after 37 / 24 ms (1.0x / 0.6x). All clients connected and got every public event. CPU per
delivered event beyond the idle rate: 43-51 us before, 9-26 us after.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import re
import resource
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.app.wiring import wire
from kotapintar.core.access.actors import system_actor
from kotapintar.core.access.passwords import DEMO_PASSWORD
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade

GAUGE = re.compile(r"^kotapintar_sse_clients (\S+)$", re.MULTILINE)
CPU = re.compile(r"^process_cpu_seconds_total (\S+)$", re.MULTILINE)
RAMP_STEP = 250  # clients opened at once
RAMP_PAUSE_S = 0.3
SPOTS = itertools.count()


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Clients:
    """The open stream connections and what they received (in the client process)."""

    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    events: int = 0
    failed: int = 0


async def _hold(port: int, clients: Clients) -> None:
    """One SSE client: a raw HTTP/1.1 GET of the stream, counting `data:` lines until cancelled.

    It counts them in whatever the socket gives (one read per arrival), not line by line: 2,000 clients
    reading ~10 lines per batch each were the benchmark's own bottleneck."""
    writer = None
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
        await writer.drain()
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                clients.failed += 1
                return
            seen = tail + chunk
            clients.events += seen.count(b"\ndata:")
            tail = seen[-5:]  # shorter than the pattern: a match is never counted twice
    except asyncio.CancelledError:
        raise
    except OSError:
        clients.failed += 1
    finally:
        if writer is not None:
            writer.close()


async def _client_process(port: int) -> None:
    """The SSE clients, in their own process (`--clients-of PORT`): reading 2,000 streams costs CPU, and in
    the measuring process it delayed the very responses being timed. Commands on stdin, one a line: a
    number opens clients up to that many; `count` prints `events failed`."""
    clients = Clients()
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if not line:
            break
        if line == "count":
            print(clients.events, clients.failed, flush=True)
            continue
        target = int(line)
        while len(clients.tasks) < target:
            for _ in range(min(RAMP_STEP, target - len(clients.tasks))):
                clients.tasks.append(asyncio.create_task(_hold(port, clients)))
            await asyncio.sleep(RAMP_PAUSE_S)
        print("ok", flush=True)
    for task in clients.tasks:
        task.cancel()
    await asyncio.gather(*clients.tasks, return_exceptions=True)


class ClientProcess:
    """The measuring side's handle on the client process."""

    def __init__(self, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--clients-of", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    async def ask(self, command: str) -> str:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return (await asyncio.to_thread(self.proc.stdout.readline)).strip()

    async def counts(self) -> tuple[int, int]:
        events, failed = (await self.ask("count")).split()
        return int(events), int(failed)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


async def _gauge(http: httpx.AsyncClient, base: str) -> int:
    found = GAUGE.search((await http.get(f"{base}/metrics")).text)
    return int(float(found.group(1))) if found else -1


async def _cpu(http: httpx.AsyncClient, base: str) -> float:
    """The web process's CPU seconds so far (its own /metrics): robust to a busy machine, unlike latency."""
    found = CPU.search((await http.get(f"{base}/metrics")).text)
    return float(found.group(1)) if found else 0.0


async def _ramp(http: httpx.AsyncClient, base: str, clients: ClientProcess, target: int) -> float:
    """Open clients up to `target` in steps; wait until the server counts them all. Returns seconds taken."""
    started = time.perf_counter()
    await clients.ask(str(target))
    deadline = time.monotonic() + 300
    while (connected := await _gauge(http, base)) < target:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {connected} of {target} SSE clients connected after 300 s")
        await asyncio.sleep(0.5)
    return time.perf_counter() - started


async def _reports(
    http: httpx.AsyncClient, base: str, every_s: float, stop: asyncio.Event, staff: dict[str, str]
) -> int:
    """Every `every_s` seconds write a report and verify it as the operator, until `stop`: the public sees
    a case once verified, so each round fans events out to every public client."""
    n = 0
    while not stop.is_set():
        spot = next(SPOTS)  # never the same spot twice in a run: a new case, not a duplicate merged
        body = {
            "service_code": "sampah",
            "description": f"Sampah menumpuk di pasar {n} {uuid.uuid4().hex[:6]}, sudah tiga hari.",
            "lon": 114.30 + (spot % 12) * 0.015,  # ~1.6 km apart, north of Kuala Kapuas
            "lat": -2.99 + (spot // 12 % 12) * 0.015,
            "channel": "api",
        }
        (await http.post(f"{base}/api/v1/reports", json=body)).raise_for_status()
        # The operator verifies through the SOP task, as on the operator screen.
        inbox = (await http.get(f"{base}/api/v1/tasks/inbox", headers=staff)).json()
        for entry in inbox:
            if entry["task"]["step_id"] == "verifikasi":
                done = await http.post(
                    f"{base}/api/v1/tasks/{entry['task']['id']}/complete",
                    headers=staff,
                    json={"outputs": {"lengkap": True}},
                )
                done.raise_for_status()
                break
        n += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
    return n


async def _latencies(http: httpx.AsyncClient, url: str, n: int, headers: dict[str, str]) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await http.get(url, headers=headers)
        r.raise_for_status()
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(0.01)
    return out


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _measure(base: str, port: int, levels: list[int], samples: int, report_every: float) -> None:
    clients = ClientProcess(port)
    try:
        await _measure_with(base, clients, levels, samples, report_every)
    finally:
        clients.close()


async def _measure_with(
    base: str, clients: ClientProcess, levels: list[int], samples: int, report_every: float
) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        token = (
            await http.post(
                f"{base}/api/v1/auth/token", data={"username": "operator", "password": DEMO_PASSWORD}
            )
        ).json()["access_token"]
        staff = {"Authorization": f"Bearer {token}"}
        baseline: tuple[float, float] | None = None
        idle_cpu_rate = 0.0  # the server's CPU seconds per second at 0 clients (requests and reports)
        print(
            f"{'clients':>7} {'ramp s':>6} | staff GET /api/v1/cases p50/p95 ms (ratio) | "
            f"public GET /api/v1/public/cases p50/p95 ms (ratio) | events/client"
        )
        for level in sorted(levels):
            ramp = await _ramp(http, base, clients, level)
            (events_before, _), stop = await clients.counts(), asyncio.Event()
            cpu_before, wall_before = await _cpu(http, base), time.perf_counter()
            writer = asyncio.create_task(_reports(http, base, report_every, stop, staff))
            await asyncio.sleep(0.5)
            staff_lat = await _latencies(http, f"{base}/api/v1/cases?limit=50", samples, staff)
            public_lat = await _latencies(http, f"{base}/api/v1/public/cases", samples, {})
            stop.set()
            written = await writer
            await asyncio.sleep(1.0)  # the last events reach the clients
            cpu = await _cpu(http, base) - cpu_before
            wall = time.perf_counter() - wall_before
            events_after, failed = await clients.counts()
            delivered = events_after - events_before
            s95, p95 = _q(staff_lat, 0.95), _q(public_lat, 0.95)
            if baseline is None:
                baseline, idle_cpu_rate = (s95, p95), cpu / wall
            # Beyond what the same requests and reports cost at 0 clients: the stream's own CPU per event,
            # less noisy than the total (which the request rate, hence the machine's load, moves).
            streaming = max(cpu - idle_cpu_rate * wall, 0.0) / max(delivered, 1) * 1e6
            per_client = delivered / level if level else 0.0
            print(
                f"{level:>7} {ramp:>6.1f} | {_q(staff_lat, 0.5):>6.0f} / {s95:>6.0f} ({s95 / baseline[0]:.2f}x)"
                f"{'':>16} | {_q(public_lat, 0.5):>6.0f} / {p95:>6.0f} ({p95 / baseline[1]:.2f}x){'':>21} | "
                f"{per_client:.1f} ({written} reports; {failed} streams ended) | server CPU "
                f"{cpu / wall * 100:.0f}% of a core, {cpu / max(delivered, 1) * 1e6:.0f} us per event delivered "
                f"({streaming:.0f} us beyond the 0-client run's CPU rate)",
                flush=True,
            )


def main() -> None:
    """Scratch database, one web process, measure at each client count."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", default="0,500,1000,2000", help="comma-separated client counts")
    parser.add_argument("--samples", type=int, default=150, help="requests of each kind per count")
    parser.add_argument("--report-every", type=float, default=0.5, help="seconds between reports written")
    parser.add_argument("--clients-of", type=int, help=argparse.SUPPRESS)  # the client process (internal)
    args = parser.parse_args()
    if args.clients_of:
        asyncio.run(_client_process(args.clients_of))
        return
    levels = sorted({int(c) for c in args.clients.split(",")} | {0})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # inherited by the server process
    if max(levels) * 2 + 200 > hard:
        raise SystemExit(f"ulimit -n is {hard}: too low for {max(levels)} clients and their server side")
    server = os.environ["KOTAPINTAR_TEST_POSTGRES_URL"]
    wire()
    name = f"kp_sse_{uuid.uuid4().hex[:8]}"
    admin = Database(server)
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    proc = None
    try:
        db = Database(url)
        upgrade(db.engine)
        load_demo_city(db, system_actor("bench"), with_users=True)
        db.dispose()
        port = _port()
        env = {
            **os.environ,
            "KOTAPINTAR_DATABASE_URL": url,
            "KOTAPINTAR_RATE_LIMIT_PER_IP": "1000000/minute",
        }
        proc = subprocess.Popen(
            [sys.executable, "-m", "kotapintar", "run", "web", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        asyncio.run(_measure(base, port, levels, args.samples, args.report_every))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=60)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
