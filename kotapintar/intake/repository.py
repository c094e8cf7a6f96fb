"""All SQL of intake: a reporter's subscription to updates, sender flags, stored media, and their reports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from kotapintar.cases.models import Report
from kotapintar.intake.models import MediaFile, SenderFlag, Subscription


class IntakeRepository:
    """Reads and writes of intake's own tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def subscribe(
        self, case_id: int, report_id: int | None, channel: str, address: str, now: datetime
    ) -> None:
        """Send status changes of `case_id` to `address` on `channel` (once per case and address)."""
        exists = self.session.scalars(
            select(Subscription.id).where(
                Subscription.case_id == case_id,
                Subscription.channel == channel,
                Subscription.address == address,
            )
        ).first()
        if exists is None:
            self.session.add(
                Subscription(
                    case_id=case_id, report_id=report_id, channel=channel, address=address, created_at=now
                )
            )
            self.session.flush()

    def subscriptions_for(self, case_ids: Sequence[int]) -> Sequence[Subscription]:
        """The subscriptions of these cases."""
        if not case_ids:
            return []
        return self.session.scalars(select(Subscription).where(Subscription.case_id.in_(case_ids))).all()

    def subscription_of_report(self, report_id: int) -> Subscription | None:
        """The subscription created with one report (its sender)."""
        return self.session.scalars(select(Subscription).where(Subscription.report_id == report_id)).first()

    def add_flag(self, flag: SenderFlag) -> None:
        """Store one operator flag on a sender."""
        self.session.add(flag)
        self.session.flush()

    def flag_count(self, channel: str, sender: str) -> int:
        """How often a sender has been flagged as spam or prank."""
        return int(
            self.session.scalar(
                select(func.count(SenderFlag.id)).where(
                    SenderFlag.channel == channel, SenderFlag.sender == sender
                )
            )
            or 0
        )

    def report(self, report_id: int) -> Report | None:
        """One report."""
        return self.session.get(Report, report_id)

    def add_media(self, row: MediaFile) -> MediaFile:
        """Store one photo's record."""
        self.session.add(row)
        self.session.flush()
        return row

    def media_by_token(self, token: str) -> MediaFile | None:
        """A photo by its URL token."""
        return self.session.scalars(select(MediaFile).where(MediaFile.token == token)).first()

    def link_media(
        self, tokens: Sequence[str], case_id: int, report_id: int, confidential: bool | None = None
    ) -> None:
        """Attach stored photos to the report (and case) they came with; `confidential` (when given) makes
        them follow the report's final choice (a photo kept across a form error was stored before it)."""
        if tokens:
            values: dict[str, object] = {"case_id": case_id, "report_id": report_id}
            if confidential is not None:
                values["confidential"] = confidential
            self.session.execute(update(MediaFile).where(MediaFile.token.in_(list(tokens))).values(**values))

    def unlinked_media_before(self, cutoff: datetime, limit: int = 500) -> list[str]:
        """Tokens of stored photos no report took, stored before `cutoff` (abandoned forms)."""
        stmt = (
            select(MediaFile.token)
            .where(MediaFile.report_id.is_(None), MediaFile.case_id.is_(None), MediaFile.created_at < cutoff)
            .limit(limit)
        )
        return list(self.session.scalars(stmt))

    def delete_unlinked_media(self, tokens: Sequence[str]) -> None:
        """Forget stored photos that belong to no report (the report they came with was refused)."""
        if tokens:
            self.session.execute(
                delete(MediaFile).where(MediaFile.token.in_(list(tokens)), MediaFile.report_id.is_(None))
            )
