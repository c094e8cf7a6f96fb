"""Sensor alarms: rules that fire open, raise, hand over and end alarms, and open the cases they call for."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.core.access.actors import Actor, system_actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import DomainError
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.sensors.devices import (
    INGEST_LOCK,
    MAX_EVENT_READINGS,
    IngestOutcome,
    SensorContext,
    sensor_context,
)
from kotapintar.sensors.engine.levels import rank_of
from kotapintar.sensors.engine.payloads import Reading, iso_z
from kotapintar.sensors.engine.rules import (
    Action,
    CloseWarning,
    LevelChanged,
    OpenCase,
    UpdateCase,
    case_closed,
    open_areas,
)
from kotapintar.sensors.models import SensorAlarm
from kotapintar.sensors.queries import aware, parse_time
from kotapintar.sensors.repository import SensorRepository
from kotapintar.sensors.warnings import publish_warning

log = logging.getLogger(__name__)


RULE_ACTOR = "sensor-rules"


def disarm_closed_cases(
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


def act(
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
                publish_warning(repo, ctx, alarm, "Update", change.at, settings, issued=now)
            out.cases_updated.append(case_id)
    for alarm in raised:
        # One Alert per new warning at the level it reached within the batch (as of its first firing).
        if alarm.public:
            publish_warning(repo, ctx, alarm, "Alert", alarm.opened_at, settings, issued=now)
            if alarm.closed_at is not None:
                publish_warning(repo, ctx, alarm, "Cancel", alarm.closed_at, settings, issued=now)


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
            publish_warning(repo, ctx, alarm, "Update", action.at, settings, issued=issued)
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
        publish_warning(repo, ctx, alarm, "Cancel", at or now, settings, issued=now)
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
    when = at.astimezone(ctx.zone).strftime(f"%d-%m-%Y %H:%M {ctx.zone_label}")
    lines = [
        f"{pending.get('title') or (rule.name if rule else pending.get('rule_id'))} di {area_name}, "
        f"terdeteksi otomatis oleh aturan sensor '{rule.name if rule else pending.get('rule_id')}' pada {when}."
    ]
    for r in list(readings)[-10:]:
        device = ctx.devices.get(r.device_id)
        lines.append(
            f"- {device.name if device else r.device_id} ({r.device_id}): {r.attribute} = {r.value:g} {r.unit} "
            f"pukul {r.observed_at.astimezone(ctx.zone).strftime('%H:%M')} {ctx.zone_label}"
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
        with INGEST_LOCK, db.transaction() as uow:
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
                    "opened_at": iso_z(aware(alarm.opened_at)),
                    "case_id": alarm.case_id,
                    "case_status": case_status,
                    "public": alarm.public,
                    "cap_identifier": warning.identifier if warning is not None else None,
                    "headline": warning.headline if warning is not None else None,
                }
            )
    out.sort(key=lambda a: (-rank_of(a["level"], ctx.catalog), a["opened_at"], a["id"]))
    return out
