"""The unit status state machine, read from data: statuses, allowed transitions and their event types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from kotapintar.core.errors import IllegalTransition, ValidationFailed
from kotapintar.dispatch.engine.profiles import DATA_DIR

UNIT_STATUS_PATH = DATA_DIR / "unit_status.yaml"
DEFAULT_EVENT = "unit_status_changed"
CLEARED_EVENT = "unit_cleared"


@dataclass(frozen=True)
class UnitStatusInfo:
    """One status: its labels, whether a unit in it works a case, and the event entering it writes."""

    name: str
    label: str
    label_en: str
    on_case: bool
    clears: bool
    event: str


@dataclass(frozen=True)
class UnitStatusMachine:
    """Statuses and allowed moves; `check` refuses an illegal move with a code and the allowed ones."""

    statuses: Mapping[str, UnitStatusInfo]
    transitions: Mapping[str, frozenset[str]]

    def check(self, current: str, target: str) -> None:
        """Raise IllegalTransition (or ValidationFailed for an unknown status) unless current → target is allowed."""
        if target not in self.statuses:
            raise ValidationFailed(
                "Status unit yang dikirim tidak dikenal; pilih salah satu: "
                f"{', '.join(info.label for info in self.statuses.values())}.",
                code="unknown_unit_status",
                allowed=list(self.statuses),
            )
        allowed = self.transitions.get(current, frozenset())
        if target not in allowed:
            raise IllegalTransition(
                f"Unit berstatus {self.label(current)} tidak dapat menjadi {self.label(target)}; "
                f"yang boleh: {', '.join(self.label(s) for s in sorted(allowed)) or '-'}.",
                code="illegal_unit_transition",
                current=current,
                target=target,
                allowed=sorted(allowed),
            )

    def label(self, status: str) -> str:
        """The Indonesian label of a status (the code itself when unknown)."""
        info = self.statuses.get(status)
        return info.label if info else status

    def event_for(self, current: str, target: str) -> str:
        """The event type a move writes: leaving a case writes unit_cleared, else the target's event."""
        cur = self.statuses.get(current)
        tgt = self.statuses[target]
        if cur is not None and cur.on_case and tgt.clears:
            return CLEARED_EVENT
        return tgt.event

    def ends_assignment(self, current: str, target: str) -> bool:
        """True when the move takes a unit off its case."""
        cur = self.statuses.get(current)
        return cur is not None and cur.on_case and not self.statuses[target].on_case

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form for the API and the crew page."""
        return {
            "statuses": {k: v.__dict__ for k, v in self.statuses.items()},
            "transitions": {k: sorted(v) for k, v in self.transitions.items()},
        }


def parse_unit_status(doc: Mapping[str, Any]) -> UnitStatusMachine:
    """Validate a status document into a machine; every transition must name known statuses."""
    raw = doc.get("statuses") or {}
    statuses = {
        str(name): UnitStatusInfo(
            name=str(name),
            label=str(v.get("label", name)),
            label_en=str(v.get("label_en", name)),
            on_case=bool(v.get("on_case", False)),
            clears=bool(v.get("clears", False)),
            event=str(v.get("event", DEFAULT_EVENT)),
        )
        for name, v in raw.items()
    }
    transitions = {
        str(k): frozenset(str(t) for t in v or []) for k, v in (doc.get("transitions") or {}).items()
    }
    unknown = (set(transitions) | {t for v in transitions.values() for t in v}) - set(statuses)
    if not statuses or unknown:
        raise ValidationFailed(
            f"Mesin status unit tidak valid: status tidak dikenal {sorted(unknown)}.",
            code="invalid_unit_status",
        )
    return UnitStatusMachine(statuses=statuses, transitions=transitions)


@lru_cache(maxsize=4)
def load_unit_status(path: Path | str | None = None) -> UnitStatusMachine:
    """Load (once, cached) the unit status machine; the shipped file when no path is given."""
    with Path(path or UNIT_STATUS_PATH).open(encoding="utf-8") as fh:
        return parse_unit_status(yaml.safe_load(fh) or {})
