"""The read replica (issue 19): a private PostgreSQL primary and a real streaming replica of it (initdb,
then pg_basebackup -R, as the postgres user on loopback ports). With the replica's replay paused, a new
report is invisible to the public portal — proof that the portal reads the replica — while the citizen who
sent it sees its ticket page at once and staff see it in their queue (read-your-own-writes, staff on the
primary). A replica lagging past the limit, or stopped, hands the reads back to the primary."""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from kotapintar.app.reference import load_demo_city
from kotapintar.app.web import create_app
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.settings import Settings
from tests.conftest import make_settings
from tests.helpers import report, spot, wait_for, web_client
from tests.production.private_postgres import PrivatePostgres

pytestmark = [pytest.mark.multiprocess]

ALLOWED_LAG_S = 60.0  # replay is paused for a while in these tests: the replica stays "in bounds" meanwhile


class PrivateStandby(PrivatePostgres):
    """A hot standby of `primary`: a base backup with its recovery settings (-R), streaming from it."""

    def __init__(self, primary: PrivatePostgres) -> None:
        super().__init__()
        self.primary = primary

    def init(self) -> None:
        """Copy the primary's cluster (instead of initdb); -R writes standby.signal and primary_conninfo."""
        pg_ctl = shutil.which("pg_ctl")
        if pg_ctl is None:
            pytest.skip("pg_ctl not installed: the private PostgreSQL cluster cannot be made")
        basebackup = Path(pg_ctl).resolve().parent / "pg_basebackup"  # the server's own version
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(
            str(basebackup),
            *("-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres"),
            *("-D", str(self.data), "-R", "-X", "stream", "-c", "fast", "--no-sync"),
        )

    def sql(self, statement: str) -> Any:
        """One statement on the standby (replay control), outside the application."""
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return conn.execute(text(statement)).scalar()
        finally:
            engine.dispose()


@pytest.fixture(scope="module")
def clusters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivatePostgres, PrivateStandby]]:
    primary = PrivatePostgres()
    primary.init()
    primary.start()
    standby = PrivateStandby(primary)
    try:
        standby.init()
        standby.start()
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            try:
                cluster.stop()
            except Exception:  # already stopped by the test
                logging.getLogger(__name__).info("private cluster already stopped")
            cluster.remove()


def _tickets(client: TestClient) -> set[str]:
    r = client.get("/api/v1/public/cases", params={"limit": 500})
    assert r.status_code == 200, r.text[:300]
    return {f["properties"]["ticket"] for f in r.json()["features"]}


def _replica(app: Any) -> dict[str, Any]:
    db: Database = app.state.db
    assert db.replica is not None
    db.replica.refresh()
    body: dict[str, Any] = TestClient(app).get("/readyz").json()
    assert body["status"] == "ready"  # a replica's trouble never makes the deployment unready
    detail: dict[str, Any] = body["read_replica"]
    return detail


