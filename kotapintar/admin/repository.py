"""The SQL the admin pages need beyond the features' repositories: last logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kotapintar.core.access.models import UserSession


class AdminRepository:
    """Reads for the admin pages."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def last_logins(self) -> dict[int, datetime]:
        """user id → when their newest browser session started (their last login)."""
        rows = self.session.execute(
            select(UserSession.user_id, func.max(UserSession.created_at)).group_by(UserSession.user_id)
        ).all()
        return {int(uid): at for uid, at in rows if at is not None}
