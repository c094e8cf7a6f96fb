"""Learning routing: a `bukan_wewenang` ("not our authority") rejection teaches an override."""

from __future__ import annotations

from dataclasses import dataclass

from kotapintar.cases.repository import CaseRepository
from kotapintar.catalog.repository import AgencyRepository, RegionRepository, ServiceRepository
from kotapintar.core import versions
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.events.repository import case_stream
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.triage.context import forget_triage_context
from kotapintar.triage.repository import TriageRepository
from kotapintar.triage.routing import ANYWHERE

ROUTING_STREAM = "triage:routing"


@dataclass(frozen=True)
class LearnedOverride:
    """The stored override."""

    service: str
    region: str
    agency: str


def learn_routing_override(
    db: Database,
    actor: Actor,
    service: str,
    region: str,
    agency: str,
    *,
    case_id: int | None = None,
) -> LearnedOverride:
    """From now on, reports of `service` in `region` (kecamatan/desa code or "*") go to `agency`."""
    with db.transaction() as uow:
        learned = record_routing_override(uow, actor, service, region, agency, case_id=case_id)
    forget_triage_context(db)
    return learned


def record_routing_override(
    uow: UnitOfWork,
    actor: Actor,
    service: str,
    region: str,
    agency: str,
    *,
    case_id: int | None = None,
) -> LearnedOverride:
    """Store the override and its event inside the caller's transaction (e.g. the operator's re-routing).

    Bumps the triage version in the same transaction: every process rebuilds its triage context.
    """
    actor.require(Permission.TRIAGE_CASES)
    now = utcnow()
    if uow.repo(ServiceRepository).get(service) is None:
        raise ValidationFailed(f"Layanan '{service}' tidak dikenal.", field="service")
    if uow.repo(AgencyRepository).get(agency) is None:
        raise ValidationFailed(f"Instansi '{agency}' tidak dikenal.", field="agency")
    if region != ANYWHERE and uow.repo(RegionRepository).get(region) is None:
        raise ValidationFailed(
            f"Wilayah '{region}' tidak dikenal (kode kecamatan/desa, atau '*').", field="region"
        )
    if case_id is not None and uow.repo(CaseRepository).get(case_id) is None:
        raise ValidationFailed(f"Kasus {case_id} tidak ditemukan.", field="case_id")
    TriageRepository(uow.session).upsert_override(
        {
            "service_code": service,
            "region_code": region,
            "agency_code": agency,
            "learned_by": actor.name,
            "case_id": case_id,
            "created_at": now,
        }
    )
    uow.events.append(
        stream=case_stream(case_id) if case_id is not None else ROUTING_STREAM,
        case_id=case_id,
        type=EventType.ROUTING_OVERRIDE_LEARNED,
        actor=actor.name,
        at=now,
        payload={"service": service, "region": region, "agency": agency},
    )
    versions.bump(uow.session, versions.TRIAGE)  # every process routes by the override from its next report
    return LearnedOverride(service=service, region=region, agency=agency)
