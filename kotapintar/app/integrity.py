"""`kotapintar check`: every feature's invariants over the whole database, in one list."""

from __future__ import annotations

from kotapintar.cases import integrity as cases_integrity
from kotapintar.core.db.database import Database
from kotapintar.core.integrity import Problem
from kotapintar.dispatch import integrity as dispatch_integrity
from kotapintar.sop import integrity as sop_integrity

CHECKS = (
    cases_integrity.check_invariants,
    sop_integrity.check_invariants,
    dispatch_integrity.check_invariants,
)


def check_database(db: Database) -> list[Problem]:
    """All broken invariants, feature by feature (empty when the database is consistent)."""
    return [problem for check in CHECKS for problem in check(db)]
