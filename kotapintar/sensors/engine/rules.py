"""Sensor rules as data (YAML → pydantic) and their pure evaluator: (rule, state, readings, now) → (state, actions).

A rule has one condition: a leaf over single devices (threshold_hysteresis, sustained, rate_of_rise,
accumulation, stale) or an all_of / any_of combination of conditions, evaluated per area (the devices'
region). Each leaf gives every device a status: ON (the condition holds), HOLD (not enough to open, but
enough to keep an open warning open) or OFF. An area opens a case when its status becomes ON, stays open
through HOLD and closes its warning after `close_after_min` of OFF. Rule state is plain JSON.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kotapintar.cases.lifecycle import Priority
from kotapintar.catalog import codes as catalogue
from kotapintar.core.errors import ValidationFailed
from kotapintar.sensors.engine.kinds import ATTRIBUTES, KIND_ATTRIBUTES, DeviceKind, canonical_attribute
from kotapintar.sensors.engine.levels import LevelCatalog, load_catalog, rank_of
from kotapintar.sensors.engine.payloads import Reading, iso_z
from kotapintar.sensors.engine.registry import DATA_DIR, Device

STATE_VERSION = 1
SERVICE_CODES = frozenset(catalogue.SERVICE_CODES)
CAP_CATEGORIES = frozenset(
    [
        "Geo",
        "Met",
        "Safety",
        "Security",
        "Rescue",
        "Fire",
        "Health",
        "Env",
        "Transport",
        "Infra",
        "CBRNE",
        "Other",
    ]
)


class RuleError(ValidationFailed):
    """A rule file or rule spec that cannot be used; the message says what to fix."""

    code = "sensor_rule_invalid"


class Status(IntEnum):
    """Status of a condition for one device or area: OFF < HOLD < ON."""

    OFF = 0
    HOLD = 1
    ON = 2


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Leaf(_Spec):
    """Which devices a leaf looks at: kind, explicit ids, tags (all required); and which attribute."""

    attribute: str
    device_kind: DeviceKind | None = None
    devices: tuple[str, ...] | None = None
    tags: tuple[str, ...] = ()
    level: str | None = Field(default=None, description="level reported when this leaf is ON")

    @model_validator(mode="after")
    def _attr(self) -> _Leaf:
        name = canonical_attribute(self.attribute)
        if name is None or name != self.attribute:
            raise ValueError(
                f"attribute must be a canonical name ({', '.join(ATTRIBUTES)}): {self.attribute}"
            )
        if self.device_kind is not None and self.attribute not in KIND_ATTRIBUTES[self.device_kind]:
            raise ValueError(f"{self.device_kind.value} devices do not report {self.attribute}")
        return self

    def matches(self, device: Device) -> bool:
        """True if this leaf looks at `device`."""
        if self.devices is not None and device.id not in self.devices:
            return False
        if self.device_kind is not None and device.kind != self.device_kind:
            return False
        if not set(self.tags) <= set(device.tags):
            return False
        return self.attribute in device.attributes


class ThresholdHysteresis(_Leaf):
    """ON at or above `open_at`, HOLD between `close_below` and `open_at`, OFF under `close_below`."""

    kind: Literal["threshold_hysteresis"] = "threshold_hysteresis"
    level_set: str | None = Field(default=None, description="named level set in defaults.yaml, e.g. flood")
    thresholds: dict[str, float] | None = Field(default=None, description="explicit level -> start value")
    open_at: str
    close_below: str

    @model_validator(mode="after")
    def _levels(self) -> ThresholdHysteresis:
        if (self.level_set is None) == (self.thresholds is None):
            raise ValueError("give exactly one of level_set or thresholds")
        if self.thresholds is not None:
            for code in (self.open_at, self.close_below):
                if code not in self.thresholds:
                    raise ValueError(f"level '{code}' missing from thresholds")
            if self.thresholds[self.close_below] > self.thresholds[self.open_at]:
                raise ValueError("close_below must not be above open_at")
        return self


class Sustained(_Leaf):
    """ON when every reading for `duration_min` is above `value` (a silence longer than `max_gap_min` resets)."""

    kind: Literal["sustained"] = "sustained"
    op: Literal["gt", "ge"] = "gt"
    value: float
    duration_min: float = Field(gt=0)
    max_gap_min: float | None = Field(default=None, gt=0, description="default: 3 × device interval")


class RateOfRise(_Leaf):
    """ON when the value rose by at least `rise` over the lowest reading of the last `within_min` minutes."""

    kind: Literal["rate_of_rise"] = "rate_of_rise"
    rise: float = Field(gt=0)
    within_min: float = Field(gt=0)


class Accumulation(_Leaf):
    """ON when the sum of readings over the last `within_min` minutes reaches `total` (e.g. rain in mm)."""

    kind: Literal["accumulation"] = "accumulation"
    total: float = Field(gt=0)
    within_min: float = Field(gt=0)


class Stale(_Leaf):
    """ON when a device has sent nothing for `max_silence_min` minutes (or `factor` × its interval)."""

    kind: Literal["stale"] = "stale"
    max_silence_min: float | None = Field(default=None, gt=0)
    factor: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> Stale:
        if (self.max_silence_min is None) == (self.factor is None):
            raise ValueError("give exactly one of max_silence_min or factor")
        return self

    def silence(self, device: Device) -> timedelta:
        """How long `device` may be silent."""
        if self.max_silence_min is not None:
            return timedelta(minutes=self.max_silence_min)
        return device.interval * (self.factor or 1.0)


class Combination(_Spec):
    """all_of: ON when every part is ON in the area (HOLD when none is OFF); any_of: the best part."""

    kind: Literal["all_of", "any_of"]
    conditions: tuple[Condition, ...] = Field(min_length=1)


Leaf = Annotated[
    ThresholdHysteresis | Sustained | RateOfRise | Accumulation | Stale, Field(discriminator="kind")
]
Condition = Annotated[
    ThresholdHysteresis | Sustained | RateOfRise | Accumulation | Stale | Combination,
    Field(discriminator="kind"),
]
Combination.model_rebuild()


class EnglishText(_Spec):
    """The English version of a warning (the CAP `en-US` info block); without it no English block is sent:
    an `en-US` block in Indonesian misleads the aggregators and readers that pick it."""

    event: str
    headline: str
    description: str
    instruction: dict[str, str] = Field(default_factory=dict, description="level code (or 'default') -> text")

    def instruction_for(self, level: str | None) -> str:
        """The instruction for `level`, else the default one."""
        return self.instruction.get(level or "", self.instruction.get("default", ""))


class WarningText(_Spec):
    """What a public CAP warning of this rule says, in Indonesian (and in English under `en`); `{placeholders}`
    are filled in."""

    event: str
    category: str = "Met"
    headline: str
    description: str
    instruction: dict[str, str] = Field(default_factory=dict, description="level code (or 'default') -> text")
    public: bool = True
    en: EnglishText | None = None

    @model_validator(mode="after")
    def _cat(self) -> WarningText:
        if self.category not in CAP_CATEGORIES:
            raise ValueError(f"CAP category must be one of {sorted(CAP_CATEGORIES)}")
        return self

    def instruction_for(self, level: str | None) -> str:
        """The instruction for `level`, else the default one."""
        return self.instruction.get(level or "", self.instruction.get("default", ""))


class Rule(_Spec):
    """A rule: its condition, the service and priority of the case it opens, and its warning text."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    name: str
    service: str
    priority: Priority
    priority_by_level: dict[str, Priority] = Field(default_factory=dict)
    level: str | None = None
    close_after_min: float = Field(default=30, ge=0)
    regions: tuple[str, ...] | None = None
    group: str | None = Field(default=None, description="rules sharing a group share one case per area")
    enabled: bool = True
    when: Condition
    warning: WarningText | None = None

    @model_validator(mode="after")
    def _service(self) -> Rule:
        if self.service not in SERVICE_CODES:
            raise ValueError(f"unknown service '{self.service}'")
        return self

    def leaves(self) -> list[tuple[str, Leaf]]:
        """Every leaf condition with its path ('0', '0.1', …)."""
        out: list[tuple[str, Leaf]] = []

        def walk(cond: Condition, path: str) -> None:
            if isinstance(cond, Combination):
                for i, child in enumerate(cond.conditions):
                    walk(child, f"{path}.{i}")
            else:
                out.append((path, cond))

        walk(self.when, "0")
        return out

    def has_stale(self) -> bool:
        """True if any leaf is a stale check (evaluated on the clock, not only on readings)."""
        return any(isinstance(leaf, Stale) for _, leaf in self.leaves())

    def dedupe_key(self, area: str) -> str:
        """The key under which at most one case is open: rule (or group) and area."""
        return f"{self.group or self.id}:{area}"

    def priority_at(self, level: str | None) -> Priority:
        """The case priority at `level`."""
        return self.priority_by_level.get(level or "", self.priority)


