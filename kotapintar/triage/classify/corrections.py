"""Operators' corrections of triage (exported from TRIAGE_CORRECTED events) as extra training examples."""

from __future__ import annotations

import json
from pathlib import Path

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.triage.classify.dataset import Example, split_of
from kotapintar.triage.classify.urgency import SERVICE_CODES


def read_corrections(path: Path) -> list[Example]:
    """Examples from a JSONL export, one `{"text", "service", "urgency"?}` object per line.

    Corrections always go to the training split: the held-out split stays the project's own, so the
    before/after evaluation compares like with like. Blank lines are skipped; anything else that is not
    a valid correction is refused with its line number.
    """
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ValidationFailed(f"{path}:{number}: bukan JSON ({exc.msg})", line=number) from exc
        if not isinstance(record, dict):
            raise ValidationFailed(f"{path}:{number}: harus objek JSON", line=number)
        text = record.get("text")
        service = record.get("service")
        if not isinstance(text, str) or not text.strip():
            raise ValidationFailed(f"{path}:{number}: `text` kosong", line=number)
        if service not in SERVICE_CODES:
            raise ValidationFailed(f"{path}:{number}: kode layanan tidak dikenal: {service!r}", line=number)
        urgency_raw = record.get("urgency")
        try:
            urgency = Priority(urgency_raw) if urgency_raw else None
        except ValueError as exc:
            raise ValidationFailed(f"{path}:{number}: urgensi harus P1..P4", line=number) from exc
        examples.append(Example(text=text.strip(), service=str(service), urgency=urgency, split="train"))
    return examples


def leaks_into_test(corrections: list[Example]) -> list[Example]:
    """Corrections whose text would fall in the held-out split (reported, still used for training)."""
    return [c for c in corrections if split_of(c.text) == "test"]
