"""Sensor rules as data (YAML → pydantic) and their pure evaluator: (rule, state, readings, now) → (state, actions).

A rule has one condition: a leaf over single devices (threshold_hysteresis, sustained, rate_of_rise,
accumulation, stale) or an all_of / any_of combination of conditions, evaluated per area (the devices'
region). Each leaf gives every device a status: ON (the condition holds), HOLD (not enough to open, but
enough to keep an open warning open) or OFF. An area opens a case when its status becomes ON, stays open
through HOLD and closes its warning after `close_after_min` of OFF. Rule state is plain JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kotapintar.domain import catalogue
from kotapintar.domain.cases import Priority
from kotapintar.domain.errors import ValidationFailed
from kotapintar.sensors.kinds import ATTRIBUTES, KIND_ATTRIBUTES, DeviceKind, canonical_attribute
from kotapintar.sensors.levels import LevelCatalog, load_catalog, rank_of
from kotapintar.sensors.payloads import Reading, iso_z
from kotapintar.sensors.registry import DATA_DIR, Device

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


class WarningText(_Spec):
    """What a public CAP warning of this rule says, in Indonesian; `{placeholders}` are filled in."""

    event: str
    category: str = "Met"
    headline: str
    description: str
    instruction: dict[str, str] = Field(default_factory=dict, description="level code (or 'default') -> text")
    public: bool = True

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


def _ts(moment: datetime) -> float:
    return moment.timestamp()


def _dt(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def _pack(reading: Reading) -> list[Any]:
    return [
        reading.observed_at.timestamp(),
        reading.device_id,
        reading.attribute,
        reading.value,
        reading.unit,
    ]


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


class _Ctx:
    def __init__(
        self,
        rule: Rule,
        state: dict[str, Any],
        devices: Mapping[str, Device],
        catalog: LevelCatalog,
    ) -> None:
        self.rule = rule
        self.state = state
        self.devices = devices
        self.catalog = catalog
        self.leaves = rule.leaves()
        self.actions: list[Action] = []
        self.notes: list[str] = []
        self.pending: dict[str, list[Reading]] = {}
        self._ranks: dict[str | None, int] = {}
        # area -> leaf path -> device ids looked at; device id -> leaf paths (with the leaf)
        self.area_devices: dict[str, dict[str, list[str]]] = {}
        self.device_leaves: dict[str, list[tuple[str, Leaf]]] = {}
        for path, leaf in self.leaves:
            for device in devices.values():
                if not leaf.matches(device):
                    continue
                if rule.regions is not None and not any(
                    device.region == r or device.region.startswith(r + ".") for r in rule.regions
                ):
                    continue
                self.area_devices.setdefault(device.region, {}).setdefault(path, []).append(device.id)
                self.device_leaves.setdefault(device.id, []).append((path, leaf))

    def leaf_state(self, path: str, device_id: str) -> dict[str, Any]:
        leaf: dict[str, Any] = self.state["leaves"].setdefault(path, {}).setdefault(device_id, {})
        return leaf

    def rank(self, code: str | None) -> int:
        if code not in self._ranks:
            self._ranks[code] = rank_of(code, self.catalog)
        return self._ranks[code]


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
    """
    st = _copy(state) if state else new_state(rule)
    if st.get("version") != STATE_VERSION:
        raise RuleError(f"Versi state aturan {st.get('version')} tidak didukung.")
    if not rule.enabled:
        return Evaluation(st, [], ["rule disabled"])
    ctx = _Ctx(rule, st, devices, catalog or load_catalog())
    if st["first_eval"] is None:
        st["first_eval"] = _ts(now)
    for device_id, seen in (last_seen or {}).items():
        _mark_seen(ctx, device_id, seen)
    ordered = sorted(
        (r for r in readings if r.device_id in ctx.device_leaves),
        key=lambda r: (r.observed_at, r.device_id, r.attribute),
    )
    for reading in ordered:
        if reading.observed_at > now:
            ctx.notes.append(f"reading of {reading.device_id} after now ignored")
            continue
        device = devices[reading.device_id]
        _mark_seen(ctx, reading.device_id, reading.observed_at)
        touched = False
        for path, leaf in ctx.device_leaves[device.id]:
            if leaf.attribute != reading.attribute or isinstance(leaf, Stale):
                continue
            if _apply(ctx, path, leaf, device, reading):
                touched = True
        if touched:
            _step_area(ctx, device.region, reading.observed_at, reading)
    if rule.has_stale():
        for area in sorted(ctx.area_devices):
            _step_area(ctx, area, now, None)
    for area in sorted(ctx.pending):
        _flush(ctx, area)
    return Evaluation(st, ctx.actions, ctx.notes)


