"""The intake rules every citizen channel shares: abuse limits, photos, the report itself, where answers go.

Order matters: limits first (cheap, nothing stored), then photos (checked before anything is stored),
then `submit_report` (one transaction). A refused report leaves no photo and no case behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kotapintar.cases.schemas import ReportIn, SubmitResult
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.intake import abuse, media
from kotapintar.intake.repository import IntakeRepository
from kotapintar.intake.submit import submit_report


@dataclass(frozen=True)
class ReplyTo:
    """Where status changes of the new case go: a channel and the reporter's address on it."""

    channel: str
    address: str


def submit_citizen_report(
    db: Database,
    actor: Actor,
    report: ReportIn,
    *,
    settings: Settings,
    uploads: Sequence[media.Upload | media.StoredPhoto] | None = None,
    idempotency_key: str | None = None,
    ip: str | None = None,
    reply_to: ReplyTo | None = None,
) -> SubmitResult:
    """Apply the shared intake rules and submit: sender flags, rate limits, photos, report, subscription.

    `uploads` may hold `media.StoredPhoto`s: photos stored by an earlier attempt of the same form (see
    `media.unlinked_photos`); they are attached with the new ones, and stay stored (for the next attempt)
    when this one is refused.
    """
    if reply_to is not None:
        abuse.check_sender(db, settings, reply_to.channel, reply_to.address)
    abuse.check_ip(settings, ip)
    phone = report.reporter.phone if report.reporter and report.reporter.phone else None
    abuse.check_phone(settings, phone or (reply_to.address if reply_to else None))
    fresh = [u for u in uploads or [] if isinstance(u, media.Upload)]
    kept = [u.entry for u in uploads or [] if isinstance(u, media.StoredPhoto)]
    stored = media.store_photos(
        db, actor, fresh, channel=report.channel, confidential=report.confidential, settings=settings
    )
    attached = [*kept, *stored]
    try:
        result = submit_report(
            db, actor, report, idempotency_key=idempotency_key, settings=settings, media=attached
        )
    except BaseException:
        media.discard_photos(db, settings, stored)
        raise
    if result.replayed:
        media.discard_photos(db, settings, attached)
        return result
    media.link_photos(db, attached, result.case_id, result.report_id, confidential=report.confidential)
    if reply_to is not None:
        subscribe_reporter(db, result, reply_to)
    return result


def subscribe_reporter(db: Database, result: SubmitResult, reply_to: ReplyTo) -> None:
    """Remember where the reporter of `result` wants status changes (kept apart from the report)."""
    with db.transaction() as uow:
        IntakeRepository(uow.session).subscribe(
            result.case_id, result.report_id, reply_to.channel, reply_to.address, utcnow()
        )
