"""NGSI-LD use-cases: write entities as observations through sensor ingest, read devices as entities.

The writes go through `sensors.ingest_http`, the same pipeline as every other payload (keys, units,
quality flags, rules, cases): NGSI-LD is an interface format here, not a second store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from kotapintar.core.db.database import Database
from kotapintar.core.settings import Settings
from kotapintar.sensors import devices as sensor_devices
from kotapintar.sensors import ingest as sensor_ingest
from kotapintar.sensors.engine.kinds import canonical_unit
from kotapintar.sensors.engine.ngsild import KIND_TYPES, Latest, NgsiProblem, entity_view
from kotapintar.sensors.engine.payloads import PayloadError, ngsi_device_id
from kotapintar.sensors.engine.quality import FLAG_BITS, QualityFlag
from kotapintar.sensors.repository import SensorRepository

AUTH_REASONS = frozenset({"unknown_device", "bad_api_key"})


@dataclass
class EntityWrite:
    """The outcome of writing entities: which ids were stored, which failed and why, what was ignored."""

    stored: list[str] = field(default_factory=list)
    failed: list[tuple[str, NgsiProblem]] = field(default_factory=list)
    ignored: dict[str, list[str]] = field(default_factory=dict)


def _problem_of(item: dict[str, Any]) -> NgsiProblem:
    """The NGSI-LD error of a rejected ingest item."""
    reason = str(item.get("reason", ""))
    message = str(item.get("message", reason))
    if reason == "bad_api_key":
        return NgsiProblem(401, "Unauthorized", message)
    if reason == "unknown_device":
        return NgsiProblem(
            403, "Forbidden", f"{message} Daftarkan perangkatnya dulu / register the device first."
        )
    return NgsiProblem(400, "BadRequestData", f"{message} ({reason})")


def write_entities(
    db: Database, entities: Sequence[Any], *, api_key: str | None, settings: Settings
) -> EntityWrite:
    """Ingest NGSI-LD entities sent with a device (or gateway) key; the outcome per entity id."""
    out = EntityWrite()
    ids = [str(e.get("id", f"#{i}")) if isinstance(e, dict) else f"#{i}" for i, e in enumerate(entities)]
    if api_key is None:
        problem = NgsiProblem(
            401,
            "Unauthorized",
            "Kirim kunci API perangkat di header X-Device-Key / send the device's API key.",
        )
        out.failed = [(i, problem) for i in ids]
        return out
    outcome = sensor_ingest.ingest_http(db, list(entities), api_key=api_key, settings=settings)
    if not outcome.items:  # the body as a whole was refused (too many readings, …)
        problem = NgsiProblem(
            400, "BadRequestData", "; ".join(outcome.errors) or "tidak dapat dibaca / unreadable"
        )
        out.failed = [(i, problem) for i in ids]
        return out
    for item in outcome.items:
        entity = ids[int(item["index"])]
        if item["status"] == "accepted":
            out.stored.append(entity)
            if item.get("ignored"):
                out.ignored[entity] = list(item["ignored"])
        else:
            out.failed.append((entity, _problem_of(item)))
    return out


def _latest(repo: SensorRepository, device_id: str, attributes: Sequence[str]) -> list[Latest]:
    skew = FLAG_BITS[QualityFlag.CLOCK_SKEW]
    out = []
    for attribute in attributes:
        last = repo.latest(device_id, attribute, excluding_mask=skew)
        if last is not None:
            out.append(Latest(attribute, last.value, canonical_unit(attribute), last.observed_at))
    return out


def get_entity(
    db: Database, entity_id: str, *, settings: Settings, concise: bool, attrs: Sequence[str] | None = None
) -> dict[str, Any]:
    """A registered device as an NGSI-LD entity with its latest values; raises NgsiProblem(404)."""
    try:
        device_id = ngsi_device_id({"id": entity_id})
    except PayloadError as exc:
        raise NgsiProblem(400, "BadRequestData", exc.message) from exc
    ctx = sensor_devices.sensor_context(db, settings)
    device = ctx.devices.get(device_id)
    if device is None:
        raise NgsiProblem(404, "ResourceNotFound", f"Entitas '{entity_id}' tidak ada / no such entity.")
    with db.reading() as uow:
        latest = _latest(SensorRepository(uow.session), device.id, device.attributes)
    return entity_view(
        device_id=device.id,
        kind=device.kind,
        lon=device.lon,
        lat=device.lat,
        name=device.name,
        latest=latest,
        concise=concise,
        attrs=attrs,
    )


def query_entities(
    db: Database,
    *,
    settings: Settings,
    types: Sequence[str],
    ids: Sequence[str],
    attrs: Sequence[str] | None,
    concise: bool,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Entities of the registered devices matching a type (or an id list), a page of them and the total."""
    ctx = sensor_devices.sensor_context(db, settings)
    wanted_ids = set()
    for ident in ids:
        try:
            wanted_ids.add(ngsi_device_id({"id": ident}))
        except PayloadError as exc:
            raise NgsiProblem(400, "BadRequestData", exc.message) from exc
    matching = [
        d
        for d in sorted(ctx.devices.values(), key=lambda d: d.id)
        if (not types or KIND_TYPES[d.kind] in types) and (not wanted_ids or d.id in wanted_ids)
    ]
    page = matching[offset : offset + limit]
    with db.reading() as uow:
        repo = SensorRepository(uow.session)
        entities = [
            entity_view(
                device_id=d.id,
                kind=d.kind,
                lon=d.lon,
                lat=d.lat,
                name=d.name,
                latest=_latest(repo, d.id, d.attributes),
                concise=concise,
                attrs=attrs,
            )
            for d in page
        ]
    return entities, len(matching)