def _mark_seen(ctx: _Ctx, device_id: str, seen: datetime) -> None:
    for path, leaf in ctx.device_leaves.get(device_id, ()):
        if isinstance(leaf, Stale):
            s = ctx.leaf_state(path, device_id)
            if s.get("last") is None or s["last"] < _ts(seen):
                s["last"] = _ts(seen)


def _apply(ctx: _Ctx, path: str, leaf: Leaf, device: Device, reading: Reading) -> bool:
    """Update one device's leaf state with a reading; False when the reading is not newer."""
    s = ctx.leaf_state(path, device.id)
    t = _ts(reading.observed_at)
    if s.get("t") is not None and s["t"] >= t:
        return False
    value = reading.value
    status = Status.OFF
    level = leaf.level
    if isinstance(leaf, ThresholdHysteresis):
        if leaf.thresholds is not None:
            table = dict(leaf.thresholds)
            reached = [c for c in table if value >= table[c]]
            level = max(reached, key=lambda c: table[c]) if reached else None
        else:
            level_set = ctx.catalog.level_set(leaf.level_set or "")
            table = level_set.thresholds(device)
            level = level_set.level_of(value, table)
        if leaf.open_at not in table or leaf.close_below not in table:
            ctx.notes.append(f"{device.id}: no threshold for {leaf.open_at}/{leaf.close_below}")
            return False
        if value >= table[leaf.open_at]:
            status = Status.ON
        elif value >= table[leaf.close_below]:
            status = Status.HOLD
    elif isinstance(leaf, Sustained):
        above = value > leaf.value if leaf.op == "gt" else value >= leaf.value
        max_gap = (leaf.max_gap_min * 60.0) if leaf.max_gap_min else device.interval_s * 3.0
        since = s.get("since")
        if since is not None and s.get("t") is not None and t - s["t"] > max_gap:
            since = None
        if above:
            since = t if since is None else since
            status = Status.ON if t - since >= leaf.duration_min * 60.0 else Status.HOLD
        else:
            since = None
        s["since"] = since
    elif isinstance(leaf, RateOfRise | Accumulation):
        window = leaf.within_min * 60.0
        kept = [(ts, v) for ts, v in s.get("window", []) if t - ts <= window]
        if isinstance(leaf, RateOfRise):
            lowest = min((v for _, v in kept), default=value)
            status = Status.ON if value - lowest >= leaf.rise - 1e-9 else Status.OFF
        else:
            total = sum(v for _, v in kept) + value
            status = Status.ON if total >= leaf.total - 1e-9 else Status.OFF
        kept.append((t, value))
        s["window"] = kept
    s.update(t=t, status=int(status), level=level, reading=_pack(reading))
    return True


def _leaf_area_status(
    ctx: _Ctx, path: str, leaf: Leaf, area: str, t: float
) -> tuple[Status, str | None, list[list[Any]]]:
    best = Status.OFF
    level: str | None = None
    evidence: list[list[Any]] = []
    for device_id in ctx.area_devices.get(area, {}).get(path, []):
        s = ctx.leaf_state(path, device_id)
        if isinstance(leaf, Stale):
            last = s.get("last")
            if last is None:
                last = ctx.state["first_eval"]
            silence = leaf.silence(ctx.devices[device_id]).total_seconds()
            status = Status.ON if t - last > silence else Status.OFF
            dev_level = leaf.level
            s["status"] = int(status)
        else:
            status = Status(s.get("status", 0))
            dev_level = s.get("level")
        if status > Status.OFF:
            if s.get("reading"):
                evidence.append(s["reading"])
            if level is None or ctx.rank(dev_level) > ctx.rank(level):
                level = dev_level
        best = max(best, status)
    return best, level, evidence


