"""The audit log anchored outside the database (issue 16, item 6): rewrites that keep every hash chain
consistent (recomputed chain and anchor, a deleted stream, a rewound anchor) pass the chain walk but not a
signed checkpoint; edits to case and reporter rows are found by rebuilding them from the events. Each
detection names what changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kotapintar.app.web import create_app
from kotapintar.cases import service as case_service
from kotapintar.cases.projections import check_projections
from kotapintar.cases.schemas import ReporterIn
from kotapintar.core.access.actors import channel_actor
from kotapintar.core.db.database import Database
from kotapintar.core.events import checkpoint as cp
from kotapintar.core.events.audit import verify_log
from kotapintar.core.events.types import GENESIS_HASH, EventContent, canonical_json, chain_hash
from kotapintar.core.settings import Settings
from kotapintar.intake.submit import submit_report
from tests.helpers import actor, report

REPO = Path(__file__).resolve().parents[2]


def _worked_case(db: Database, settings: Settings, n: int = 0) -> int:
    body = report(lon=114.39 + 0.01 * n).model_copy(
        update={"reporter": ReporterIn(name="Rina Saksi", phone="+628129999999")}
    )
    case_id = submit_report(db, channel_actor("api"), body, settings=settings).case_id
    op = actor(db, "operator")
    case_service.verify_case(db, op, case_id)
    case_service.add_note(db, op, case_id, "sudah ditelepon pelapor")
    case_service.resolve_case(db, op, case_id, "Ditambal")
    return case_id


def _sql(db: Database, sql: str, **params: object) -> None:
    with db.engine.connect() as conn:
        conn.execute(text(sql), params)
        conn.commit()


def _rows(db: Database, stream: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    "SELECT id, case_id, seq, type, actor, occurred_at, payload FROM events "
                    "WHERE stream = :s ORDER BY seq"
                ),
                {"s": stream},
            )
        )


def _rechain(db: Database, stream: str, edit: dict[int, dict[str, Any]], keep: int | None = None) -> None:
    """What a database admin would do: change payloads, drop the tail, recompute every hash and the anchor."""
    from datetime import UTC, datetime

    rows = _rows(db, stream)
    if keep is not None:
        for row in rows[keep:]:
            _sql(db, "DELETE FROM events WHERE id = :id", id=row.id)
        rows = rows[:keep]
    prev = GENESIS_HASH
    for row in rows:
        payload = row.payload if isinstance(row.payload, dict) else json.loads(row.payload)
        payload = edit.get(row.seq, payload)
        at = (
            row.occurred_at
            if isinstance(row.occurred_at, datetime)
            else datetime.fromisoformat(row.occurred_at)
        )
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        content = EventContent(
            case_id=row.case_id or 0,
            seq=row.seq,
            type=row.type,
            actor=row.actor,
            occurred_at=at,
            payload=payload,
        )
        digest = chain_hash(prev, content)
        _sql(
            db,
            "UPDATE events SET payload = :p, prev_hash = :prev, hash = :h WHERE id = :id",
            p=canonical_json(payload),
            prev=prev,
            h=digest,
            id=row.id,
        )
        prev = digest
    _sql(
        db,
        "UPDATE event_streams SET last_seq = :n, last_hash = :h WHERE stream = :s",
        n=len(rows),
        h=prev,
        s=stream,
    )


@pytest.fixture
def signed(db: Database, settings: Settings, tmp_path: Path) -> tuple[int, dict[str, Any], Any]:
    """Two worked cases, then a checkpoint signed with a key held in a file."""
    case_id = _worked_case(db, settings)
    _worked_case(db, settings, 1)
    key_path = tmp_path / "audit-key.pem"
    cp.generate_key(key_path)
    key = cp.load_private_key(key_path)
    with db.reading() as uow:
        last = uow.events.last_id()
    checkpoint = cp.make_checkpoint(db, key, log_name="kotapintar:test", upto_id=last)
    return case_id, checkpoint, key.public_key()


def test_untouched_log_matches_its_checkpoint(db: Database, signed: tuple[int, dict[str, Any], Any]) -> None:
    _, checkpoint, public = signed
    assert cp.signature_problem(checkpoint, public) is None
    assert cp.compare_with_log(db, checkpoint) == []
    assert check_projections(db)[1] == []


def test_recomputed_chain_and_anchor_pass_the_walk_but_not_the_checkpoint(
    db: Database, signed: tuple[int, dict[str, Any], Any]
) -> None:
    case_id, checkpoint, _ = signed
    _rechain(db, f"case:{case_id}", {4: {"text": "tidak pernah ditelepon"}})
    assert verify_log(db).ok  # the rewrite is internally consistent
    problems = cp.compare_with_log(db, checkpoint)
    assert any(f"stream case:{case_id}: rewritten" in p for p in problems), problems


def test_deleted_stream_is_named(db: Database, signed: tuple[int, dict[str, Any], Any]) -> None:
    case_id, checkpoint, _ = signed
    stream = f"case:{case_id}"
    _sql(db, "DELETE FROM events WHERE stream = :s", s=stream)
    _sql(db, "DELETE FROM event_streams WHERE stream = :s", s=stream)
    assert verify_log(db).ok
    problems = cp.compare_with_log(db, checkpoint)
    assert any(p.startswith(f"stream {stream}: deleted") for p in problems), problems


def test_rewound_anchor_is_named(db: Database, signed: tuple[int, dict[str, Any], Any]) -> None:
    case_id, checkpoint, _ = signed
    stream = f"case:{case_id}"
    signed_seq = checkpoint["streams"][stream][0]
    _rechain(db, stream, {}, keep=3)  # the resolution and what followed are gone, the chain made whole
    assert verify_log(db).ok
    problems = cp.compare_with_log(db, checkpoint)
    assert any(f"anchor rewound from seq {signed_seq} (signed) to 3" in p for p in problems), problems
    assert any("holds" in p and "events up to id" in p for p in problems), problems


def test_a_forged_or_foreign_checkpoint_is_refused(
    db: Database, signed: tuple[int, dict[str, Any], Any], tmp_path: Path
) -> None:
    _, checkpoint, public = signed
    forged = {**checkpoint, "root": "0" * 64}
    assert "altered" in str(cp.signature_problem(forged, public))
    other = tmp_path / "other.pem"
    cp.generate_key(other)
    foreign = cp.make_checkpoint(
        db, cp.load_private_key(other), log_name="x", upto_id=checkpoint["last_event_id"]
    )
    assert "not by the trusted key" in str(cp.signature_problem(foreign, public))


def test_case_and_reporter_rows_edited_outside_the_log_are_named(db: Database, settings: Settings) -> None:
    case_id = _worked_case(db, settings)
    assert check_projections(db)[1] == []
    _sql(db, "UPDATE cases SET status = 'closed', priority = 'P4' WHERE id = :id", id=case_id)
    _sql(db, "UPDATE reporters SET phone = '+628111111111'")
    problems = check_projections(db)[1]
    assert f"case {case_id}: status is 'closed' in the table but the events say 'resolved'" in problems
    assert any(p.startswith(f"case {case_id}: priority is 'P4'") for p in problems), problems
    assert any("personal data was changed outside the log" in p for p in problems), problems
    with db.reading() as uow:
        received = [e.payload for e in uow.events.for_case(case_id) if e.type == "report_received"]
    assert "+628129999999" not in json.dumps(received) and "reporter_sha256" in received[0]


def test_cli_and_public_page(db: Database, settings: Settings, tmp_path: Path) -> None:
    case_id = _worked_case(db, settings)
    key_path = tmp_path / "k.pem"
    checkpoint_path = tmp_path / "pub" / "checkpoint.json"
    env = {
        **os.environ,
        "KOTAPINTAR_DATABASE_URL": db.url,
        "KOTAPINTAR_ENVIRONMENT": "test",
        "KOTAPINTAR_AUDIT_SIGNING_KEY_PATH": str(key_path),
        "KOTAPINTAR_AUDIT_CHECKPOINT_PATH": str(checkpoint_path),
    }

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        run = [sys.executable, "-m", "kotapintar", *args]
        return subprocess.run(
            run, cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert cli("audit", "keygen", "--out", str(key_path)).returncode == 0
    with db.reading() as uow:
        last = uow.events.last_id()
    checkpoint = cp.make_checkpoint(db, cp.load_private_key(key_path), log_name="t", upto_id=last)
    cp.write_checkpoint(checkpoint, checkpoint_path)
    ok = cli("audit", "verify", "--checkpoint", str(checkpoint_path), "--projections")
    assert ok.returncode == 0 and "are unchanged" in ok.stdout, ok.stdout + ok.stderr
    _rechain(db, f"case:{case_id}", {4: {"text": "diubah"}})
    bad = cli("audit", "verify", "--checkpoint", str(checkpoint_path))
    assert bad.returncode == 1 and f"stream case:{case_id}: rewritten" in bad.stdout, bad.stdout
    settings.audit_checkpoint_path = checkpoint_path
    with TestClient(create_app(settings, db=db)) as client:
        page = client.get("/audit")
        assert page.status_code == 200 and checkpoint["root"] in page.text
        assert client.get("/audit/checkpoint.json").json()["root"] == checkpoint["root"]
