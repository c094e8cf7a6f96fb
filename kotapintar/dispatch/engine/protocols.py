"""Protocol cards of 112 calls: structured questions per incident type whose answers set the priority."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kotapintar.cases.lifecycle import Priority
from kotapintar.core.errors import ValidationFailed
from kotapintar.dispatch.engine.profiles import DATA_DIR

PROTOCOLS_PATH = DATA_DIR / "protocols.yaml"
Answer = bool | int


# Alt+letters the 112 console keeps for itself (calltaker.js): new call, caller, incident type, desa, dispatch,
# and the five classifications. A question key among them would shadow the console's own shortcut.
CONSOLE_KEYS = frozenset("npjld12345")


@dataclass(frozen=True)
class Question:
    """One structured question of a protocol card."""

    id: str
    type: str  # bool | int
    text: str
    text_en: str
    key: str | None = None


@dataclass(frozen=True)
class PriorityRule:
    """When every condition holds, the call gets `priority`."""

    when: Mapping[str, Any]
    priority: Priority

    def matches(self, answers: Mapping[str, Answer]) -> bool:
        """True when every condition holds for these answers (an unanswered question never matches)."""
        for name, cond in self.when.items():
            if name not in answers:
                return False
            value = answers[name]
            if isinstance(cond, Mapping):
                if "gte" in cond and not (not isinstance(value, bool) and value >= cond["gte"]):
                    return False
            elif value != cond or isinstance(value, bool) != isinstance(cond, bool):
                return False
        return True


@dataclass(frozen=True)
class ProtocolCard:
    """The card of one incident type (service code)."""

    service: str
    label: str
    label_en: str
    base_priority: Priority
    questions: tuple[Question, ...]
    rules: tuple[PriorityRule, ...] = field(default_factory=tuple)

    def clean_answers(self, raw: Mapping[str, Any]) -> dict[str, Answer]:
        """Validate answers against the questions; unknown keys and wrong types are refused with a reason."""
        known = {q.id: q for q in self.questions}
        out: dict[str, Answer] = {}
        for name, value in raw.items():
            if value is None or value == "":
                continue
            q = known.get(name)
            if q is None:
                raise ValidationFailed(
                    f"Pertanyaan {name!r} tidak ada di kartu protokol {self.service}.",
                    code="unknown_question",
                    field=name,
                )
            out[name] = _coerce(q, value)
        return out

    def priority_for(self, answers: Mapping[str, Answer]) -> Priority:
        """The priority the answers give: the first matching rule, else the card's base priority."""
        for rule in self.rules:
            if rule.matches(answers):
                return rule.priority
        return self.base_priority

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form for the API and the console."""
        return {
            "service": self.service,
            "label": self.label,
            "label_en": self.label_en,
            "base_priority": self.base_priority.value,
            "questions": [q.__dict__ for q in self.questions],
            "rules": [{"when": dict(r.when), "priority": r.priority.value} for r in self.rules],
        }


_TRUE = {"true", "ya", "y", "yes", "1"}
_FALSE = {"false", "tidak", "t", "no", "n", "0"}


def _coerce(q: Question, value: Any) -> Answer:
    if q.type == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    elif q.type == "int":
        try:
            number = int(str(value).strip()) if not isinstance(value, bool) else -1
        except ValueError:
            number = -1
        if number >= 0:
            return number
    raise ValidationFailed(
        f"Jawaban {q.id!r} harus {'ya/tidak' if q.type == 'bool' else 'bilangan ≥ 0'}.",
        code="invalid_answer",
        field=q.id,
    )


def parse_protocols(doc: Mapping[str, Any]) -> dict[str, ProtocolCard]:
    """Validate a protocol document into cards keyed by service code."""
    raw = doc.get("protocols")
    if not isinstance(raw, Mapping) or not raw:
        raise ValidationFailed("Berkas protokol tidak berisi 'protocols'.", code="invalid_protocol")
    cards: dict[str, ProtocolCard] = {}
    for service, item in raw.items():
        where = f"protokol {service}"
        try:
            questions = tuple(
                Question(
                    id=str(q["id"]),
                    type=str(q["type"]),
                    text=str(q["text"]),
                    text_en=str(q.get("text_en") or q["text"]),
                    key=str(q["key"]) if q.get("key") else None,
                )
                for q in item.get("questions") or []
            )
            ids = {q.id for q in questions}
            if len(ids) != len(questions) or any(q.type not in ("bool", "int") for q in questions):
                raise ValidationFailed(f"{where}: id pertanyaan ganda atau jenis tidak dikenal.")
            keys = [q.key for q in questions if q.key]
            if len(set(keys)) != len(keys):
                raise ValidationFailed(f"{where}: tombol pintas ganda.")
            taken = sorted(k for k in keys if k.lower() in CONSOLE_KEYS)
            if taken:
                raise ValidationFailed(
                    f"{where}: tombol pintas {', '.join(taken)} sudah dipakai konsol 112 "
                    f"(Alt+{', Alt+'.join(sorted(CONSOLE_KEYS))}); pilih huruf lain."
                )
            rules = []
            for r in item.get("priority") or []:
                when = dict(r["when"])
                if not set(when) <= ids:
                    raise ValidationFailed(
                        f"{where}: aturan memakai pertanyaan yang tidak ada ({sorted(when)})."
                    )
                rules.append(PriorityRule(when=when, priority=Priority(r["priority"])))
            cards[str(service)] = ProtocolCard(
                service=str(service),
                label=str(item["label"]),
                label_en=str(item.get("label_en") or item["label"]),
                base_priority=Priority(item.get("base_priority", "P2")),
                questions=questions,
                rules=tuple(rules),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValidationFailed(f"{where} tidak valid: {exc}", code="invalid_protocol") from exc
    return cards


@lru_cache(maxsize=4)
def load_protocols(path: Path | str | None = None) -> dict[str, ProtocolCard]:
    """Load (once, cached) the protocol cards; the shipped file when no path is given."""
    with Path(path or PROTOCOLS_PATH).open(encoding="utf-8") as fh:
        return parse_protocols(yaml.safe_load(fh) or {})
