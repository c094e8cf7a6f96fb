"""Promotion of a retrained triage model: the files replace the shipped model and an event records it."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.types import EventType, utcnow

SYSTEM_STREAM = "system"


@dataclass(frozen=True)
class Promotion:
    """What a promotion replaced: the model's SHA-256 before and after, and where."""

    target: Path
    previous_sha256: str | None
    sha256: str


def _sha256(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


def promote_model(
    db: Database,
    actor: Actor,
    candidate: Path,
    target: Path,
    figures: dict[str, Any],
    *,
    forced: bool = False,
) -> Promotion:
    """Replace the model at `target` with `candidate` (.joblib and its .json) and append a
    `triage_model_promoted` event to the system stream with both hashes and the evaluation figures.

    The files are copied beside the target first and swapped in with os.replace inside the event's
    transaction: if the swap fails, no event is written; the model and its metadata move together.
    """
    actor.require(Permission.MANAGE_CATALOGUE)
    meta = candidate.with_suffix(".json")
    if not candidate.exists() or not meta.exists():
        raise ValidationFailed(
            f"Kandidat tidak lengkap: {candidate} dan {meta.name} harus ada.", code="triage_candidate_missing"
        )
    sha = hashlib.sha256(candidate.read_bytes()).hexdigest()
    previous = _sha256(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged_model = target.with_name(target.name + ".promote")
    staged_meta = target.with_suffix(".json.promote")
    shutil.copyfile(candidate, staged_model)
    shutil.copyfile(meta, staged_meta)
    with db.transaction() as uow:
        uow.events.append(
            stream=SYSTEM_STREAM,
            case_id=None,
            type=EventType.TRIAGE_MODEL_PROMOTED,
            actor=actor.name,
            at=utcnow(),
            payload={
                "target": str(target),
                "previous_sha256": previous,
                "sha256": sha,
                "forced": forced,
                "figures": figures,
            },
        )
        os.replace(staged_meta, target.with_suffix(".json"))
        os.replace(staged_model, target)
    return Promotion(target=target, previous_sha256=previous, sha256=sha)