class RuleFile(_Spec):
    """A rules YAML file."""

    version: int = 1
    rules: tuple[Rule, ...]

    @model_validator(mode="after")
    def _unique(self) -> RuleFile:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule ids: {dupes}")
        return self


def load_rules(path: Path | None = None, *, catalog: LevelCatalog | None = None) -> list[Rule]:
    """Rules from YAML (default: the shipped rules.yaml), validated, with level names checked."""
    text = (path or DATA_DIR / "rules.yaml").read_text(encoding="utf-8")
    return parse_rules(yaml.safe_load(text), catalog=catalog)


def parse_rules(data: Any, *, catalog: LevelCatalog | None = None) -> list[Rule]:
    """Rules from parsed YAML/JSON; raises RuleError naming the rule and field at fault."""
    from pydantic import ValidationError

    try:
        rules = list(RuleFile.model_validate(data).rules)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise RuleError(f"Aturan tidak valid di {where}: {first['msg']}", errors=exc.errors()) from exc
    cat = catalog or load_catalog()
    for rule in rules:
        for _, leaf in rule.leaves():
            if isinstance(leaf, ThresholdHysteresis) and leaf.level_set is not None:
                if leaf.level_set not in cat.level_sets:
                    raise RuleError(f"Aturan {rule.id}: set level '{leaf.level_set}' tidak ada.")
                codes = cat.level_sets[leaf.level_set].codes()
                for code in (leaf.open_at, leaf.close_below):
                    if code not in codes:
                        raise RuleError(f"Aturan {rule.id}: level '{code}' tidak ada di {leaf.level_set}.")
                if codes.index(leaf.close_below) > codes.index(leaf.open_at):
                    raise RuleError(f"Aturan {rule.id}: close_below di atas open_at.")
    return rules


