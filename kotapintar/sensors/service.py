"""Sensor services: the device registry in the database, the ingest pipeline, rules that open cases, CAP warnings.

Ingest of one batch (MQTT messages or one HTTP request) is one transaction: authenticate and parse (pure
core), drop exact duplicates and readings already stored, flag quality against stored history, store the
readings in one executemany, merge rollups, evaluate the rules on the clean readings and act on existing
alarms (attach readings, level changes, end warnings). A rule that opens a case goes through
`submit_report` (triage and the SOP hook), which is its own transaction, so it runs right after the batch
commits, with an idempotency key so a retry never opens a second case.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.catalog.repository import AgencyRepository
from kotapintar.core.access.actors import Actor, system_actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import DomainError, NotFound, ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.sensors.engine.cap import WIB, CapArea, build_alert, build_feed, warning_from_rule
from kotapintar.sensors.engine.ingest import IngestResult, accept_http, accept_mqtt_batch
from kotapintar.sensors.engine.levels import LevelCatalog, load_catalog, rank_of
from kotapintar.sensors.engine.payloads import Reading, iso_z
from kotapintar.sensors.engine.quality import (
    EXCLUDING_MASK,
    FLAG_BITS,
    FlaggedReading,
    QualityFlag,
    SeriesLimits,
    combine,
    device_health,
    flag_masks,
    flags_of,
    micros,
    summary,
)
from kotapintar.sensors.engine.registry import (
    Device,
    DeviceRegistry,
    derive_api_key,
    hash_api_key,
    load_devices,
)
from kotapintar.sensors.engine.rollup import Resolution, RetentionPolicy, bucket_rows
from kotapintar.sensors.engine.rules import (
    Action,
    CloseWarning,
    LevelChanged,
    OpenCase,
    Rule,
    UpdateCase,
    case_closed,
    evaluate_all,
    load_rules,
    open_areas,
)
from kotapintar.sensors.models import SensorAlarm, SensorWarning
from kotapintar.sensors.repository import SensorRepository, StoredReading

log = logging.getLogger(__name__)

RULE_ACTOR = "sensor-rules"
# Rollups written by ingest. 1-minute buckets are computed from the raw readings when asked for (at 10-minute
# reporting one reading is one bucket: storing them doubled the rows written per reading) and materialised
# by retention before the raw readings go.
STORED_AT_INGEST = (Resolution.HOUR, Resolution.DAY)
MAX_EVENT_READINGS = 200
_INGEST_LOCK = threading.RLock()
# How often a cached registry checks whether another process changed the device table.
REGISTRY_CHECK_S = 2.0


def flag_names(mask: int) -> list[str]:
    """The flag words of a stored bitmask, in a stable order."""
    return [f.value for f in QualityFlag if mask & FLAG_BITS[f]]


# ---------------------------------------------------------------------------------------------- context


@dataclass
class SensorContext:
    """What ingest needs in memory: the registry built from the device table, the rules and level sets."""

    registry: DeviceRegistry
    devices: dict[str, Device]
    rules: list[Rule]
    catalog: LevelCatalog
    version: tuple[int, datetime | None] = (0, None)  # of the device table when this context was built
    checked_at: float = 0.0  # time.monotonic() of the last version check
    _limits: dict[tuple[str, str], SeriesLimits] = field(default_factory=dict)

    def limits(self, device_id: str, attribute: str) -> SeriesLimits:
        """The quality limits of one series (built once: devices change only through register_devices)."""
        key = (device_id, attribute)
        found = self._limits.get(key)
        if found is None:
            found = self._limits[key] = SeriesLimits.of(self.devices[device_id].quality_config(attribute))
        return found

    def rule(self, rule_id: str) -> Rule | None:
        """A rule by id."""
        return next((r for r in self.rules if r.id == rule_id), None)


_CONTEXTS: weakref.WeakKeyDictionary[Database, SensorContext] = weakref.WeakKeyDictionary()


def key_secret(settings: Settings) -> str:
    """The secret the demo devices' API keys derive from."""
    return settings.sensor_key_secret or settings.secret_key


def device_api_key(settings: Settings, device_id: str) -> str:
    """The placeholder API key of a demo device (for the demo publisher, tests and benchmarks)."""
    return derive_api_key(key_secret(settings), device_id)


def sensor_context(db: Database, settings: Settings | None = None, *, refresh: bool = False) -> SensorContext:
    """The cached sensor context of a database, rebuilt after the device table changes.

    A change made in this process (`register_devices`, `issue_device_key`) drops the cache at once; one made
    by another process — the CLI, the web server while the MQTT ingest worker runs — is seen by comparing
    the device table's version at most every REGISTRY_CHECK_S, so a new device or a revoked key takes
    effect within that time without a query per message.
    """
    settings = settings or get_settings()
    with _INGEST_LOCK:
        ctx = _CONTEXTS.get(db)
        now = time.monotonic()
        if ctx is not None and not refresh and now - ctx.checked_at >= REGISTRY_CHECK_S:
            with db.reading() as uow:
                version = SensorRepository(uow.session).devices_version()
            if version == ctx.version:
                ctx.checked_at = now
            else:
                ctx = None
        if ctx is None or refresh:
            with db.reading() as uow:
                repo = SensorRepository(uow.session)
                version = repo.devices_version()
                devices = [Device.model_validate(row.spec) for row in repo.devices()]
            catalog = load_catalog()
            ctx = SensorContext(
                registry=DeviceRegistry(devices, key_secret=key_secret(settings)),
                devices={d.id: d for d in devices},
                rules=load_rules(catalog=catalog),
                catalog=catalog,
                version=version,
                checked_at=now,
            )
            _CONTEXTS[db] = ctx
        return ctx


def register_devices(db: Database, actor: Actor, devices: Sequence[Device]) -> tuple[int, int]:
    """Create or update devices in the registry, all or none; returns (created, updated).

    A device's region must be one of the city's regions and its owner one of its agencies (a reading's case
    goes there). A device registered again without `api_key_hash` keeps the key issued to it: re-importing
    the device file must not lock every field device out.
    """
    actor.require(Permission.MANAGE_CATALOGUE)
    now = utcnow()
    created = updated = 0
    with db.transaction() as uow:
        repo = SensorRepository(uow.session)
        for device in devices:
            if repo.region(device.region) is None:
                raise ValidationFailed(
                    f"Perangkat {device.id}: wilayah {device.region} tidak dikenal / unknown region code.",
                    code="bad_device",
                    field="region",
                )
            if uow.repo(AgencyRepository).get(device.owner_agency) is None:
                raise ValidationFailed(
                    f"Perangkat {device.id}: instansi {device.owner_agency} tidak dikenal / unknown agency.",
                    code="bad_device",
                    field="owner_agency",
                )
            stored = repo.device(device.id)
            if device.api_key_hash is None and stored is not None and stored.api_key_hash is not None:
                device = device.model_copy(update={"api_key_hash": stored.api_key_hash})
            values = {
                "id": device.id,
                "name": device.name,
                "kind": device.kind.value,
                "lon": device.lon,
                "lat": device.lat,
                "region_code": device.region,
                "owner_agency": device.owner_agency,
                "interval_s": device.interval_s,
                "thresholds": dict(device.thresholds),
                "spec": device.model_dump(mode="json"),
                "api_key_hash": device.api_key_hash,
                "active": True,
                "created_at": now,
                "updated_at": now,
            }
            if repo.upsert_device(values):
                created += 1
            else:
                updated += 1
    _CONTEXTS.pop(db, None)
    return created, updated


