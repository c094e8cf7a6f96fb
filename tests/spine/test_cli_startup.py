"""`kotapintar --help` and quick commands start fast: importing the CLI loads no heavy library.

A time threshold would be flaky on a busy machine; the names of the modules loaded are not. Each heavy
module below once cost the CLI from 0.1 s (argon2) to 0.7 s (scikit-learn and scipy) on every start.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# Prefixes of modules that only the commands using them may import.
HEAVY = (
    "sklearn",
    "scipy",
    "networkx",
    "argon2",
    "joblib",
    "sqlalchemy",
    "alembic",
    "kotapintar.dispatch.engine",  # road network, travel times, coverage (the routing stack)
    "kotapintar.triage.classify",  # the report classifier (scikit-learn)
    "kotapintar.core.db",  # the database layer (SQLAlchemy, Alembic)
)

SUB_APPS = ("db", "import", "load", "user", "apikey", "audit", "sop", "triage", "dispatch", "sensors")


def _imported_modules(code: str) -> list[str]:
    """Every module a fresh interpreter imports to run `code`, from its `-X importtime` report."""
    run = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [
        line.rsplit("|", 1)[1].strip()
        for line in run.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    ]


def test_importing_the_cli_loads_no_heavy_module() -> None:
    """The CLI module and every sub-app import lazily what their commands need."""
    modules = _imported_modules("import kotapintar.app.cli")
    assert "kotapintar.app.cli" in modules  # the report was read
    heavy = sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
    assert heavy == [], f"imported when the CLI starts: {heavy}"


def test_help_lists_every_sub_app() -> None:
    """`python -m kotapintar --help` (what a user types) shows every sub-app and top-level command."""
    run = subprocess.run(
        [sys.executable, "-m", "kotapintar", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120", "NO_COLOR": "1"},
    )
    assert run.returncode == 0, run.stderr
    listed = {line.strip("│ ").split(" ", 1)[0] for line in run.stdout.splitlines()}
    missing = [name for name in (*SUB_APPS, "serve", "worker") if name not in listed]
    assert missing == [], run.stdout


def test_triage_threshold_default_matches_the_classifier() -> None:
    """The CLI's copy of the review threshold (kept to avoid importing scikit-learn) is the model's."""
    from kotapintar.triage import cli as triage_commands
    from kotapintar.triage.classify.model import DEFAULT_REVIEW_THRESHOLD

    assert triage_commands.DEFAULT_REVIEW_THRESHOLD == DEFAULT_REVIEW_THRESHOLD
