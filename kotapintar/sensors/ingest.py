"""Sensor ingest: readings from MQTT, HTTP and NGSI-LD stored with quality flags and rollups, then the rules run."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.core.zones import local_zone
from kotapintar.sensors.alarms import act, disarm_closed_cases, open_pending_cases
from kotapintar.sensors.devices import INGEST_LOCK, IngestOutcome, SensorContext, sensor_context
from kotapintar.sensors.engine.ingest import IngestResult, accept_http, accept_mqtt_batch
from kotapintar.sensors.engine.payloads import Reading
from kotapintar.sensors.engine.quality import (
    EXCLUDING_MASK,
    FLAG_BITS,
    QualityFlag,
    flag_masks,
    flags_of,
    micros,
)
from kotapintar.sensors.engine.rollup import Resolution, RetentionPolicy, bucket_rows
from kotapintar.sensors.engine.rules import (
    evaluate_all,
)
from kotapintar.sensors.repository import SensorRepository

# Rollups written by ingest. 1-minute buckets are computed from the raw readings when asked for (at 10-minute
# reporting one reading is one bucket: storing them doubled the rows written per reading) and materialised
# by retention before the raw readings go.
STORED_AT_INGEST = (Resolution.HOUR, Resolution.DAY)


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
    with INGEST_LOCK, db.transaction() as uow:
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
        states = disarm_closed_cases(uow, repo, ctx, states, now, settings)
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
        act(uow, repo, ctx, actions, now, settings, out, new_states)
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
                clean, resolution, day_tz=ctx.zone
            )
        ]
    )
    return stored


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
                            going, Resolution.MINUTE, day_tz=local_zone(settings.timezone)
                        )
                    ]
                )
                deleted["raw"] += repo.delete_before(device_id, attribute, raw_cut)
        minute_cut = cut.get(Resolution.MINUTE.value)
        if minute_cut is not None:
            deleted["1m"] = repo.delete_rollups_before(Resolution.MINUTE.value, minute_cut)
    return deleted
