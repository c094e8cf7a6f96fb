"""SSE clients on one web process (issue 19): p50/p95 of a plain `GET /api/v1/public/cases` with no client
connected, then with N live-stream clients connected, while reports are written meanwhile. Starts
`kotapintar run web` on a loopback port against a scratch PostgreSQL database.

    KOTAPINTAR_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \
        python benchmarks/sse_clients.py [--clients 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.app.wiring import wire
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _latencies(client: httpx.AsyncClient, url: str, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        r = await client.get(f"{url}/api/v1/public/cases")
        r.raise_for_status()
        out.append(time.perf_counter() - t0)
        await asyncio.sleep(0.02)
    return out


async def _holder(client: httpx.AsyncClient, url: str, stop: asyncio.Event, got: list[int]) -> None:
    try:
        async with client.stream("GET", f"{url}/api/v1/stream") as r:
            async for line in r.aiter_lines():
                if line.startswith("data:"):
                    got[0] += 1
                if stop.is_set():
                    return
    except (httpx.HTTPError, asyncio.CancelledError):
        return


def _q(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _measure(url: str, clients: int) -> None:
    limits = httpx.Limits(max_connections=clients + 10, max_keepalive_connections=clients + 10)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        idle = await _latencies(client, url, 100)
        stop, got = asyncio.Event(), [0]
        holders = [asyncio.create_task(_holder(client, url, stop, got)) for _ in range(clients)]
        await asyncio.sleep(5)
        async with httpx.AsyncClient(timeout=60) as writer:
            for i in range(5):  # a few events for every client to receive
                body = {
                    "service_code": "sampah",
                    "description": f"Sampah menumpuk di pasar {i} {uuid.uuid4().hex[:6]}",
                    "lon": 114.39 + i * 0.01,
                    "lat": -3.0,
                    "channel": "api",
                }
                (await writer.post(f"{url}/api/v1/reports", json=body)).raise_for_status()
        loaded = await _latencies(client, url, 100)
        await asyncio.sleep(2)
        stop.set()
        for task in holders:
            task.cancel()
        print(f"GET /api/v1/public/cases idle: p50 {_q(idle, 0.5):.0f} ms, p95 {_q(idle, 0.95):.0f} ms")
        print(
            f"with {clients} SSE clients: p50 {_q(loaded, 0.5):.0f} ms, p95 {_q(loaded, 0.95):.0f} ms "
            f"(ratio p95 {_q(loaded, 0.95) / _q(idle, 0.95):.1f}x); public events delivered {got[0]} "
            f"({got[0] / clients:.1f} per client)"
        )
        print(f"mean idle {statistics.mean(idle) * 1000:.0f} ms")


def main() -> None:
    """Scratch database, one web process, measure."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=500)
    args = parser.parse_args()
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
        load_demo_city(db, system_actor("bench"), with_users=False)
        db.dispose()
        port = _port()
        env = {**os.environ, "KOTAPINTAR_DATABASE_URL": url, "KOTAPINTAR_RATE_LIMIT_PER_IP": "100000/minute"}
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
        asyncio.run(_measure(base, args.clients))
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=30)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
