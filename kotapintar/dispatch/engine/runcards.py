"""Run cards as data: which unit kinds and how many an incident type, priority and protocol answers need."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog import codes as catalogue
from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.dispatch.engine.profiles import DATA_DIR

RUNCARDS_PATH = DATA_DIR / "runcards.yaml"
SERVICE_CODES: frozenset[str] = frozenset(catalogue.SERVICE_CODES)
_SLUG = re.compile(r"^[a-z][a-z0-9_]*$")
Answer = bool | str | int


@dataclass(frozen=True)
class Need:
    """How many units of one kind an incident needs."""

    kind: str
    count: int = 1


@dataclass(frozen=True)
class RunCard:
    """One rule: for a service (and optional priorities / protocol answers), the units to send."""

    service: str
    name: str
    needs: tuple[Need, ...]
    priorities: frozenset[Priority] = frozenset()
    when: Mapping[str, Answer] = field(default_factory=dict)
    target_s: float | None = None

    def matches(self, priority: Priority | None, answers: Mapping[str, Answer]) -> bool:
        """True when every condition of the card holds for this priority and these answers."""
        if self.priorities and (priority is None or priority not in self.priorities):
            return False
        return all(name in answers and answers[name] == value for name, value in self.when.items())

    @property
    def specificity(self) -> int:
        """Number of conditions; the most specific matching card wins."""
        return len(self.when) + (1 if self.priorities else 0)


def _fail(where: str, msg: str) -> ValidationFailed:
    return ValidationFailed(f"Kartu penugasan {where}: {msg}", code="invalid_runcard")


def runcard_from_dict(raw: Mapping[str, Any], where: str) -> RunCard:
    """Validate one run card mapping; the error names the card and the field."""
    service = raw.get("service")
    if service not in SERVICE_CODES:
        raise _fail(where, f"layanan {service!r} bukan kode layanan yang dikenal.")
    needs_raw = raw.get("needs")
    if not isinstance(needs_raw, Sequence) or not needs_raw:
        raise _fail(where, "'needs' harus daftar {kind, count} yang tidak kosong.")
    needs: list[Need] = []
    for item in needs_raw:
        kind = item.get("kind") if isinstance(item, Mapping) else None
        count = item.get("count", 1) if isinstance(item, Mapping) else None
        if not isinstance(kind, str) or not _SLUG.match(kind):
            raise _fail(where, f"jenis unit {kind!r} tidak valid.")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _fail(where, f"jumlah unit {kind} harus bilangan bulat ≥ 1 (dapat: {count!r}).")
        if any(n.kind == kind for n in needs):
            raise _fail(where, f"jenis unit {kind} disebut dua kali.")
        needs.append(Need(kind, count))
    prios_raw = raw.get("priority") or []
    if isinstance(prios_raw, str):
        prios_raw = [prios_raw]
    try:
        priorities = frozenset(Priority(p) for p in prios_raw)
    except ValueError as exc:
        raise _fail(where, f"prioritas {prios_raw!r} tidak valid (P1..P4).") from exc
    when_raw = raw.get("when") or {}
    if not isinstance(when_raw, Mapping):
        raise _fail(where, "'when' harus pemetaan jawaban protokol → nilai.")
    when: dict[str, Answer] = {}
    for name, value in when_raw.items():
        if not isinstance(name, str) or not _SLUG.match(name):
            raise _fail(where, f"nama jawaban {name!r} tidak valid.")
        if not isinstance(value, bool | str | int):
            raise _fail(where, f"nilai jawaban {name} harus boolean, teks atau angka.")
        when[name] = value
    target = raw.get("target_min")
    if target is not None and (
        isinstance(target, bool) or not isinstance(target, int | float) or target <= 0
    ):
        raise _fail(where, f"target_min harus angka positif (dapat: {target!r}).")
    return RunCard(
        service=service,
        name=str(raw.get("name") or service),
        needs=tuple(needs),
        priorities=priorities,
        when=when,
        target_s=None if target is None else float(target) * 60.0,
    )


class RunCardBook:
    """All run cards; `select` picks the most specific card that matches an incident."""

    def __init__(self, cards: Sequence[RunCard]) -> None:
        self.cards = tuple(cards)

    def services(self) -> frozenset[str]:
        """Service codes that have at least one run card."""
        return frozenset(c.service for c in self.cards)

    def select(
        self,
        service: str,
        priority: Priority | str | None = None,
        answers: Mapping[str, Answer] | None = None,
    ) -> RunCard:
        """The card for this incident; NotFound (code `no_runcard`) when no card of the service matches."""
        prio = Priority(priority) if isinstance(priority, str) else priority
        ans = answers or {}
        best: RunCard | None = None
        for card in self.cards:
            if (
                card.service == service
                and card.matches(prio, ans)
                and (best is None or card.specificity > best.specificity)
            ):
                best = card
        if best is None:
            raise NotFound(
                "Tidak ada kartu penugasan unit untuk layanan dan kondisi kasus ini; kasus ditangani lewat tugas instansi.",
                code="no_runcard",
                service=service,
            )
        return best

    def needs_for(
        self,
        service: str,
        priority: Priority | str | None = None,
        answers: Mapping[str, Answer] | None = None,
    ) -> tuple[Need, ...]:
        """The unit needs of the selected card."""
        return self.select(service, priority, answers).needs


def parse_runcards(doc: Mapping[str, Any]) -> RunCardBook:
    """Validate a run-card document ({version, runcards: [...]}) into a RunCardBook."""
    raw = doc.get("runcards")
    if not isinstance(raw, Sequence) or not raw:
        raise ValidationFailed("Berkas kartu penugasan tidak berisi 'runcards'.", code="invalid_runcard")
    cards = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, Mapping):
            raise _fail(f"#{i}", "harus berupa pemetaan.")
        cards.append(runcard_from_dict(item, f"#{i} ({item.get('name') or item.get('service')})"))
    return RunCardBook(cards)


@lru_cache(maxsize=8)
def load_runcards(path: Path | str | None = None) -> RunCardBook:
    """Load (once, cached) the run cards from YAML; the shipped file when no path is given."""
    with Path(path or RUNCARDS_PATH).open(encoding="utf-8") as fh:
        return parse_runcards(yaml.safe_load(fh) or {})
