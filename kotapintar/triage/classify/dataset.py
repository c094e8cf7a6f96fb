"""The project's labelled report texts: loading, the deterministic train/test split, and a content hash."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.triage.classify.urgency import SERVICE_CODES

Split = Literal["train", "test"]
TEST_PERCENT = 22  # share of texts in the held-out split (by hash, so it never changes with the order)
_URGENCY_PREFIX = re.compile(r"^(P[1-4])\s*\|\s*(.+)$", re.DOTALL)


@dataclass(frozen=True)
class Example:
    """One labelled report text; `urgency` is set only when a person labelled it by hand."""

    text: str
    service: str
    urgency: Priority | None
    split: Split


def data_dir() -> Path:
    """The folder of shipped triage data inside the package."""
    return Path(str(resources.files("kotapintar.triage") / "data"))


def split_of(text: str) -> Split:
    """`test` for about TEST_PERCENT % of texts, chosen by a hash of the text (stable across runs)."""
    key = " ".join(text.lower().split()).encode("utf-8")
    bucket = int.from_bytes(hashlib.sha256(key).digest()[:4], "big") % 100
    return "test" if bucket < TEST_PERCENT else "train"


def parse_item(item: str) -> tuple[str, Priority | None]:
    """Split an optional hand-labelled urgency prefix (`P1 | text`) from a data item."""
    match = _URGENCY_PREFIX.match(item.strip())
    if match:
        return match.group(2).strip(), Priority(match.group(1))
    return item.strip(), None


def load_yaml_examples(path: Path) -> list[Example]:
    """Examples from a YAML file keyed by service code; refuses unknown codes and non-text items."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise ValidationFailed(f"{path}: expected a mapping of service code to texts")
    examples: list[Example] = []
    for service, items in raw.items():
        if service not in SERVICE_CODES:
            raise ValidationFailed(f"{path}: unknown service code {service!r}", service=service)
        for item in items or []:
            if not isinstance(item, str) or not item.strip():
                raise ValidationFailed(f"{path}: item under {service!r} is not a text: {item!r}")
            text, urgency = parse_item(item)
            examples.append(Example(text=text, service=service, urgency=urgency, split=split_of(text)))
    return examples


def load_examples(path: Path | None = None) -> list[Example]:
    """The shipped training/test examples (reports.yaml), or those of another file in the same format."""
    return load_yaml_examples(path or data_dir() / "reports.yaml")


def load_external(path: Path | None = None) -> list[Example]:
    """The external-style evaluation set: never used for training, every example marked `test`."""
    examples = load_yaml_examples(path or data_dir() / "external_eval.yaml")
    return [Example(e.text, e.service, e.urgency, "test") for e in examples]


def examples_hash(examples: list[Example]) -> str:
    """SHA-256 over the (text, service) pairs in order: identifies the data a model was trained on."""
    digest = hashlib.sha256()
    for example in examples:
        digest.update(f"{example.service}\t{example.text}\n".encode())
    return digest.hexdigest()