def issue_device_key(db: Database, actor: Actor, device_id: str) -> str:
    """A new random API key for a device, returned once; only its hash is stored and the old key (or the
    placeholder derived from the secret) stops working."""
    actor.require(Permission.MANAGE_CATALOGUE)
    key = secrets.token_urlsafe(24)
    digest = hash_api_key(key)
    with db.transaction() as uow:
        row = SensorRepository(uow.session).device(device_id)
        if row is None:
            raise NotFound(f"Perangkat '{device_id}' tidak terdaftar / unknown device.", device_id=device_id)
        row.api_key_hash = digest
        row.spec = {**row.spec, "api_key_hash": digest}
        row.updated_at = utcnow()
    _CONTEXTS.pop(db, None)
    return key


def load_demo_devices(db: Database, actor: Actor) -> int:
    """Register the shipped Kapuas demo devices (idempotent); returns how many devices there are."""
    devices = load_devices()
    register_devices(db, actor, devices)
    return len(devices)


# ---------------------------------------------------------------------------------------------- ingest


@dataclass
class IngestOutcome:
    """What one ingest batch did (also the HTTP answer)."""

    accepted: int = 0
    stored: int = 0
    duplicates: int = 0
    flagged: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    cases_opened: list[int] = field(default_factory=list)
    cases_pending: int = 0
    cases_updated: list[int] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    held_future: int = 0
    items: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form (`items`: the per-item outcome of an HTTP batch; `ignored`: attributes left out)."""
        return {
            "accepted": self.accepted,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "flagged": dict(self.flagged),
            "rejected": dict(self.rejected),
            "ignored": dict(self.ignored),
            "held_future": self.held_future,
            "errors": self.errors[:20],
            "items": self.items,
            "cases_opened": self.cases_opened,
            "cases_updated": sorted(set(self.cases_updated)),
        }


def ingest_mqtt_messages(
    db: Database,
    messages: Sequence[tuple[str, str | bytes]],
    *,
    received_at: datetime | None = None,
    settings: Settings | None = None,
    open_cases: bool = True,
) -> IngestOutcome:
    """Ingest a batch of MQTT messages (topic, payload) from devices authenticated by the key in the topic.

    With `open_cases=False` the cases of rules that fired wait (as pending alarms) for the caller to run
    `open_pending_cases`, e.g. when the ingest worker is idle.
    """
    settings = settings or get_settings()
    now = received_at or utcnow()
    ctx = sensor_context(db, settings)
    merged = accept_mqtt_batch(messages, registry=ctx.registry, received_at=now)
    return _ingest(db, ctx, merged, now, settings, open_cases=open_cases)


def ingest_http(
    db: Database,
    body: Any,
    *,
    api_key: str | None,
    received_at: datetime | None = None,
    settings: Settings | None = None,
) -> IngestOutcome:
    """Ingest an HTTP body (one reading object, a batch, or NGSI-LD entities) sent with a device key."""
    settings = settings or get_settings()
    now = received_at or utcnow()
    ctx = sensor_context(db, settings)
    result = accept_http(body, registry=ctx.registry, received_at=now, api_key=api_key)
    return _ingest(db, ctx, result, now, settings)


def ingest_readings(
    db: Database,
    readings: Sequence[Reading],
    *,
    received_at: datetime | None = None,
    settings: Settings | None = None,
    open_cases: bool = True,
) -> IngestOutcome:
    """Ingest readings that were already authenticated in this process (the demo feed, the staleness tick).

    With `open_cases=False` the cases of rules that fired wait for `open_pending_cases`, as in the MQTT worker.
    """
    settings = settings or get_settings()
    now = received_at or utcnow()
    ctx = sensor_context(db, settings)
    known = [r for r in readings if r.device_id in ctx.devices]
    result = IngestResult(readings=known)
    for r in readings:
        if r.device_id not in ctx.devices:
            result.reject(
                "unknown_device", f"Perangkat '{r.device_id}' tidak terdaftar.", device_id=r.device_id
            )
    return _ingest(db, ctx, result, now, settings, open_cases=open_cases)


def tick_sensors(
    db: Database, *, now: datetime | None = None, settings: Settings | None = None
) -> IngestOutcome:
    """Evaluate the clock-driven rules (a silent critical gauge goes stale) without new readings."""
    return ingest_readings(db, [], received_at=now or utcnow(), settings=settings)


def _slot(r: Reading) -> tuple[datetime, str, str]:
    return (r.observed_at, r.device_id, r.attribute)


def _first_per_slot(readings: Iterable[Reading]) -> tuple[list[Reading], int]:
    """One reading per (device, attribute, time) in time order: exact duplicates dropped, for a conflict the
    first wins."""
    first: dict[tuple[datetime, str, str], Reading] = {}
    total = 0
    for r in readings:
        total += 1
        first.setdefault((r.observed_at, r.device_id, r.attribute), r)
    # Sorting on a key tuple: the dataclass ordering compares in Python and dominated large batches.
    out = sorted(first.values(), key=_slot)
    return out, total - len(out)


def _ingest(
    db: Database,
    ctx: SensorContext,
    result: IngestResult,
    now: datetime,
    settings: Settings,
    *,
    open_cases: bool = True,
) -> IngestOutcome:
    out = IngestOutcome(
        rejected=Counter(result.rejected),
        errors=list(result.errors),
        ignored=Counter(result.ignored),
        held_future=result.held,
        items=list(result.items),
    )
    readings, dropped = _first_per_slot(result.readings)
    out.duplicates += dropped
    with _INGEST_LOCK, db.transaction() as uow:
        repo = SensorRepository(uow.session)
        if result.by_device:
            repo.count_rejections(result.by_device, now, result.errors[0] if result.errors else None)
            repo.note_rejection_messages(result.messages)
        stored = _store(repo, ctx, readings, now, out)
        clean = [r for r, mask in stored if not mask & EXCLUDING_MASK]
        last_seen: dict[str, datetime] = {}
        for r, _mask in _not_from_the_future(stored):
            seen = last_seen.get(r.device_id)
            if seen is None or r.observed_at > seen:
                last_seen[r.device_id] = r.observed_at
        repo.touch_last_seen(last_seen)
        repo.lock_rule_states()
        states = repo.rule_states()
        states = _disarm_closed_cases(uow, repo, ctx, states, now, settings)
        new_states, actions = evaluate_all(
            ctx.rules,
            states,
            clean,
            now=now,
            devices=ctx.devices,
            catalog=ctx.catalog,
            last_seen=last_seen,
        )
        repo.save_rule_states(new_states, now)
        _act(uow, repo, ctx, actions, now, settings, out, new_states)
    if open_cases:  # this batch's alarms and any left waiting by a worker that stopped
        out.cases_opened.extend(open_pending_cases(db, settings=settings, errors=out.errors))
    return out


def _not_from_the_future(stored: list[tuple[Reading, int]]) -> list[tuple[Reading, int]]:
    """Stored readings except those flagged `clock_skew`: a device whose clock runs hours ahead must not move
    its "last seen" into the future and look healthy while it sends nothing usable (the readings are held:
    stored with their flag, out of last seen, health, the latest value and the rules)."""
    skew = FLAG_BITS[QualityFlag.CLOCK_SKEW]
    return [(r, mask) for r, mask in stored if not mask & skew]


def _store(
    repo: SensorRepository, ctx: SensorContext, readings: list[Reading], now: datetime, out: IngestOutcome
) -> list[tuple[Reading, int]]:
    """Flag new readings against stored history, store them and merge rollups.

    `readings` are in time order with one reading per slot. Returns the stored readings with their flag
    masks; readings whose slot is already stored count as duplicates and are left out.
    """
    if not readings:
        return []
    by_series: dict[tuple[str, str], list[Reading]] = {}
    for r in readings:
        by_series.setdefault((r.device_id, r.attribute), []).append(r)
    limits = {key: ctx.limits(*key) for key in by_series}
    window = timedelta(microseconds=max(lim.window_us for lim in limits.values()))
    history: dict[tuple[str, str], tuple[list[int], list[float], list[int]]] = {}
    for device_id, attribute, observed_us, value, flags in repo.history_micros(
        {d for d, _ in by_series},
        readings[0].observed_at - window,
        readings[-1].observed_at,
        attributes={a for _, a in by_series},
    ):
        known = history.setdefault((device_id, attribute), ([], [], []))
        known[0].append(observed_us)
        known[1].append(value)
        known[2].append(flags)
    received_us = micros(now)
    stored: list[tuple[Reading, int]] = []
    stored_us: list[int] = []
    for key, items in by_series.items():
        known = history.get(key) or ([], [], [])
        taken = set(known[0])
        times = [micros(r.observed_at) for r in items]
        fresh = [(t, r) for t, r in zip(times, items, strict=True) if t not in taken]
        out.duplicates += len(items) - len(fresh)
        if not fresh:
            continue
        masks = flag_masks(
            [t for t, _ in fresh],
            [r.value for _, r in fresh],
            limits[key],
            received_us=received_us,
            history=known,
        )
        stored.extend(zip((r for _, r in fresh), masks, strict=True))
        stored_us.extend(t for t, _ in fresh)
    out.accepted += len(readings)
    repo.insert_observations(
        [(r.device_id, r.attribute, r.observed_at, now, r.value, mask) for r, mask in stored]
    )
    out.stored += len(stored)
    for _r, mask in stored:
        if mask:
            for flag in flags_of(mask):
                out.flagged[flag.value] += 1
    clean = [
        (r.device_id, r.attribute, t, r.value)
        for (r, mask), t in zip(stored, stored_us, strict=True)
        if not mask & EXCLUDING_MASK
    ]
    repo.merge_rollups(
        [
            (device_id, attribute, resolution.value, start, count, low, high, total, mean)
            for resolution in STORED_AT_INGEST
            for device_id, attribute, start, count, low, high, mean, total in bucket_rows(
                clean, resolution, day_tz=WIB
            )
        ]
    )
    return stored


def _disarm_closed_cases(
    uow: UnitOfWork,
    repo: SensorRepository,
    ctx: SensorContext,
    states: dict[str, dict[str, Any]],
    now: datetime,
    settings: Settings,
) -> dict[str, dict[str, Any]]:
    """An operator closed (or rejected) the case of an open alarm: end the alarm, disarm its rules there."""
    for alarm, status in repo.open_alarms_with_case_status():
        if alarm.case_id is None or (status is not None and CaseStatus(status).is_open):
            continue
        _end_alarm(uow, repo, ctx, alarm, now, settings, reason="case_closed")
        for rule in ctx.rules:
            if rule.dedupe_key(alarm.area_code) == alarm.dedupe_key and rule.id in states:
                states[rule.id] = case_closed(states[rule.id], alarm.area_code)
    return states


def _readings_payload(readings: Sequence[Reading]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in list(readings)[-MAX_EVENT_READINGS:]]


def _act(
    uow: UnitOfWork,
    repo: SensorRepository,
    ctx: SensorContext,
    actions: Sequence[Action],
    now: datetime,
    settings: Settings,
    out: IngestOutcome,
    states: Mapping[str, Mapping[str, Any]],
) -> None:
    """Apply rule actions in the ingest transaction.

    A rule that fires records its alarm and publishes its public warning at once; the case itself is
    opened right after by `open_pending_cases` (triage and the SOP are far slower than ingest, and a
    warning must not wait for them). Until then the alarm's `pending_case` collects the level and readings.
    """
    actor = f"system:{RULE_ACTOR}"
    raised: list[SensorAlarm] = []
    for action in actions:
        out.actions.append(action.to_dict() | {"readings": len(action.readings)})
        alarm = repo.open_alarm(action.dedupe_key)
        if alarm is None:
            if isinstance(action, OpenCase):
                raised.append(_raise_alarm(repo, ctx, action))
                out.cases_pending += 1
            continue
        if isinstance(action, CloseWarning):
            _close_or_hand_over(uow, repo, ctx, alarm, action, now, settings, states)
            if alarm.case_id is not None:
                out.cases_updated.append(alarm.case_id)
            continue
        change = None if isinstance(action, UpdateCase) else _group_level_change(ctx, alarm, action, states)
        if alarm.case_id is None:
            _update_pending(
                repo, ctx, alarm, change or action, settings, publish=alarm not in raised, issued=now
            )
            if change is not None and isinstance(action, OpenCase) and change.rule_id == action.rule_id:
                alarm.pending_case = {**(alarm.pending_case or {}), "title": action.title}
            continue
        case_id = alarm.case_id
        if isinstance(action, OpenCase | UpdateCase):
            # Another rule of the group, or new readings: attach them to the one open case.
            uow.events.append(
                stream=case_stream(case_id),
                case_id=case_id,
                type=EventType.OBSERVATIONS_ATTACHED,
                actor=actor,
                at=now,
                payload={
                    "rule_id": action.rule_id,
                    "dedupe_key": action.dedupe_key,
                    "level": action.level,
                    "readings": _readings_payload(action.readings),
                },
            )
            out.cases_updated.append(case_id)
        if change is not None:
            old = alarm.level
            alarm.level, alarm.rule_id = change.level, change.rule_id
            uow.events.append(
                stream=case_stream(case_id),
                case_id=case_id,
                type=EventType.SENSOR_LEVEL_CHANGED,
                actor=actor,
                at=now,
                payload={
                    "rule_id": change.rule_id,
                    "dedupe_key": change.dedupe_key,
                    "old_level": old,
                    "level": change.level,
                    "priority": change.priority.value,
                    "readings": _readings_payload(change.readings),
                },
            )
            if alarm.public:
                _publish(repo, ctx, alarm, "Update", change.at, settings, issued=now)
            out.cases_updated.append(case_id)
    for alarm in raised:
        # One Alert per new warning at the level it reached within the batch (as of its first firing).
        if alarm.public:
            _publish(repo, ctx, alarm, "Alert", alarm.opened_at, settings, issued=now)
            if alarm.closed_at is not None:
                _publish(repo, ctx, alarm, "Cancel", alarm.closed_at, settings, issued=now)


def _group_level_change(
    ctx: SensorContext,
    alarm: SensorAlarm,
    action: OpenCase | LevelChanged | CloseWarning,
    states: Mapping[str, Mapping[str, Any]],
) -> LevelChanged | None:
    """The level the group's alarm moves to after this action, or None when it stays.

    Several rules share one alarm per area (a fast rise at waspada, the river at siaga, rain and a rising
    river at siaga): the alarm stands at the highest level any of them holds there. A rule of the group that
    fires above the alarm's level raises it (and takes over the warning's wording); a rule that changes its
    own level moves the alarm, but never below another rule of the group still open at a higher level.
    """
    if isinstance(action, CloseWarning) or action.level is None:
        return None
    catalog = ctx.catalog
    best_level: str | None = action.level
    best_rule = action.rule_id
    for other in ctx.rules:
        if other.id == action.rule_id or other.dedupe_key(action.area) != action.dedupe_key:
            continue
        held = open_areas(states.get(other.id) or {}).get(action.area)
        if held is not None and rank_of(held[0], catalog) > rank_of(best_level, catalog):
            best_level, best_rule = held[0], other.id
    if best_level == alarm.level:
        return None
    if isinstance(action, OpenCase) and rank_of(best_level, catalog) < rank_of(alarm.level, catalog):
        return None  # a rule of the group opening lower than the alarm stands adds its readings only
    holder = ctx.rule(best_rule)
    return LevelChanged(
        rule_id=best_rule,
        area=action.area,
        at=action.at,
        old_level=alarm.level,
        level=best_level,
        priority=holder.priority_at(best_level) if holder is not None else action.priority,
        dedupe_key=action.dedupe_key,
        readings=action.readings,
    )


def _raise_alarm(repo: SensorRepository, ctx: SensorContext, action: OpenCase) -> SensorAlarm:
    """A new alarm, waiting for its case."""
    rule = ctx.rule(action.rule_id)
    return repo.add_alarm(
        SensorAlarm(
            dedupe_key=action.dedupe_key,
            rule_id=action.rule_id,
            area_code=action.area,
            service_code=action.service,
            level=action.level,
            public=bool(rule and rule.warning and rule.warning.public),
            opened_at=action.at,
            pending_case=_pending_payload(action),
        )
    )


def _pending_payload(action: OpenCase) -> dict[str, Any]:
    return {
        "rule_id": action.rule_id,
        "area": action.area,
        "service": action.service,
        "priority": action.priority.value,
        "level": action.level,
        "at": iso_z(action.at),
        "title": action.title,
        "readings": _readings_payload(action.readings),
    }


def _update_pending(
    repo: SensorRepository,
    ctx: SensorContext,
    alarm: SensorAlarm,
    action: OpenCase | UpdateCase | LevelChanged,
    settings: Settings,
    *,
    publish: bool,
    issued: datetime | None = None,
) -> None:
    """New readings or a level change of an alarm whose case is not open yet: the case opens with them.

    `publish` is False for an alarm raised in the same batch: its Alert is published once, at the end."""
    pending = dict(alarm.pending_case or {})
    readings = list(pending.get("readings", []))
    known = {(r["device_id"], r["attribute"], r["observed_at"]) for r in readings}
    for item in _readings_payload(action.readings):
        if (item["device_id"], item["attribute"], item["observed_at"]) not in known:
            readings.append(item)
    pending["readings"] = readings[-MAX_EVENT_READINGS:]
    if isinstance(action, LevelChanged):
        pending["level"], pending["priority"] = action.level, action.priority.value
        pending["rule_id"] = alarm.rule_id = action.rule_id
        alarm.level = action.level
        if alarm.public and publish:
            _publish(repo, ctx, alarm, "Update", action.at, settings, issued=issued)
    alarm.pending_case = pending


def _close_or_hand_over(
    uow: UnitOfWork,
    repo: SensorRepository,
    ctx: SensorContext,
    alarm: SensorAlarm,
    action: CloseWarning,
    now: datetime,
    settings: Settings,
    states: Mapping[str, Mapping[str, Any]],
) -> None:
    holder = _other_holder(ctx, states, action)
    if holder is not None:
        # Another rule of the group still holds the area: the warning stays, that rule carries it.
        alarm.rule_id = holder
    else:
        _end_alarm(uow, repo, ctx, alarm, now, settings, reason="condition_cleared", at=action.at)


def _other_holder(
    ctx: SensorContext, states: Mapping[str, Mapping[str, Any]], action: CloseWarning
) -> str | None:
    """A rule of the same group whose warning is still open in the area, if any."""
    for rule in ctx.rules:
        if rule.id == action.rule_id or rule.dedupe_key(action.area) != action.dedupe_key:
            continue
        if action.area in open_areas(states.get(rule.id) or {}):
            return rule.id
    return None


def _end_alarm(
    uow: UnitOfWork,
    repo: SensorRepository,
    ctx: SensorContext,
    alarm: SensorAlarm,
    now: datetime,
    settings: Settings,
    *,
    reason: str,
    at: datetime | None = None,
) -> None:
    """Close an alarm: the public warning is cancelled (CAP msgType Cancel) and the case log says so."""
    alarm.closed_at = at or now
    if alarm.public and repo.current_warning(alarm.id) is not None:
        _publish(repo, ctx, alarm, "Cancel", at or now, settings, issued=now)
    if alarm.case_id is not None:
        uow.events.append(
            stream=case_stream(alarm.case_id),
            case_id=alarm.case_id,
            type=EventType.SENSOR_WARNING_ENDED,
            actor=f"system:{RULE_ACTOR}",
            at=now,
            payload={"rule_id": alarm.rule_id, "dedupe_key": alarm.dedupe_key, "reason": reason},
        )
    uow.flush()


def _describe(
    ctx: SensorContext, pending: Mapping[str, Any], readings: Sequence[Reading], area_name: str, at: datetime
) -> str:
    rule = ctx.rule(str(pending.get("rule_id")))
    when = at.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")
    lines = [
        f"{pending.get('title') or (rule.name if rule else pending.get('rule_id'))} di {area_name}, "
        f"terdeteksi otomatis oleh aturan sensor '{rule.name if rule else pending.get('rule_id')}' pada {when}."
    ]
    for r in list(readings)[-10:]:
        device = ctx.devices.get(r.device_id)
        lines.append(
            f"- {device.name if device else r.device_id} ({r.device_id}): {r.attribute} = {r.value:g} {r.unit} "
            f"pukul {r.observed_at.astimezone(WIB).strftime('%H:%M WIB')}"
        )
    lines.append("Grafik data sensor tersedia di halaman kasus / sensor chart on the case page.")
    return "\n".join(lines)


def open_pending_cases(
    db: Database, *, settings: Settings | None = None, errors: list[str] | None = None, limit: int = 100
) -> list[int]:
    """Open the cases of alarms that wait for one, through the normal intake (triage, SOP); returns the ids
    of cases opened now.

    Safe to run from several processes: alarms are claimed with SKIP LOCKED on PostgreSQL, and the intake
    idempotency key (rule group, area, firing time) turns a second attempt into a replay of the same case.
    """
    from kotapintar.cases.schemas import ReportIn
    from kotapintar.intake.submit import submit_report

    settings = settings or get_settings()
    ctx = sensor_context(db, settings)
    opened: list[int] = []
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        if not repo.has_pending_alarms():
            return opened
        waiting = [(a.id, a.dedupe_key, dict(a.pending_case or {})) for a in repo.pending_alarms(limit=limit)]
        names = {code: repo.region(code) for code in {p.get("area", "") for _, _, p in waiting}}
    for alarm_id, dedupe_key, pending in waiting:
        area = str(pending.get("area", ""))
        region = names.get(area)
        readings = [Reading.from_dict(r) for r in pending.get("readings", [])]
        devices = [ctx.devices[r.device_id] for r in readings if r.device_id in ctx.devices]
        devices = devices or [d for d in ctx.devices.values() if d.region == area]
        lon, lat = (devices[0].lon, devices[0].lat) if devices else (None, None)
        at = parse_time(str(pending.get("at")), utcnow())
        try:
            result = submit_report(
                db,
                system_actor(RULE_ACTOR),
                ReportIn(
                    service_code=str(pending["service"]),
                    description=_describe(ctx, pending, readings, region.name if region else area, at),
                    lon=lon,
                    lat=lat,
                    channel="sensor",
                    priority=str(pending["priority"]),
                    client_ref=f"sensor:{dedupe_key}:{int(at.timestamp())}",
                    external_id=dedupe_key,
                ),
                settings=settings,
            )
        except DomainError as exc:
            log.error("sensor rule %s could not open a case in %s: %s", pending.get("rule_id"), area, exc)
            if errors is not None:
                errors.append(f"{pending.get('rule_id')}: {exc.message}")
            continue
        with _INGEST_LOCK, db.transaction() as uow:
            repo = SensorRepository(uow.session)
            alarm = repo.alarm(alarm_id)
            if alarm is None or alarm.case_id is not None:
                continue  # another opener linked it first (its replay gave the same case)
            alarm.case_id = result.case_id
            alarm.pending_case = None
            uow.events.append(
                stream=case_stream(result.case_id),
                case_id=result.case_id,
                type=EventType.OBSERVATIONS_ATTACHED,
                actor=f"system:{RULE_ACTOR}",
                at=utcnow(),
                payload={
                    "rule_id": pending.get("rule_id"),
                    "dedupe_key": dedupe_key,
                    "level": pending.get("level"),
                    "opened": True,
                    "readings": pending.get("readings", []),
                },
            )
            if alarm.closed_at is not None:
                # The condition cleared before the case opened: the case log says the warning ended.
                uow.events.append(
                    stream=case_stream(result.case_id),
                    case_id=result.case_id,
                    type=EventType.SENSOR_WARNING_ENDED,
                    actor=f"system:{RULE_ACTOR}",
                    at=utcnow(),
                    payload={
                        "rule_id": alarm.rule_id,
                        "dedupe_key": dedupe_key,
                        "reason": "condition_cleared",
                    },
                )
        if not result.replayed:
            opened.append(result.case_id)
    return opened


# ---------------------------------------------------------------------------------------------- CAP


def _cap_area(repo: SensorRepository, code: str) -> CapArea:
    """The CAP area of a kecamatan: its name, its boundary (outer ring, at most ~100 points) and its code."""
    region = repo.region(code)
    name = region.name if region is not None else code
    polygons: tuple[tuple[tuple[float, float], ...], ...] = ()
    geometry = region.geometry if region is not None else None
    if geometry:
        rings: list[list[list[float]]] = []
        if geometry.get("type") == "Polygon":
            rings = [geometry["coordinates"][0]]
        elif geometry.get("type") == "MultiPolygon":
            rings = [max((p[0] for p in geometry["coordinates"]), key=len)]
        for ring in rings:
            step = max(1, len(ring) // 100)
            points = [(round(p[0], 5), round(p[1], 5)) for p in ring[::step]]
            if points and points[0] != points[-1]:
                points.append(points[0])
            if len(points) >= 4:
                polygons += (tuple(points),)
    return CapArea(
        area_desc=f"Kecamatan {name}" if region is not None and region.level == "kecamatan" else name,
        polygons=polygons,
        geocodes=(("KEMENDAGRI", code),),
    )


def _publish(
    repo: SensorRepository,
    ctx: SensorContext,
    alarm: SensorAlarm,
    msg_type: str,
    at: datetime,
    settings: Settings,
    *,
    issued: datetime | None = None,
) -> SensorWarning | None:
    """Build, validate and store one CAP message of an alarm (Alert, Update referencing it, Cancel).

    `at` is the time of the observation behind the message, `issued` the time it is published (the
    ingest's clock): CAP's `sent` is the issue time and `expires` counts from it, so a warning raised from a
    logger's late backlog is not published already expired; the observation time is in its texts.
    """
    rule = ctx.rule(alarm.rule_id)
    if rule is None or rule.warning is None:
        return None
    previous = repo.current_warning(alarm.id)
    references: tuple[tuple[str, str, datetime], ...] = ()
    if previous is not None:
        references = tuple((s, i, datetime.fromisoformat(t)) for s, i, t in previous.cap_references)
        references += ((previous.sender, previous.identifier, previous.sent),)
    issue = max(issued or at, at)
    sent = max(issue, previous.sent + timedelta(seconds=1)) if previous is not None else issue
    warning = warning_from_rule(
        rule,
        area=_cap_area(repo, alarm.area_code),
        level=alarm.level,
        sent=sent,
        sender=settings.cap_sender,
        msg_type=msg_type,
        references=references,
        catalog=ctx.catalog,
        english=True,
        observed=at,
    )
    if msg_type != "Alert":
        warning = type(warning)(
            identifier=f"{warning.identifier}.{msg_type.lower()}",
            sender=warning.sender,
            sent=warning.sent,
            info=warning.info,
            status=warning.status,
            msg_type=warning.msg_type,
            scope=warning.scope,
            references=warning.references,
        )
    xml = build_alert(warning).decode("utf-8")
    return repo.add_warning(
        SensorWarning(
            alarm_id=alarm.id,
            identifier=warning.identifier,
            sender=warning.sender,
            sent=warning.sent,
            status=warning.status,
            msg_type=msg_type,
            area_code=alarm.area_code,
            level=alarm.level,
            cap_references=[[s, i, t.isoformat()] for s, i, t in warning.references],
            headline=warning.info[0].headline[:300],
            current=True,
            xml=xml,
        )
    )


def cap_feed(
    db: Database,
    *,
    link: str,
    now: datetime | None = None,
    settings: Settings | None = None,
    alert_link: Callable[[str], str] | None = None,
) -> bytes:
    """The public CAP 1.2 Atom feed: current messages of active warnings and cancellations of the last 24 h.

    Each entry links to its own CAP message (`alert_link(identifier)`, what aggregators fetch); the feed's
    `updated` is its newest message's `sent` (the start of the hour when empty), so the same warnings give
    the same bytes and a conditional GET can answer 304.
    """
    from lxml import etree

    from kotapintar.sensors.engine.cap import ATOM_NS, validate

    settings = settings or get_settings()
    now = now or utcnow()
    with db.reading() as uow:
        rows = SensorRepository(uow.session).feed_warnings(now - timedelta(hours=24))
        items = [(w.identifier, w.sender, w.sent, w.headline, w.xml) for w in rows]
    atom = f"{{{ATOM_NS}}}"
    updated = max(
        (sent for _, _, sent, _, _ in items), default=now.replace(minute=0, second=0, microsecond=0)
    )
    base = etree.fromstring(
        build_feed(
            [],
            feed_id=f"urn:kotapintar:cap:{settings.cap_sender}",
            title=_FEED_TITLE,
            updated=updated,
            link=link,
        )
    )
    for identifier, sender, sent, headline, xml in items:
        alert = etree.fromstring(xml.encode("utf-8"))
        validate(alert)
        entry = etree.SubElement(base, f"{atom}entry")
        etree.SubElement(entry, f"{atom}id").text = f"urn:cap:{sender}:{identifier}"
        etree.SubElement(entry, f"{atom}title").text = headline
        etree.SubElement(entry, f"{atom}updated").text = (
            sent.astimezone(WIB).replace(microsecond=0).isoformat()
        )
        if alert_link is not None:
            etree.SubElement(
                entry, f"{atom}link", rel="alternate", type="application/cap+xml", href=alert_link(identifier)
            )
        content = etree.SubElement(entry, f"{atom}content", type="application/cap+xml")
        content.append(alert)
    data: bytes = etree.tostring(base, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return data


_FEED_TITLE = "Peringatan dini Kabupaten Kapuas / Early warnings (CAP 1.2)"


def active_warnings(db: Database, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """Active public warnings for the portal (newest first): area, level, headline, CAP identifier."""
    now = now or utcnow()
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        out = []
        for w in repo.feed_warnings(now):
            if w.msg_type == "Cancel":
                continue
            region = repo.region(w.area_code)
            out.append(
                {
                    "identifier": w.identifier,
                    "sender": w.sender,
                    "sent": iso_z(w.sent),
                    "msg_type": w.msg_type,
                    "status": w.status,
                    "area_code": w.area_code,
                    "area_name": region.name if region is not None else w.area_code,
                    "level": w.level,
                    "headline": w.headline,
                }
            )
        return out


# ---------------------------------------------------------------------------------------------- queries


def _device_view(device: Device, health: str, last_seen: datetime | None) -> dict[str, Any]:
    return {
        "id": device.id,
        "name": device.name,
        "kind": device.kind.value,
        "lon": device.lon,
        "lat": device.lat,
        "region": device.region,
        "owner_agency": device.owner_agency,
        "river": device.river,
        "tags": list(device.tags),
        "interval_s": device.interval_s,
        "attributes": list(device.attributes),
        "health": health,
        "last_seen": iso_z(last_seen) if last_seen else None,
    }


def _summary_dict(s: Any) -> dict[str, Any]:
    return {
        "expected": s.expected,
        "received": s.received,
        "completeness_pct": s.completeness_pct,
        "flagged_pct": s.flagged_pct,
        "last_seen": iso_z(s.last_seen) if s.last_seen else None,
    }


def quality_report(
    db: Database, *, now: datetime | None = None, hours: int = 24, settings: Settings | None = None
) -> dict[str, Any]:
    """Data quality per device and per kind over the last `hours`: completeness %, flagged %, last seen."""
    if not 1 <= hours <= 24 * 31:
        raise ValidationFailed(
            "Rentang kualitas data 1 jam sampai 31 hari / hours must be 1..744.", field="hours"
        )
    now = now or utcnow()
    ctx = sensor_context(db, settings)
    start = now - timedelta(hours=hours)
    devices_out: list[dict[str, Any]] = []
    per_kind: dict[str, list[Any]] = {}
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        rows = {row.id: row for row in repo.devices()}
        history = repo.history(
            list(ctx.devices), start, now, attributes={d.primary_attribute for d in ctx.devices.values()}
        )
    by_device: dict[str, list[FlaggedReading]] = {}
    for h in history:
        by_device.setdefault(h.device_id, []).append(
            FlaggedReading(Reading(h.observed_at, h.device_id, h.attribute, h.value, ""), flags_of(h.flags))
        )
    for device in ctx.devices.values():
        s = summary(
            by_device.get(device.id, []), device.interval, (start, now), attribute=device.primary_attribute
        )
        row = rows.get(device.id)
        last_seen = row.last_seen if row is not None else None
        health = device_health(last_seen, device.interval, now)
        devices_out.append(_device_view(device, health.value, last_seen) | {"quality": _summary_dict(s)})
        per_kind.setdefault(device.kind.value, []).append(s)
    return {
        "period": {"start": iso_z(start), "end": iso_z(now)},
        "devices": devices_out,
        "kinds": {kind: _summary_dict(combine(items)) for kind, items in sorted(per_kind.items())},
    }


def device_overview(
    db: Database, *, now: datetime | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Every device with its health, 24-hour quality and latest value per attribute (for the map)."""
    report = quality_report(db, now=now, hours=24, settings=settings)
    ctx = sensor_context(db, settings)
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        for item in report["devices"]:
            device = ctx.devices[item["id"]]
            latest = {}
            for attribute in device.attributes:
                last = repo.latest(device.id, attribute, excluding_mask=FLAG_BITS[QualityFlag.CLOCK_SKEW])
                if last is not None:
                    latest[attribute] = _point(last, device, ctx.catalog)
            item["latest"] = latest
    return list(report["devices"])


def _point(r: StoredReading, device: Device, catalog: LevelCatalog) -> dict[str, Any]:
    from kotapintar.sensors.engine.kinds import canonical_unit

    item: dict[str, Any] = {
        "observed_at": iso_z(r.observed_at),
        "value": r.value,
        "unit": canonical_unit(r.attribute),
        "flags": flag_names(r.flags),
    }
    if r.attribute == "waterLevel":
        flood = catalog.level_set("flood")
        item["level"] = flood.level_of(r.value, flood.thresholds(device))
    return item


def latest_of_kind(db: Database, kind: str, *, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The latest value of every device of a kind (map layer)."""
    ctx = sensor_context(db, settings)
    out = []
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        for device in ctx.devices.values():
            if device.kind.value != kind:
                continue
            last = repo.latest(
                device.id, device.primary_attribute, excluding_mask=FLAG_BITS[QualityFlag.CLOCK_SKEW]
            )
            out.append(
                {
                    "id": device.id,
                    "name": device.name,
                    "lon": device.lon,
                    "lat": device.lat,
                    "region": device.region,
                    "attribute": device.primary_attribute,
                    "latest": _point(last, device, ctx.catalog) if last is not None else None,
                }
            )
    return out


def device_series(
    db: Database,
    device_id: str,
    *,
    start: datetime,
    end: datetime,
    resolution: str = "raw",
    attribute: str | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """A device's series in [start, end) at raw, 1m, 1h or 1d resolution (raw includes the quality flags)."""
    ctx = sensor_context(db, settings)
    device = ctx.devices.get(device_id)
    if device is None:
        raise NotFound(f"Perangkat '{device_id}' tidak terdaftar / unknown device.", device_id=device_id)
    attribute = attribute or device.primary_attribute
    if attribute not in device.attributes:
        raise ValidationFailed(
            f"Perangkat '{device_id}' tidak mengukur {attribute} / device does not report it.",
            field="attribute",
        )
    if end <= start or end - start > timedelta(days=400):
        raise ValidationFailed("Rentang waktu tidak sah (maksimum 400 hari) / bad range.", field="start")
    from kotapintar.sensors.engine.kinds import canonical_unit

    body: dict[str, Any] = {
        "device_id": device_id,
        "attribute": attribute,
        "unit": canonical_unit(attribute),
        "resolution": resolution,
        "start": iso_z(start),
        "end": iso_z(end),
    }
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        if resolution == "raw":
            rows = repo.series(device_id, attribute, start, end)
            body["points"] = [
                {"t": iso_z(r.observed_at), "value": r.value, "flags": flag_names(r.flags)} for r in rows
            ]
        elif resolution in ("1h", "1d"):
            buckets = repo.rollups(device_id, attribute, resolution, start, end)
            body["points"] = [
                {"t": iso_z(b.bucket_start), "count": b.count, "min": b.min, "max": b.max, "mean": b.mean}
                for b in buckets
            ]
        elif resolution == "1m":
            body["points"] = _minute_points(repo, device_id, attribute, start, end)
        else:
            raise ValidationFailed(
                "Resolusi: raw, 1m, 1h atau 1d / resolution must be raw|1m|1h|1d.", field="resolution"
            )
    if attribute == "waterLevel":
        body["thresholds"] = ctx.catalog.level_set("flood").thresholds(device)
    return body


def _minute_points(
    repo: SensorRepository, device_id: str, attribute: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """1-minute buckets: materialised ones (raw readings past retention) merged with buckets of the raw
    readings still stored, computed now exactly as ingest computes the others."""
    buckets: dict[datetime, tuple[int, float, float, float]] = {}
    for b in repo.rollups(device_id, attribute, Resolution.MINUTE.value, start, end):
        buckets[b.bucket_start] = (b.count, b.min, b.max, b.total)
    live = repo.clean_micros(device_id, attribute, start, end, excluding_mask=EXCLUDING_MASK)
    for _d, _a, bucket, count, low, high, _mean, total in bucket_rows(live, Resolution.MINUTE, day_tz=WIB):
        if stored := buckets.get(bucket):
            count, low, high, total = (
                count + stored[0],
                min(low, stored[1]),
                max(high, stored[2]),
                total + stored[3],
            )
        buckets[bucket] = (count, low, high, total)
    return [
        {"t": iso_z(at), "count": count, "min": low, "max": high, "mean": total / count}
        for at, (count, low, high, total) in sorted(buckets.items())
    ]


def case_observations(
    db: Database, actor: Actor, case_id: int, *, settings: Settings | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """The readings behind a case opened by a rule: each evidence series from 6 h before it opened on."""
    from kotapintar.cases.service import case_detail

    case_detail(db, actor, case_id)  # raises unless the actor may see this case
    ctx = sensor_context(db, settings)
    now = now or utcnow()
    with db.reading() as uow:
        alarms = [
            (a.rule_id, a.area_code, a.level, a.opened_at, a.closed_at)
            for a in SensorRepository(uow.session).alarms_for_case(case_id)
        ]
    series = []
    seen: set[tuple[str, str]] = set()
    for rule_id, area, _level, opened_at, closed_at in alarms:
        rule = ctx.rule(rule_id)
        if rule is None:
            continue
        start = opened_at - timedelta(hours=6)
        end = min(now, (closed_at or now) + timedelta(hours=1), opened_at + timedelta(days=14)) + timedelta(
            seconds=1
        )
        for _path, leaf in rule.leaves():
            for device in ctx.devices.values():
                if device.region != area or not leaf.matches(device) or (device.id, leaf.attribute) in seen:
                    continue
                seen.add((device.id, leaf.attribute))
                series.append(
                    device_series(
                        db,
                        device.id,
                        start=start,
                        end=max(end, start + timedelta(minutes=1)),
                        attribute=leaf.attribute,
                    )
                    | {"device_name": device.name}
                )
    return {
        "case_id": case_id,
        "alarms": [
            {
                "rule_id": r,
                "area": a,
                "level": lv,
                "opened_at": iso_z(o),
                "closed_at": iso_z(c) if c else None,
            }
            for r, a, lv, o, c in alarms
        ],
        "series": series,
    }


def rejection_counts(db: Database, actor: Actor) -> list[dict[str, Any]]:
    """Rejected messages per claimed device and reason (operators)."""
    actor.require(Permission.VIEW_ALL_CASES)
    with db.reading() as uow:
        return [
            {
                "device_id": r.device_id,
                "reason": r.reason,
                "count": r.count,
                "last_at": iso_z(r.last_at),
                "last_message": r.last_message,
            }
            for r in SensorRepository(uow.session).rejections()
        ]


class IngestSource(Protocol):
    """A running ingest loop that can say how it is doing (the MQTT subscriber)."""

    def status(self) -> dict[str, Any]:
        """Its connection, counters and backlog now."""


def ingest_status(actor: Actor, sources: Iterable[IngestSource]) -> list[dict[str, Any]]:
    """How the running ingest loops are doing (operators): dropped or lost messages mean missing data."""
    actor.require(Permission.VIEW_ALL_CASES)
    return [source.status() for source in sources]


def apply_retention(
    db: Database, actor: Actor, *, now: datetime | None = None, settings: Settings | None = None
) -> dict[str, int]:
    """Delete raw readings older than the retention policy after materialising their 1-minute buckets, and
    1-minute buckets older than theirs; hourly and daily rollups stay."""
    actor.require(Permission.MANAGE_CATALOGUE)
    settings = settings or get_settings()
    now = now or utcnow()
    policy = RetentionPolicy(raw=timedelta(days=settings.sensor_raw_retention_days))
    cut = policy.cutoffs(now)
    deleted = {"raw": 0, "1m": 0}
    with db.transaction() as uow:
        repo = SensorRepository(uow.session)
        raw_cut = cut.get("raw")
        if raw_cut is not None:
            for device_id, attribute in repo.series_keys():
                going = repo.clean_micros(device_id, attribute, None, raw_cut, excluding_mask=EXCLUDING_MASK)
                repo.merge_rollups(
                    [
                        (d, a, Resolution.MINUTE.value, at, count, low, high, total, mean)
                        for d, a, at, count, low, high, mean, total in bucket_rows(
                            going, Resolution.MINUTE, day_tz=WIB
                        )
                    ]
                )
                deleted["raw"] += repo.delete_before(device_id, attribute, raw_cut)
        minute_cut = cut.get(Resolution.MINUTE.value)
        if minute_cut is not None:
            deleted["1m"] = repo.delete_rollups_before(Resolution.MINUTE.value, minute_cut)
    return deleted


def storage_info(db: Database) -> dict[str, Any]:
    """Which time-series storage is in use (plain tables; TimescaleDB is detected but not required)."""
    with db.reading() as uow:
        timescale = SensorRepository(uow.session).timescale_available()
    return {"dialect": db.engine.dialect.name, "timescaledb": timescale, "hypertables": False}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_time(text: str | None, default: datetime) -> datetime:
    """An ISO time from a query string (a missing zone means UTC)."""
    if not text:
        return default
    try:
        return _aware(datetime.fromisoformat(text.replace("Z", "+00:00"))).astimezone(UTC)
    except ValueError as exc:
        raise ValidationFailed(f"Waktu tidak sah: {text} / bad time (ISO 8601).", field="time") from exc


def readings_by_device(readings: Iterable[Reading]) -> Mapping[str, int]:
    """How many readings per device (logs, benchmarks)."""
    return Counter(r.device_id for r in readings)


THRESHOLD_COLOURS = {"waspada": "#f9a825", "siaga": "#ef6c00", "awas": "#c62828"}


def chart_geometry(
    series: Mapping[str, Any],
    *,
    width: int = 320,
    height: int = 80,
    marks: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """SVG sparkline geometry of one raw series from `case_observations` (templates/sensors/chart.html).

    `marks` are (label, ISO time) drawn as vertical lines where they fall inside the series (e.g. when the
    alarm opened), so an operator sees what the readings did before and after the rule fired.
    """
    points = [p for p in series.get("points", []) if "value" in p]
    thresholds = dict(series.get("thresholds") or {})
    values = [float(p["value"]) for p in points if not p.get("flags")] or [0.0]
    shown = [v for v in thresholds.values() if min(values) - 1 <= v <= max(values) + 1]
    low, high = min([*values, *shown]), max([*values, *shown])
    span = (high - low) or 1.0
    times = [datetime.fromisoformat(p["t"].replace("Z", "+00:00")).timestamp() for p in points] or [0.0]
    t0, t_span = times[0], (times[-1] - times[0]) or 1.0

    def xy(t: float, v: float) -> tuple[float, float]:
        y = height - 4 - (min(max(v, low), high) - low) / span * (height - 8)
        return round((t - t0) / t_span * (width - 4) + 2, 1), round(y, 1)

    clean = [xy(t, float(p["value"])) for t, p in zip(times, points, strict=False) if not p.get("flags")]
    flagged = [
        {"x": x, "y": y, "title": ", ".join(p["flags"])}
        for t, p in zip(times, points, strict=False)
        if p.get("flags")
        for x, y in [xy(t, float(p["value"]))]
    ]
    vertical = []
    for label, at in marks:
        moment = datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()
        if len(points) > 1 and t0 <= moment <= times[-1]:
            vertical.append({"x": xy(moment, low)[0], "label": label})
    return {
        "width": width,
        "height": height,
        "start": _wib_label(times[0]) if points else "",
        "end": _wib_label(times[-1]) if points else "",
        "count": len(points),
        "marks": vertical,
        "label": f"{series.get('device_name', series.get('device_id'))} · {series.get('attribute')}",
        "unit": series.get("unit", ""),
        "minimum": f"{min(values):g}",
        "maximum": f"{max(values):g}",
        "points": " ".join(f"{x},{y}" for x, y in clean),
        "flagged": flagged,
        "thresholds": [
            {
                "name": name,
                "value": value,
                "y": xy(t0, value)[1],
                "colour": THRESHOLD_COLOURS.get(name, "#757575"),
            }
            for name, value in thresholds.items()
            if value in shown
        ],
    }


def _wib_label(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, WIB).strftime("%d/%m %H:%M WIB")


def case_sensor_panel(
    db: Database, actor: Actor, case_id: int, channel: str, *, settings: Settings | None = None
) -> dict[str, Any] | None:
    """What the case page shows of a case a rule opened: its alarms and a chart of each evidence series,
    with the moment each alarm opened marked. None for other cases (only rules open `sensor` cases)."""
    if channel != "sensor":
        return None
    found = case_observations(db, actor, case_id, settings=settings)
    if not found["alarms"]:
        return None
    opened = [(f"{a['rule_id']} ({a['level'] or '-'})", a["opened_at"]) for a in found["alarms"]]

    def local(at: str | None) -> str | None:
        return _wib_label(datetime.fromisoformat(at.replace("Z", "+00:00")).timestamp()) if at else None

    return {
        "alarms": [
            a | {"opened_local": local(a["opened_at"]), "closed_local": local(a["closed_at"])}
            for a in found["alarms"]
        ],
        "charts": [
            chart_geometry(series, marks=opened) for series in found["series"] if series.get("points")
        ],
        "empty": [
            series.get("device_name", series.get("device_id"))
            for series in found["series"]
            if not series.get("points")
        ],
        "data_url": f"/api/v1/sensors/cases/{case_id}/observations",
    }


def warm_up(db: Database, settings: Settings | None = None) -> None:
    """Load what the first batch would otherwise load (registry, rules, the triage model used by intake)."""
    sensor_context(db, settings)
    try:
        from kotapintar.triage.classify.model import Classifier

        Classifier.load()
    except (OSError, ValueError) as exc:  # no shipped model: intake falls back on its own, nothing to warm
        log.info("triage model not preloaded: %s", exc)


# ---------------------------------------------------------------------------------------------- operators


def open_alarms(db: Database, actor: Actor, *, settings: Settings | None = None) -> list[dict[str, Any]]:
    """Sensor alarms in force for the command center (operators), most severe first, then oldest first.

    Each says which rule fired where, at what level and since when, the case it opened (`case_id` None while
    `open_pending_cases` has not opened it yet) and, for public rules, the headline of its current CAP
    message — so an operator sees at once which warnings are out and which case carries each of them.
    """
    from kotapintar.sensors.engine.levels import rank_of

    actor.require(Permission.VIEW_ALL_CASES)
    ctx = sensor_context(db, settings)
    out: list[dict[str, Any]] = []
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        for alarm, case_status in repo.open_alarms_with_case_status():
            region = repo.region(alarm.area_code)
            warning = repo.current_warning(alarm.id) if alarm.public else None
            rule = ctx.rule(alarm.rule_id)
            out.append(
                {
                    "id": alarm.id,
                    "rule_id": alarm.rule_id,
                    "rule_name": rule.name if rule is not None else alarm.rule_id,
                    "area_code": alarm.area_code,
                    "area_name": region.name if region is not None else alarm.area_code,
                    "service_code": alarm.service_code,
                    "level": alarm.level,
                    "opened_at": iso_z(_aware(alarm.opened_at)),
                    "case_id": alarm.case_id,
                    "case_status": case_status,
                    "public": alarm.public,
                    "cap_identifier": warning.identifier if warning is not None else None,
                    "headline": warning.headline if warning is not None else None,
                }
            )
    out.sort(key=lambda a: (-rank_of(a["level"], ctx.catalog), a["opened_at"], a["id"]))
    return out
