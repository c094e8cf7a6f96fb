"""Sensor devices and what every sensor command shares: the registry in force (reloaded when another process changes it), registration, keys, the ingest lock and outcome."""

from __future__ import annotations

import logging
import secrets
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta, timezone, tzinfo
from typing import Any

from kotapintar.catalog.repository import AgencyRepository
from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings, get_settings
from kotapintar.core.versions import VersionedCache
from kotapintar.core.zones import local_zone, zone_label
from kotapintar.sensors.engine.levels import LevelCatalog, load_catalog
from kotapintar.sensors.engine.quality import (
    FLAG_BITS,
    QualityFlag,
    SeriesLimits,
)
from kotapintar.sensors.engine.registry import (
    Device,
    DeviceRegistry,
    derive_api_key,
    hash_api_key,
    load_devices,
)
from kotapintar.sensors.engine.rules import (
    Rule,
    load_rules,
)
from kotapintar.sensors.repository import SensorRepository

log = logging.getLogger(__name__)


MAX_EVENT_READINGS = 200

INGEST_LOCK = threading.RLock()


def flag_names(mask: int) -> list[str]:
    """The flag words of a stored bitmask, in a stable order."""
    return [f.value for f in QualityFlag if mask & FLAG_BITS[f]]


@dataclass
class SensorContext:
    """What ingest needs in memory: the registry built from the device table, the rules and level sets."""

    registry: DeviceRegistry
    devices: dict[str, Device]
    rules: list[Rule]
    catalog: LevelCatalog
    zone: tzinfo = timezone(
        timedelta(hours=7), "WIB"
    )  # the city's zone (settings.timezone): its days and clocks
    zone_label: str = "WIB"
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


def _build_context(db: Database, settings: Settings) -> SensorContext:
    with db.reading() as uow:
        devices = [Device.model_validate(row.spec) for row in SensorRepository(uow.session).devices()]
    catalog = load_catalog()
    return SensorContext(
        registry=DeviceRegistry(devices, key_secret=key_secret(settings)),
        devices={d.id: d for d in devices},
        rules=load_rules(catalog=catalog),
        catalog=catalog,
        zone=local_zone(settings.timezone),
        zone_label=zone_label(settings.timezone),
    )


# Every change to the device table (register, re-key, enable/disable) bumps the sensors version in its
# transaction; each process reads that version once per ingest batch or request and rebuilds when it moved,
# so a revoked key is refused by every web and ingest process from its next message (issue 19).
_CONTEXTS: VersionedCache[SensorContext] = VersionedCache(versions.SENSORS)


def key_secret(settings: Settings) -> str:
    """The secret the demo devices' API keys derive from."""
    return settings.sensor_key_secret or settings.secret_key


def device_api_key(settings: Settings, device_id: str) -> str:
    """The placeholder API key of a demo device (for the demo publisher, tests and benchmarks)."""
    return derive_api_key(key_secret(settings), device_id)


def sensor_context(db: Database, settings: Settings | None = None, *, refresh: bool = False) -> SensorContext:
    """The cached sensor context of a database, rebuilt when the sensors version moved (in any process).

    `refresh` rebuilds it now (a benchmark's cold start).
    """
    settings = settings or get_settings()
    if refresh:
        _CONTEXTS.invalidate(db)
    key = (key_secret(settings), settings.timezone)
    with INGEST_LOCK:
        return _CONTEXTS.get(db, key, lambda: _build_context(db, settings))


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
        versions.bump(uow.session, versions.SENSORS)
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
        versions.bump(uow.session, versions.SENSORS)
    return key


def set_device_active(db: Database, actor: Actor, device_id: str, active: bool) -> bool:
    """Disable (readings refused from now, its key included) or enable a device; returns its former state.

    A disabled device leaves the registry in force: the sensors version bump makes every process rebuild its
    registry on its next message.
    """
    actor.require(Permission.MANAGE_CATALOGUE)
    with db.transaction() as uow:
        row = SensorRepository(uow.session).device(device_id)
        if row is None:
            raise NotFound(f"Perangkat '{device_id}' tidak terdaftar / unknown device.", device_id=device_id)
        before = bool(row.active)
        row.active = active
        row.updated_at = utcnow()
        versions.bump(uow.session, versions.SENSORS)
    return before


def load_demo_devices(db: Database, actor: Actor) -> int:
    """Register the shipped Kapuas demo devices (idempotent); returns how many devices there are."""
    devices = load_devices()
    register_devices(db, actor, devices)
    return len(devices)


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


def warm_up(db: Database, settings: Settings | None = None) -> None:
    """Load what the first batch would otherwise load (registry, rules, the triage model used by intake)."""
    sensor_context(db, settings)
    try:
        from kotapintar.triage.classify.model import Classifier

        Classifier.load()
    except (OSError, ValueError) as exc:  # no shipped model: intake falls back on its own, nothing to warm
        log.info("triage model not preloaded: %s", exc)