# ---------------------------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class OpenCase:
    """Open a case of `service` in `area` (at most one per dedupe_key while open), with the readings."""

    rule_id: str
    area: str
    service: str
    priority: Priority
    level: str | None
    at: datetime
    readings: tuple[Reading, ...]
    dedupe_key: str
    title: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"action": "open_case", **_common(self), "service": self.service, "title": self.title}


@dataclass(frozen=True)
class UpdateCase:
    """Attach new readings to the open case of this rule and area."""

    rule_id: str
    area: str
    at: datetime
    readings: tuple[Reading, ...]
    dedupe_key: str
    level: str | None = None
    priority: Priority | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"action": "update_case", **_common(self)}


@dataclass(frozen=True)
class LevelChanged:
    """The level of an open warning went up or down (the case priority may follow)."""

    rule_id: str
    area: str
    at: datetime
    old_level: str | None
    level: str | None
    priority: Priority
    dedupe_key: str
    readings: tuple[Reading, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"action": "level_changed", **_common(self), "old_level": self.old_level}


@dataclass(frozen=True)
class CloseWarning:
    """The condition has been OFF for close_after: end the public warning (the case stays with its SOP)."""

    rule_id: str
    area: str
    at: datetime
    level: str | None
    dedupe_key: str
    readings: tuple[Reading, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"action": "close_warning", **_common(self)}


Action = OpenCase | UpdateCase | LevelChanged | CloseWarning


def _common(action: Action) -> dict[str, Any]:
    priority = getattr(action, "priority", None)
    return {
        "rule_id": action.rule_id,
        "area": action.area,
        "at": iso_z(action.at),
        "level": action.level,
        "priority": priority.value if priority is not None else None,
        "dedupe_key": action.dedupe_key,
        "readings": [r.to_dict() for r in action.readings],
    }


@dataclass
class Evaluation:
    """The result of one evaluation: the new state (JSON) and the actions, in time order."""

    state: dict[str, Any]
    actions: list[Action] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# -------------------------------------------------------------------------------------------- evaluator
# Times inside the state are POSIX seconds (floats): cheap to compare, plain JSON.
#
# The evaluator runs for every batch the ingest takes in, so it is built for that path:
#   * everything that depends only on (rule, devices, level catalog) — which devices each leaf looks at,
#     the threshold table of each (leaf, device), the condition tree of each area, level ranks — is worked
#     out once into a `_Plan` and cached;
#   * `evaluate_all` sorts the batch once and hands each rule only the readings it can use;
#   * the state is copied shallowly (one dict per leaf state and area) instead of deep-copied: the inner
#     lists (`reading`, `window`) are replaced by new ones, never changed in place, so the caller's state
#     is never touched;
#   * an area whose status cannot have changed is not stepped again (see `_Run.feed`).
# The behaviour (new state and actions) is that of the straightforward evaluator this replaced; the
# tests in tests/sensors/test_sensors_rules_equivalence.py hold it to that.

_OFF, _HOLD, _ON = int(Status.OFF), int(Status.HOLD), int(Status.ON)
_ORDER = attrgetter("observed_at", "device_id", "attribute")
_VALUE = itemgetter(1)


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _unpack(item: Sequence[Any]) -> Reading:
    return Reading(_dt(item[0]), str(item[1]), str(item[2]), float(item[3]), str(item[4]))


def new_state(rule: Rule) -> dict[str, Any]:
    """The empty state of a rule."""
    return {"version": STATE_VERSION, "rule": rule.id, "leaves": {}, "areas": {}, "first_eval": None}


def case_closed(state: Mapping[str, Any], area: str) -> dict[str, Any]:
    """The state after the case of `area` was closed outside the rule: no new case until the condition clears."""
    out = _copy(state)
    a = out["areas"].setdefault(area, _new_area())
    a.update(open=False, armed=False, off_since=None, level=None, down_since=None)
    return out


