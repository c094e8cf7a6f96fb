"""Open311 intake over real HTTP: POST requests.xml against a uvicorn subprocess, with /healthz as baseline.

Starts `uvicorn kotapintar.app.web:create_app --factory` on a free loopback port with a temporary SQLite
database holding the demo city, then drives it with a few concurrent httpx clients:
  1. GET /healthz (the trivial endpoint of the same server: the baseline),
  2. POST /open311/v2/requests.xml (form-urlencoded, attribute[...] and media_url, as FixMyStreet sends),
  3. GET /open311/v2/requests.xml?page_size=50 (a page of the public list).
Prints requests/s, p50 and p99 per phase and the ratio of each to the baseline.

    .venv/bin/python benchmarks/open311.py            # quick (< 1 minute)
    .venv/bin/python benchmarks/open311.py --full     # more requests and clients
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kotapintar.app.reference import load_demo_city  # noqa: E402
from kotapintar.core.access.actors import system_actor  # noqa: E402
from kotapintar.core.access.auth import create_api_key  # noqa: E402
from kotapintar.core.db.database import Database  # noqa: E402
from kotapintar.core.db.migrate import upgrade  # noqa: E402


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _prepare(path: Path) -> str:
    """A migrated SQLite database with the demo city loaded; returns a fresh client key."""
    db = Database(f"sqlite:///{path}")
    upgrade(db.engine)
    load_demo_city(db, system_actor("benchmark"))
    key = create_api_key(db, "benchmark")
    db.dispose()
    return key


def _start(db_path: Path, port: int, media: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "KOTAPINTAR_DATABASE_URL": f"sqlite:///{db_path}",
        "KOTAPINTAR_ENVIRONMENT": "test",
        "KOTAPINTAR_MEDIA_DIR": str(media),
        "KOTAPINTAR_RUN_SCHEDULER": "false",
        "KOTAPINTAR_RUN_NOTIFIER": "false",
        "KOTAPINTAR_DEMO_REPORT_INTERVAL_S": "0",
    }
    cmd = [
        sys.executable, "-m", "uvicorn", "kotapintar.app.web:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit("server did not start within 60 s")


async def _phase(
    base: str, total: int, clients: int, send: Callable[[httpx.AsyncClient, int], object]
) -> tuple[float, list[float]]:
    """Run `total` requests over `clients` concurrent connections; (requests/s, latencies in s)."""
    latencies: list[float] = []
    counter = iter(range(total))

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=base, timeout=60) as http:
            for i in counter:
                started = time.perf_counter()
                response = await send(http, i)  # type: ignore[misc]
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise SystemExit(f"HTTP {response.status_code}: {response.text[:300]}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    return total / (time.perf_counter() - started), latencies


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


async def _run(base: str, key: str, total: int, clients: int) -> None:
    def healthz(http: httpx.AsyncClient, i: int) -> object:
        return http.get("/healthz")

    def post(http: httpx.AsyncClient, i: int) -> object:
        lon, lat = 114.30 + (i % 97) * 0.002, -3.05 + (i % 89) * 0.001
        return http.post(
            "/open311/v2/requests.xml",
            content=(
                f"api_key={key}&service_code=jalan_rusak&lat={lat:.6f}&long={lon:.6f}"
                f"&description=Jalan+berlubang+nomor+{i}+di+ruas+Kuala+Kapuas&attribute%5Bkedalaman%5D=dalam"
                f"&media_url=https%3A%2F%2Ffms.example%2Fp%2F{i}.0.jpeg&media_url=https%3A%2F%2Ffms.example%2Fp%2F{i}.1.jpeg"
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

    def listing(http: httpx.AsyncClient, i: int) -> object:
        return http.get("/open311/v2/requests.xml?page_size=50")

    await _phase(base, min(50, total), clients, healthz)  # warm-up (imports, caches, triage model)
    await _phase(base, min(10, total), 1, post)
    rows = []
    baseline_rps = 0.0
    for name, send, count in (
        ("GET /healthz (baseline)", healthz, total),
        ("POST /open311/v2/requests.xml", post, total),
        ("GET /open311/v2/requests.xml?page_size=50", listing, max(20, total // 5)),
    ):
        rps, lat = await _phase(base, count, clients, send)
        baseline_rps = baseline_rps or rps
        rows.append((name, count, rps, _pct(lat, 0.5), _pct(lat, 0.99), statistics.mean(lat) * 1000))
    print(f"{'phase':44} {'n':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}")
    for name, count, rps, p50, p99, _mean in rows:
        print(f"{name:44} {count:6d} {rps:9.1f} {p50:8.1f} {p99:8.1f} {rps / baseline_rps:7.3f}")
    post_row = rows[1]
    print(
        f"\nOpen311 POST runs at {post_row[2] / baseline_rps:.3f}x the throughput of /healthz "
        f"(p50 {post_row[3]:.1f} ms vs {rows[0][3]:.1f} ms, {clients} concurrent clients, SQLite)."
    )


def main() -> None:
    """Parse the options, start the server, measure, stop it."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="2,000 requests per phase, 8 clients")
    parser.add_argument("-n", type=int, default=None, help="requests per phase")
    parser.add_argument("-c", type=int, default=None, help="concurrent clients")
    args = parser.parse_args()
    total = args.n or (2000 if args.full else 200)
    clients = args.c or (8 if args.full else 4)
    with tempfile.TemporaryDirectory(prefix="kp-bench-open311-") as tmp:
        db_path = Path(tmp) / "bench.db"
        key = _prepare(db_path)
        port = _free_port()
        proc = _start(db_path, port, Path(tmp) / "media")
        try:
            asyncio.run(_run(f"http://127.0.0.1:{port}", key, total, clients))
        finally:
            proc.terminate()
            proc.wait(timeout=20)


if __name__ == "__main__":
    main()