def _cond_status(
    ctx: _Ctx, cond: Condition, path: str, area: str, t: float
) -> tuple[Status, str | None, list[list[Any]]]:
    if not isinstance(cond, Combination):
        return _leaf_area_status(ctx, path, cond, area, t)
    parts = [_cond_status(ctx, c, f"{path}.{i}", area, t) for i, c in enumerate(cond.conditions)]
    statuses = [p[0] for p in parts]
    status = min(statuses) if cond.kind == "all_of" else max(statuses)
    evidence = [r for p in parts if p[0] > Status.OFF for r in p[2]]
    levels = [p[1] for p in parts if p[0] > Status.OFF and p[1] is not None]
    level = max(levels, key=ctx.rank) if levels else None
    return status, level, evidence


def _evidence(items: list[list[Any]]) -> tuple[Reading, ...]:
    return tuple(sorted({_unpack(i) for i in items}))


def _step_area(ctx: _Ctx, area: str, when: datetime, reading: Reading | None) -> None:
    rule = ctx.rule
    t = _ts(when)
    a = ctx.state["areas"].setdefault(area, _new_area())
    status, level, evidence = _cond_status(ctx, rule.when, "0", area, t)
    level = rule.level or level
    key = rule.dedupe_key(area)
    if a["last_t"] is None or a["last_t"] < t:
        a["last_t"] = t
    if status == Status.OFF:
        a["armed"] = True
    if not a["open"]:
        if status == Status.ON and a["armed"]:
            a.update(open=True, level=level, opened_at=t, off_since=None, down_since=None)
            ctx.pending.pop(area, None)
            ctx.actions.append(
                OpenCase(
                    rule_id=rule.id,
                    area=area,
                    service=rule.service,
                    priority=rule.priority_at(level),
                    level=level,
                    at=when,
                    readings=_evidence(evidence),
                    dedupe_key=key,
                    title=_title(rule, level, ctx.catalog),
                )
            )
        return
    if reading is not None:
        ctx.pending.setdefault(area, []).append(reading)
    dwell = rule.close_after_min * 60.0
    if status == Status.OFF:
        if a["off_since"] is None:
            a["off_since"] = t
        if t - a["off_since"] >= dwell:
            _flush(ctx, area)
            ctx.actions.append(CloseWarning(rule.id, area, when, a["level"], key))
            a.update(open=False, level=None, opened_at=None, off_since=None, down_since=None)
        return
    a["off_since"] = None
    if level is None or level == a["level"]:
        a["down_since"] = None
        return
    going_up = ctx.rank(level) > ctx.rank(a["level"])
    if not going_up:
        # Escalate at once, de-escalate only after the lower level held for close_after (no flapping).
        if a["down_since"] is None:
            a["down_since"] = t
        if t - a["down_since"] < dwell:
            return
    _flush(ctx, area)
    old = a["level"]
    a.update(level=level, down_since=None)
    ctx.actions.append(
        LevelChanged(rule.id, area, when, old, level, rule.priority_at(level), key, _evidence(evidence))
    )


def _flush(ctx: _Ctx, area: str) -> None:
    readings = ctx.pending.pop(area, [])
    if not readings:
        return
    a = ctx.state["areas"][area]
    ctx.actions.append(
        UpdateCase(
            rule_id=ctx.rule.id,
            area=area,
            at=max(r.observed_at for r in readings),
            readings=tuple(sorted(set(readings))),
            dedupe_key=ctx.rule.dedupe_key(area),
            level=a.get("level"),
            priority=ctx.rule.priority_at(a.get("level")),
        )
    )


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
    """Evaluate every rule; returns the new state of each rule id and all actions in time order."""
    new_states: dict[str, dict[str, Any]] = {}
    actions: list[Action] = []
    for rule in rules:
        result = evaluate(
            rule,
            states.get(rule.id),
            readings,
            now=now,
            devices=devices,
            catalog=catalog,
            last_seen=last_seen,
        )
        new_states[rule.id] = result.state
        actions.extend(result.actions)
    actions.sort(key=lambda a: a.at)
    return new_states, actions