def open_areas(state: Mapping[str, Any]) -> dict[str, tuple[str | None, datetime]]:
    """The areas with an open warning: area -> (level, opened_at)."""
    return {
        area: (a["level"], _dt(a["opened_at"])) for area, a in state.get("areas", {}).items() if a.get("open")
    }


def _copy(state: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = copy.deepcopy(dict(state))
    return out


def _working_copy(rule: Rule, state: Mapping[str, Any] | None) -> dict[str, Any]:
    """The state this evaluation changes: a new dict for the state, each leaf state and each area.

    Enough because the evaluator only sets keys of those dicts; the lists inside them are replaced, never
    changed in place. A deep copy of the whole state cost more than evaluating a small batch.
    """
    if not state:
        return new_state(rule)
    if state.get("version") != STATE_VERSION:
        raise RuleError(f"Versi state aturan {state.get('version')} tidak didukung.")
    out = dict(state)
    leaves = state.get("leaves")
    if isinstance(leaves, Mapping):
        out["leaves"] = {
            path: {d: dict(s) for d, s in by_device.items()} for path, by_device in leaves.items()
        }
    areas = state.get("areas")
    if isinstance(areas, Mapping):
        out["areas"] = {area: dict(a) for area, a in areas.items()}
    return out


def _new_area() -> dict[str, Any]:
    return {
        "open": False,
        "armed": True,
        "level": None,
        "opened_at": None,
        "off_since": None,
        "down_since": None,
        "last_t": None,
    }


# ----------------------------------------------------------------------- plan: what a rule looks at, once


class _Feed(ABC):
    """One (leaf, device) pair that readings of one attribute update; `apply` is the leaf kind's step.

    `apply` returns None when the reading is not applied (not newer than the last one, or no threshold),
    else whether the device's status for this leaf changed.
    """

    __slots__ = ("key", "level", "region")

    def __init__(self, path: str, leaf: Leaf, device: Device) -> None:
        self.region = device.region
        self.key = (path, device.id)
        self.level = leaf.level

    @abstractmethod
    def apply(self, run: _Run, s: dict[str, Any], t: float, reading: Reading) -> bool | None:
        """Update the device's leaf state `s` with a reading at POSIX time `t` (each leaf kind has its own)."""

    @staticmethod
    def _store(s: dict[str, Any], t: float, status: int, level: str | None, reading: Reading) -> bool:
        old = s.get("status", _OFF)
        s["t"] = t
        s["status"] = status
        s["level"] = level
        s["reading"] = [t, reading.device_id, reading.attribute, reading.value, reading.unit]
        return bool(status != old)


class _ThresholdFeed(_Feed):
    """threshold_hysteresis: the (leaf, device) threshold table is looked up once, not per reading."""

    __slots__ = ("base", "close_value", "explicit", "missing", "open_value", "starts")

    def __init__(self, path: str, leaf: ThresholdHysteresis, device: Device, catalog: LevelCatalog) -> None:
        super().__init__(path, leaf, device)
        if leaf.thresholds is not None:
            table = dict(leaf.thresholds)
            self.explicit = True
            self.base: str | None = None
            # level -> start in the table's order: the highest start reached wins, the first on a tie
            self.starts = tuple(table.items())
        else:
            level_set = catalog.level_set(leaf.level_set or "")
            table = level_set.thresholds(device)
            self.explicit = False
            self.base = level_set.levels[0].code
            # levels above the lowest, lowest first: the last one reached wins (LevelSet.level_of)
            self.starts = tuple(
                (lv.code, table[lv.code]) for lv in level_set.levels[1:] if table.get(lv.code) is not None
            )
        self.missing: str | None = None
        if leaf.open_at not in table or leaf.close_below not in table:
            self.missing = f"{device.id}: no threshold for {leaf.open_at}/{leaf.close_below}"
            self.open_value = self.close_value = 0.0
        else:
            self.open_value = table[leaf.open_at]
            self.close_value = table[leaf.close_below]

    def apply(self, run: _Run, s: dict[str, Any], t: float, reading: Reading) -> bool | None:
        last = s.get("t")
        if last is not None and last >= t:
            return None
        if self.missing is not None:
            run.notes.append(self.missing)
            return None
        value = reading.value
        level = self.base
        if self.explicit:
            top = 0.0
            for code, start in self.starts:
                if value >= start and (level is None or start > top):
                    level, top = code, start
        else:
            for code, start in self.starts:
                if value >= start:
                    level = code
        if value >= self.open_value:
            status = _ON
        elif value >= self.close_value:
            status = _HOLD
        else:
            status = _OFF
        return self._store(s, t, status, level, reading)


class _SustainedFeed(_Feed):
    """sustained: above the value for duration_min, reset by a dip or a silence longer than max_gap."""

    __slots__ = ("duration", "max_gap", "strict", "value")

    def __init__(self, path: str, leaf: Sustained, device: Device) -> None:
        super().__init__(path, leaf, device)
        self.strict = leaf.op == "gt"
        self.value = leaf.value
        self.max_gap = (leaf.max_gap_min * 60.0) if leaf.max_gap_min else device.interval_s * 3.0
        self.duration = leaf.duration_min * 60.0

    def apply(self, run: _Run, s: dict[str, Any], t: float, reading: Reading) -> bool | None:
        last = s.get("t")
        if last is not None and last >= t:
            return None
        value = reading.value
        above = value > self.value if self.strict else value >= self.value
        since = s.get("since")
        if since is not None and last is not None and t - last > self.max_gap:
            since = None
        status = _OFF
        if above:
            since = t if since is None else since
            status = _ON if t - since >= self.duration else _HOLD
        else:
            since = None
        s["since"] = since
        return self._store(s, t, status, self.level, reading)


class _WindowFeed(_Feed):
    """rate_of_rise and accumulation: the readings of the last within_min minutes, oldest first."""

    __slots__ = ("limit", "rise", "window")

    def __init__(self, path: str, leaf: RateOfRise | Accumulation, device: Device) -> None:
        super().__init__(path, leaf, device)
        self.window = leaf.within_min * 60.0
        self.rise = isinstance(leaf, RateOfRise)
        self.limit = (leaf.rise if isinstance(leaf, RateOfRise) else leaf.total) - 1e-9

    def apply(self, run: _Run, s: dict[str, Any], t: float, reading: Reading) -> bool | None:
        last = s.get("t")
        if last is not None and last >= t:
            return None
        value = reading.value
        window = self.window
        kept: list[Any] | None = run.windows.get(self)
        if kept is None:
            # First reading of this evaluation: a new list (the caller's is not changed) of what is left.
            kept = [(ts, v) for ts, v in s.get("window", []) if t - ts <= window]
            run.windows[self] = kept
        else:
            # Our own list, oldest first (times only grow): what fell out of the window is at the front.
            drop = 0
            for entry in kept:
                if t - entry[0] <= window:
                    break
                drop += 1
            if drop:
                del kept[:drop]
        if self.rise:
            lowest = min(map(_VALUE, kept), default=value)
            status = _ON if value - lowest >= self.limit else _OFF
        else:
            total = sum(map(_VALUE, kept)) + value
            status = _ON if total >= self.limit else _OFF
        kept.append((t, value))
        s["window"] = kept
        return self._store(s, t, status, self.level, reading)


class _LeafNode:
    """A leaf of the condition in one area: the status of its devices there (the best one)."""

    __slots__ = ("keys", "level", "silences", "stale")

    def __init__(
        self, path: str, leaf: Leaf, device_ids: Sequence[str], devices: Mapping[str, Device]
    ) -> None:
        self.keys = tuple((path, d) for d in device_ids)
        self.stale = isinstance(leaf, Stale)
        self.silences = tuple(
            leaf.silence(devices[d]).total_seconds() if isinstance(leaf, Stale) else 0.0 for d in device_ids
        )
        self.level = leaf.level

    def _device_status(self, run: _Run, s: dict[str, Any], silence: float, t: float) -> int:
        if not self.stale:
            return int(s.get("status", _OFF))
        last = s.get("last")
        if last is None:
            last = run.state["first_eval"]
        status = _ON if t - last > silence else _OFF
        s["status"] = status
        return status

    def status(self, run: _Run, t: float) -> int:
        best = _OFF
        for key, silence in zip(self.keys, self.silences, strict=True):
            status = self._device_status(run, run.leaf(key), silence, t)
            if status > best:
                best = status
        return best

    def detail(self, run: _Run, t: float) -> tuple[int, str | None, list[list[Any]]]:
        best = _OFF
        level: str | None = None
        evidence: list[list[Any]] = []
        rank = run.plan.rank
        for key, silence in zip(self.keys, self.silences, strict=True):
            s = run.leaf(key)
            status = self._device_status(run, s, silence, t)
            if status > _OFF:
                if s.get("reading"):
                    evidence.append(s["reading"])
                dev_level = self.level if self.stale else s.get("level")
                if level is None or rank(dev_level) > rank(level):
                    level = dev_level
            best = max(best, status)
        return best, level, evidence


class _CombinationNode:
    """all_of (the worst part) or any_of (the best part) in one area."""

    __slots__ = ("all", "parts")

    def __init__(self, kind: str, parts: Sequence[_LeafNode | _CombinationNode]) -> None:
        self.all = kind == "all_of"
        self.parts = tuple(parts)

    def status(self, run: _Run, t: float) -> int:
        # every part, no short cut: a stale part records its devices' status as it is computed
        statuses = [p.status(run, t) for p in self.parts]
        return min(statuses) if self.all else max(statuses)

    def detail(self, run: _Run, t: float) -> tuple[int, str | None, list[list[Any]]]:
        parts = [p.detail(run, t) for p in self.parts]
        statuses = [p[0] for p in parts]
        status = min(statuses) if self.all else max(statuses)
        evidence = [r for p in parts if p[0] > _OFF for r in p[2]]
        levels = [p[1] for p in parts if p[0] > _OFF and p[1] is not None]
        level = max(levels, key=run.plan.rank) if levels else None
        return status, level, evidence


class _Plan:
    """What a rule looks at with these devices and this catalog, worked out once (see `_plan`)."""

    def __init__(self, rule: Rule, devices: Mapping[str, Device], catalog: LevelCatalog) -> None:
        self.rule = rule
        self.devices = devices
        self.snapshot = tuple(devices.items())
        self.catalog = catalog
        self.has_stale = rule.has_stale()
        self.dwell = rule.close_after_min * 60.0
        self._ranks: dict[str | None, int] = {}
        # area -> leaf path -> device ids looked at; device id -> its leaves (path, leaf)
        self.area_devices: dict[str, dict[str, list[str]]] = {}
        self.device_leaves: dict[str, list[tuple[str, Leaf]]] = {}
        leaves = rule.leaves()
        for path, leaf in leaves:
            for device in devices.values():
                if not leaf.matches(device):
                    continue
                if rule.regions is not None and not any(
                    device.region == r or device.region.startswith(r + ".") for r in rule.regions
                ):
                    continue
                self.area_devices.setdefault(device.region, {}).setdefault(path, []).append(device.id)
                self.device_leaves.setdefault(device.id, []).append((path, leaf))
        # (device id, attribute) -> the feeds a reading updates; device id -> its stale leaves' paths
        self.feeds: dict[tuple[str, str], list[_Feed]] = {}
        self.stale_paths: dict[str, list[str]] = {}
        for device_id, device_leaves in self.device_leaves.items():
            device = devices[device_id]
            for path, leaf in device_leaves:
                if isinstance(leaf, Stale):
                    self.stale_paths.setdefault(device_id, []).append(path)
                    continue
                feed: _Feed
                if isinstance(leaf, ThresholdHysteresis):
                    feed = _ThresholdFeed(path, leaf, device, catalog)
                elif isinstance(leaf, Sustained):
                    feed = _SustainedFeed(path, leaf, device)
                else:
                    feed = _WindowFeed(path, leaf, device)
                self.feeds.setdefault((device_id, leaf.attribute), []).append(feed)
        self.areas = sorted(self.area_devices)
        self.nodes = {area: self._node(rule.when, "0", area) for area in self.areas}
        self.keys = {area: rule.dedupe_key(area) for area in self.areas}

    def _node(self, cond: Condition, path: str, area: str) -> _LeafNode | _CombinationNode:
        if isinstance(cond, Combination):
            parts = [self._node(c, f"{path}.{i}", area) for i, c in enumerate(cond.conditions)]
            return _CombinationNode(cond.kind, parts)
        return _LeafNode(path, cond, self.area_devices[area].get(path, []), self.devices)

    def rank(self, code: str | None) -> int:
        """Rank of a level code (cached)."""
        found = self._ranks.get(code)
        if found is None:
            found = self._ranks[code] = rank_of(code, self.catalog)
        return found


_PLANS: dict[tuple[int, int, int], _Plan] = {}
_PLAN_CACHE_SIZE = 64


def _plan(rule: Rule, devices: Mapping[str, Device], catalog: LevelCatalog) -> _Plan:
    """The plan of a rule, reused while the rule, the device mapping (and its devices) and catalog are the same.

    Rules, devices and the catalog are frozen models; a device mapping changed in place is noticed by
    comparing its items (identical objects compare at once).
    """
    key = (id(rule), id(devices), id(catalog))
    plan = _PLANS.get(key)
    if (
        plan is not None
        and plan.rule is rule
        and plan.devices is devices
        and plan.catalog is catalog
        and plan.snapshot == tuple(devices.items())
    ):
        return plan
    plan = _Plan(rule, devices, catalog)
    if len(_PLANS) >= _PLAN_CACHE_SIZE:
        _PLANS.clear()
    _PLANS[key] = plan
    return plan


# ------------------------------------------------------------------------------ one evaluation of a rule


class _Run:
    """One evaluation of one rule: its working state, the actions and the readings pending per area."""

    def __init__(self, plan: _Plan, state: dict[str, Any]) -> None:
        self.plan = plan
        self.rule = plan.rule
        self.state = state
        self.areas: dict[str, dict[str, Any]] = state["areas"]
        self._leaves: dict[str, dict[str, dict[str, Any]]] = state["leaves"]
        self._leaf_states: dict[tuple[str, str], dict[str, Any]] = {}
        self.windows: dict[_Feed, list[Any]] = {}
        self.actions: list[Action] = []
        self.notes: list[str] = []
        self.pending: dict[str, list[Reading]] = {}
        # areas stepped in full in this evaluation, and whose status has not changed since
        self.stepped: set[str] = set()

    def leaf(self, key: tuple[str, str]) -> dict[str, Any]:
        """The state of one (leaf path, device), created empty when first needed."""
        s = self._leaf_states.get(key)
        if s is None:
            path, device_id = key
            s = self._leaf_states[key] = self._leaves.setdefault(path, {}).setdefault(device_id, {})
        return s

    def mark_seen(self, device_id: str, seen: float) -> None:
        """A reading (of any attribute) came from the device: its stale leaves saw it."""
        for path in self.plan.stale_paths.get(device_id, ()):
            s = self.leaf((path, device_id))
            if s.get("last") is None or s["last"] < seen:
                s["last"] = seen

    def feed(self, readings: Iterable[tuple[Reading, float]]) -> None:
        """Apply readings (time order, none after `now`) and step each area they change.

        An area is stepped after every applied reading of its devices, except when stepping cannot do
        anything: the area is not open, it was stepped in full earlier in this evaluation, and this
        reading changed no device status of the rule. Then no status in the area changed since that step,
        so neither did the area's status; that step already set `armed` if the status was OFF, and did not
        open the area (else it would be open), so with the same status this one would only move `last_t`.
        Open areas are always stepped (pending readings, OFF and de-escalation dwell), so are rules with a
        stale leaf (their status depends on the time).
        """
        plan = self.plan
        feeds = plan.feeds
        stale = plan.has_stale
        stepped = self.stepped
        areas = self.areas
        leaf = self.leaf
        for reading, t in readings:
            if stale:
                self.mark_seen(reading.device_id, t)
            found = feeds.get((reading.device_id, reading.attribute))
            if not found:
                continue
            touched = changed = False
            for f in found:
                applied = f.apply(self, leaf(f.key), t, reading)
                if applied is not None:
                    touched = True
                    changed = changed or applied
            if not touched:
                continue
            area = found[0].region
            if not stale and not changed and area in stepped:
                a = areas[area]
                if not a["open"]:
                    if a["last_t"] is None or a["last_t"] < t:
                        a["last_t"] = t
                    continue
            self.step(area, reading.observed_at, t, reading)

    def step(self, area: str, when: datetime, t: float, reading: Reading | None) -> None:
        """Move the area's warning on: open, attach readings, change level, close."""
        rule = self.rule
        plan = self.plan
        a = self.areas.get(area)
        if a is None:
            a = self.areas[area] = _new_area()
        node = plan.nodes[area]
        status = node.status(self, t)
        self.stepped.add(area)
        key = plan.keys[area]
        if a["last_t"] is None or a["last_t"] < t:
            a["last_t"] = t
        if status == _OFF:
            a["armed"] = True
        if not a["open"]:
            if status == _ON and a["armed"]:
                _, found, evidence = node.detail(self, t)
                level = rule.level or found
                a.update(open=True, level=level, opened_at=t, off_since=None, down_since=None)
                self.pending.pop(area, None)
                self.actions.append(
                    OpenCase(
                        rule_id=rule.id,
                        area=area,
                        service=rule.service,
                        priority=rule.priority_at(level),
                        level=level,
                        at=when,
                        readings=_evidence(evidence),
                        dedupe_key=key,
                        title=_title(rule, level, plan.catalog),
                    )
                )
            return
        if reading is not None:
            self.pending.setdefault(area, []).append(reading)
        dwell = plan.dwell
        if status == _OFF:
            if a["off_since"] is None:
                a["off_since"] = t
            if t - a["off_since"] >= dwell:
                self.flush(area)
                self.actions.append(CloseWarning(rule.id, area, when, a["level"], key))
                a.update(open=False, level=None, opened_at=None, off_since=None, down_since=None)
            return
        a["off_since"] = None
        _, found, evidence = node.detail(self, t)
        level = rule.level or found
        if level is None or level == a["level"]:
            a["down_since"] = None
            return
        going_up = plan.rank(level) > plan.rank(a["level"])
        if not going_up:
            # Escalate at once, de-escalate only after the lower level held for close_after (no flapping).
            if a["down_since"] is None:
                a["down_since"] = t
            if t - a["down_since"] < dwell:
                return
        self.flush(area)
        old = a["level"]
        a.update(level=level, down_since=None)
        self.actions.append(
            LevelChanged(rule.id, area, when, old, level, rule.priority_at(level), key, _evidence(evidence))
        )

    def flush(self, area: str) -> None:
        """Attach the readings pending for the area to its open case."""
        readings = self.pending.pop(area, [])
        if not readings:
            return
        a = self.areas[area]
        self.actions.append(
            UpdateCase(
                rule_id=self.rule.id,
                area=area,
                at=max(r.observed_at for r in readings),
                readings=tuple(sorted(set(readings))),
                dedupe_key=self.rule.dedupe_key(area),
                level=a.get("level"),
                priority=self.rule.priority_at(a.get("level")),
            )
        )

    def finish(self, now: datetime) -> Evaluation:
        """Step every area on the clock (stale checks), attach what is pending; the result."""
        if self.plan.has_stale:
            t = _ts(now)
            for area in self.plan.areas:
                self.step(area, now, t, None)
        for area in sorted(self.pending):
            self.flush(area)
        return Evaluation(self.state, self.actions, self.notes)


def _start(
    plan: _Plan, state: dict[str, Any], now: datetime, last_seen: Mapping[str, datetime] | None
) -> _Run:
    run = _Run(plan, state)
    if state["first_eval"] is None:
        state["first_eval"] = _ts(now)
    if plan.has_stale:
        for device_id, seen in (last_seen or {}).items():
            run.mark_seen(device_id, _ts(seen))
    return run


def evaluate(
    rule: Rule,
    state: Mapping[str, Any] | None,
    readings: Iterable[Reading],
    *,
    now: datetime,
    devices: Mapping[str, Device],
    catalog: LevelCatalog | None = None,
    last_seen: Mapping[str, datetime] | None = None,
) -> Evaluation:
    """Feed clean readings (any order) and the clock to a rule; returns the new state and the actions.

    Readings are applied in time order per device; a reading not newer than the last one the rule saw for
    that device and leaf is ignored by the rule (it is still stored and rolled up by the caller). `last_seen`
    (all readings, flagged ones too) feeds stale checks; readings passed here count as seen as well.
    The given state is not changed; the new one may share the unchanged lists inside it.
    """
    st = _working_copy(rule, state)
    if not rule.enabled:
        return Evaluation(st, [], ["rule disabled"])
    plan = _plan(rule, devices, catalog or load_catalog())
    ordered = sorted((r for r in readings if r.device_id in plan.device_leaves), key=_ORDER)
    # readings after `now` sort after all the others: none of them is applied, each gets a note
    cut = len(ordered)
    while cut and ordered[cut - 1].observed_at > now:
        cut -= 1
    run = _start(plan, st, now, last_seen)
    run.feed((r, _ts(r.observed_at)) for r in ordered[:cut])
    result = run.finish(now)
    result.notes.extend(f"reading of {r.device_id} after now ignored" for r in ordered[cut:])
    return result


def _evidence(items: list[list[Any]]) -> tuple[Reading, ...]:
    return tuple(sorted({_unpack(i) for i in items}))


def _title(rule: Rule, level: str | None, catalog: LevelCatalog) -> str:
    found = catalog.find_level(level) if level else None
    return f"{rule.name} ({found[1].label[0]})" if found else rule.name


def evaluate_all(
    rules: Sequence[Rule],
    states: Mapping[str, Mapping[str, Any]],
    readings: Sequence[Reading],
    *,
    now: datetime,
    devices: Mapping[str, Device],
    catalog: LevelCatalog | None = None,
    last_seen: Mapping[str, datetime] | None = None,
) -> tuple[dict[str, dict[str, Any]], list[Action]]:
    """Evaluate every rule; returns the new state of each rule id and all actions in time order.

    The same as `evaluate` for each rule (without the notes), with the batch sorted once and each rule
    given only the readings of the devices and attributes it looks at.
    """
    cat = catalog or load_catalog()
    started: list[tuple[Rule, dict[str, Any], _Run | None]] = []
    feeds: list[list[tuple[Reading, float]]] = []
    # (device, attribute) -> the rules (index in `started`) a reading of it goes to
    routes: dict[tuple[str, str], list[int]] = {}
    stale_routes: dict[str, list[int]] = {}
    for rule in rules:
        st = _working_copy(rule, states.get(rule.id))
        feeds.append([])
        if not rule.enabled:
            started.append((rule, st, None))
            continue
        plan = _plan(rule, devices, cat)
        index = len(started)
        started.append((rule, st, _start(plan, st, now, last_seen)))
        for route in plan.feeds:
            routes.setdefault(route, []).append(index)
        for device_id in plan.stale_paths:
            stale_routes.setdefault(device_id, []).append(index)
    for route, targets in routes.items():
        targets.extend(i for i in stale_routes.get(route[0], ()) if i not in targets)
    used = [r for r in readings if (r.device_id, r.attribute) in routes or r.device_id in stale_routes]
    for reading in sorted(used, key=_ORDER):
        if reading.observed_at > now:
            continue
        targets = routes.get((reading.device_id, reading.attribute)) or stale_routes[reading.device_id]
        item = (reading, reading.observed_at.timestamp())
        for index in targets:
            feeds[index].append(item)
    new_states: dict[str, dict[str, Any]] = {}
    actions: list[Action] = []
    for (rule, st, run), items in zip(started, feeds, strict=True):
        if run is None:
            new_states[rule.id] = st
            continue
        run.feed(items)
        result = run.finish(now)
        new_states[rule.id] = result.state
        actions.extend(result.actions)
    actions.sort(key=lambda a: a.at)
    return new_states, actions