def test_the_portal_reads_the_replica_and_writers_read_their_own_writes(
    clusters: tuple[PrivatePostgres, PrivateStandby], tmp_path: Path
) -> None:
    primary, standby = clusters
    db = Database(primary.url, standby.url, replica_max_lag_s=ALLOWED_LAG_S, replica_check_s=1.0)
    upgrade(db.engine)
    load_demo_city(db, system_actor("test"))
    settings = Settings.model_validate(
        {
            **make_settings(primary.url, tmp_path).model_dump(),
            "read_database_url": standby.url,
            "read_replica_max_lag_s": ALLOWED_LAG_S,
            "read_your_writes_s": ALLOWED_LAG_S + 10,
        }
    )
    app = create_app(settings, db=db)
    assert db.replica is not None
    assert wait_for(lambda: db.replica is not None and db.replica.refresh().detail == "caught up", 20)
    staff = web_client(app, "operator")
    public, citizen = TestClient(app), TestClient(app)
    first = citizen.post("/api/v1/reports", json=report(**spot(0)).model_dump(mode="json")).json()["ticket"]
    assert wait_for(lambda: first in _tickets(public), 10), "the replica streams the primary's writes"

    standby.sql("SELECT pg_wal_replay_pause()")
    assert wait_for(lambda: standby.sql("SELECT pg_get_wal_replay_pause_state()") == "paused", 10)
    sent = citizen.post("/api/v1/reports", json=report(**spot(9)).model_dump(mode="json"))
    assert sent.status_code == 201, sent.text[:300]
    ticket, case_id = sent.json()["ticket"], sent.json()["case_id"]
    assert "kp_wrote" in sent.headers["set-cookie"]

    # The public portal, its API and Open311 read the replica: the new report is not there yet.
    assert ticket not in _tickets(public)
    assert public.get(f"/lacak/{ticket}").status_code == 404
    assert public.get(f"/open311/v2/requests/{ticket}.json").status_code == 404
    assert ticket not in public.get("/kasus").text
    # The citizen who sent it sees it at once (read-your-own-writes), as do staff (the primary, always).
    assert citizen.get(f"/lacak/{ticket}").status_code == 200
    assert ticket in _tickets(citizen)
    assert staff.get(f"/api/v1/cases/{case_id}").json()["ticket"] == ticket
    # It is the marker cookie that moves the reads: a stale one no longer does, a fresh one does.
    expired = TestClient(app, cookies={"kp_wrote": str(int(time.time()) - 1)})
    assert expired.get(f"/lacak/{ticket}").status_code == 404
    fresh = TestClient(app, cookies={"kp_wrote": str(int(time.time()) + 30)})
    assert fresh.get(f"/lacak/{ticket}").status_code == 200
    detail = _replica(app)
    assert detail["state"] == "ok" and detail["lag_s"] > 0, detail

    # Lagging past the limit: the primary serves the portal (never staler than allowed).
    db.replica.max_lag_s = 0.0
    detail = _replica(app)
    assert detail["state"] == "lagging", detail
    assert ticket in _tickets(public)
    metrics = public.get("/metrics").text
    assert "kotapintar_read_replica_up 0.0" in metrics
    assert 'kotapintar_replica_eligible_reads_total{source="replica"}' in metrics
    db.replica.max_lag_s = ALLOWED_LAG_S
    _replica(app)
    assert ticket not in _tickets(public)

    # Replay resumes: the replica catches up and the public sees the report from it.
    standby.sql("SELECT pg_wal_replay_resume()")
    assert wait_for(lambda: ticket in _tickets(public), 10)
    assert _replica(app)["state"] == "ok"
    assert "kotapintar_read_replica_up 1.0" in public.get("/metrics").text
    # Every replica-eligible page works on a hot standby (nothing in them writes) and is read from it.
    supervisor = web_client(app, "supervisor")
    supervisor.cookies.delete("kp_wrote")  # the login was a write; as if its window had passed
    month = time.strftime("%Y-%m")
    for client, path in [
        (public, "/beranda"),
        (public, "/beranda/peta.geojson"),
        (public, "/kasus"),
        (public, "/kasus.geojson"),
        (public, "/kasus.atom"),
        (public, f"/kasus/{ticket}"),
        (public, "/data/kasus.csv"),
        (public, "/data/sensor-kualitas.json"),
        (public, "/open311/v2/services.json"),
        (public, "/open311/v2/requests.json"),
        (supervisor, "/analitik"),
        (supervisor, "/analitik/akurasi"),
        (supervisor, f"/analitik/laporan.csv?bulan={month}"),
        (supervisor, f"/analitik/laporan.pdf?bulan={month}"),
        (supervisor, "/api/v1/analitik/tugas"),
        (supervisor, "/api/v1/analitik/waktu-tanggap"),
    ]:
        served = db.replica.reads["replica"]
        assert client.get(path).status_code == 200, path
        assert db.replica.reads["replica"] > served, f"{path} read the replica"
    api_key_reads = db.replica.reads["replica"]
    assert public.get("/api/v1/public/cases", headers={"X-API-Key": "any"}).status_code == 200
    assert db.replica.reads["replica"] == api_key_reads, "a machine client reads the primary"

    # The replica goes away: the primary serves every read, nobody gets a 503.
    standby.stop("immediate")
    assert public.get(f"/lacak/{ticket}").status_code == 200
    assert _replica(app)["state"] == "unreachable"
    assert ticket in _tickets(public)
    assert public.get("/beranda").status_code == 200
    db.dispose()


def test_a_browser_that_writes_is_marked_only_with_a_replica(tmp_path: Path, db: Database) -> None:
    """Without `read_database_url` nothing changes: no marker cookie, no replica detail in /readyz."""
    app = create_app(make_settings(db.url, tmp_path), db=db)
    client = TestClient(app)
    sent = client.post("/api/v1/reports", json=report().model_dump(mode="json"))
    assert sent.status_code == 201 and "kp_wrote" not in sent.headers.get("set-cookie", "")
    assert "read_replica" not in client.get("/readyz").json()


def test_the_marker_must_outlast_the_allowed_lag() -> None:
    with pytest.raises(ValueError, match="READ_YOUR_WRITES_S"):
        Settings(
            read_database_url="postgresql+psycopg://r/db", read_replica_max_lag_s=30, read_your_writes_s=10
        )
