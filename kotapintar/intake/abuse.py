"""Abuse limits of intake: rate limits per IP address and per phone number, and spam/prank flags on senders.

Rate limits use the `limits` library with in-memory storage (one process; a shared storage such as Redis
can be given for several workers). Flags are counted, never deleting anything a sender reported.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage, Storage
from limits.strategies import MovingWindowRateLimiter

from kotapintar.cases.repository import ReportRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.access.throttle import counter_storage
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import DomainError, NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.intake.models import SenderFlag
from kotapintar.intake.repository import IntakeRepository

FLAG_KINDS = ("spam", "prank")


class RateLimited(DomainError):
    """Too many submissions from one IP address or phone number; `retry_after_s` says when to try again."""

    code = "rate_limited"
    http_status = 429

    def __init__(self, message: str, *, retry_after_s: int, scope: str) -> None:
        super().__init__(message, retry_after_s=retry_after_s, scope=scope)
        self.retry_after_s = retry_after_s


class SenderBlocked(DomainError):
    """A sender flagged as spam/prank too often may not open new reports through a chat channel."""

    code = "sender_blocked"
    http_status = 403


class RateLimiter:
    """Moving-window limits per IP address and per phone number, in one storage."""

    def __init__(self, storage: Storage | None = None) -> None:
        self.storage = storage or MemoryStorage()
        self.strategy = MovingWindowRateLimiter(self.storage)

    def hit(self, scope: Literal["ip", "phone"], key: str, rule: str) -> None:
        """Count one submission of `key`; raise RateLimited when it is over `rule` (e.g. `10/hour`)."""
        item: RateLimitItem = parse(rule)
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]  # no phone numbers in the storage
        if self.strategy.hit(item, scope, digest):
            return
        reset_at, _remaining = self.strategy.get_window_stats(item, scope, digest)
        retry = max(1, math.ceil(reset_at - time.time()))
        what = "alamat IP ini" if scope == "ip" else "nomor ini"
        raise RateLimited(
            f"Terlalu banyak laporan dari {what}; coba lagi dalam {retry} detik / too many reports, "
            f"retry in {retry} s.",
            retry_after_s=retry,
            scope=scope,
        )

    def would_allow(self, scope: Literal["ip", "phone"], key: str, rule: str) -> bool:
        """True when one more submission of `key` is within `rule`, without counting it."""
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]
        return bool(self.strategy.test(parse(rule), scope, digest))

    def reset(self) -> None:
        """Forget every count (tests, or an operator after an incident)."""
        self.storage.reset()


def limiter(storage_url: str = "memory://") -> RateLimiter:
    """The process-wide limiter of a storage (`memory://` or a shared one such as `redis://…`)."""
    return _limiter(storage_url)


@lru_cache(maxsize=4)
def _limiter(storage_url: str) -> RateLimiter:
    # One instance per URL, however the caller spelled the call (lru_cache keys on the arguments given).
    return RateLimiter(counter_storage(storage_url))


def check_ip(settings: Settings, ip: str | None) -> None:
    """Count one submission from an IP address (raises RateLimited)."""
    if ip:
        limiter(settings.rate_limit_storage_url).hit("ip", ip, settings.rate_limit_per_ip)


def peek_ip(settings: Settings, ip: str | None) -> None:
    """Refuse (RateLimited) an IP address already at its limit, without counting this request: the web form
    checks this before it stores photos of a form that comes back with errors."""
    if ip and not limiter(settings.rate_limit_storage_url).would_allow("ip", ip, settings.rate_limit_per_ip):
        check_ip(settings, ip)  # over the limit: raises with the retry time


def check_phone(settings: Settings, phone: str | None) -> None:
    """Count one submission from a phone number or chat account (raises RateLimited)."""
    if phone:
        limiter(settings.rate_limit_storage_url).hit(
            "phone", normalise_phone(phone), settings.rate_limit_per_phone
        )


def normalise_phone(phone: str) -> str:
    """+62 812-3456 / 0812 3456 / 62812 3456 -> 628123456 (so limits and flags see one number)."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits or phone.strip()


@dataclass(frozen=True)
class FlagResult:
    """A flag was recorded: how often this sender has now been flagged (the sender itself is not shown)."""

    channel: str
    kind: str
    flags: int
    blocked: bool


def flag_sender(
    db: Database,
    actor: Actor,
    *,
    report_id: int,
    kind: str,
    settings: Settings,
    note: str | None = None,
) -> FlagResult:
    """Mark the sender of a report as spam or prank (operators only); the report itself stays."""
    actor.require(Permission.TRIAGE_CASES)
    if kind not in FLAG_KINDS:
        raise ValidationFailed(f"Jenis tanda harus salah satu dari {', '.join(FLAG_KINDS)}.", field="kind")
    with db.transaction() as uow:
        repo = IntakeRepository(uow.session)
        report = repo.report(report_id)
        if report is None:
            raise NotFound(f"Laporan {report_id} tidak ditemukan / report not found.")
        channel, sender = _sender_of(uow, repo, report_id, report.reporter_id, report.channel)
        if sender is None:
            raise ValidationFailed(
                "Laporan ini tidak punya pengirim yang dikenal (tanpa nomor) / the report has no known sender.",
                code="no_sender",
            )
        repo.add_flag(
            SenderFlag(
                channel=channel,
                sender=sender,
                kind=kind,
                report_id=report_id,
                flagged_by=actor.name,
                note=(note or None) and note[:500],
                created_at=utcnow(),
            )
        )
        count = repo.flag_count(channel, sender)
    threshold = settings.spam_block_threshold
    return FlagResult(channel=channel, kind=kind, flags=count, blocked=bool(threshold) and count >= threshold)


def _sender_of(
    uow: UnitOfWork, repo: IntakeRepository, report_id: int, reporter_id: int | None, channel: str
) -> tuple[str, str | None]:
    sub = repo.subscription_of_report(report_id)
    if sub is not None:
        return sub.channel, normalise_phone(sub.address) if sub.channel == "sms" else sub.address
    reporters = uow.repo(ReportRepository).reporters([reporter_id]) if reporter_id else {}
    person = reporters.get(reporter_id) if reporter_id else None
    if person is not None and person.phone:
        return "sms", normalise_phone(person.phone)
    return channel, None


def check_sender(db: Database, settings: Settings, channel: str, sender: str) -> None:
    """Refuse a new report from a sender flagged as spam/prank `spam_block_threshold` times or more."""
    if not settings.spam_block_threshold:
        return
    key = normalise_phone(sender) if channel == "sms" else sender
    with db.reading() as uow:
        count = IntakeRepository(uow.session).flag_count(channel, key)
    if count >= settings.spam_block_threshold:
        raise SenderBlocked(
            "Nomor ini ditandai sebagai pengirim laporan palsu; hubungi kantor pusat komando. "
            "Untuk keadaan darurat tetap telepon 112.",
        )
