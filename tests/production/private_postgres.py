"""A PostgreSQL cluster of the test's own (initdb + pg_ctl as the postgres user, in a temp directory), so a
test can stop and start it without touching the shared server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivatePostgres:
    """initdb in `root`; start/stop on a loopback port; `url` for SQLAlchemy."""

    def __init__(self) -> None:
        # Under /tmp itself: pytest's own temp folders are private to root, and the server runs as postgres.
        self.root, self.port = Path(tempfile.mkdtemp(prefix="kp-pg-")), _free_port()
        self.data = self.root / "data"
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        command = list(args)
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        """Create the cluster (trust on loopback only)."""
        if shutil.which("initdb") is None or shutil.which("pg_ctl") is None:
            pytest.skip("initdb/pg_ctl not installed: the private PostgreSQL cluster cannot be made")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres("initdb", "--no-sync", "-A", "trust", "-U", "postgres", "-D", str(self.data))

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start"
        )

    def stop(self, mode: str = "immediate") -> None:
        """Stop the server (`immediate`: as abrupt as a crash)."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        """Delete the cluster's files (after `stop`)."""
        shutil.rmtree(self.root, ignore_errors=True)
