"""Ranges every edge checks before a value reaches the database: ids, cursors and datetimes.

Ids are 64-bit signed integers in the database; Python's are unbounded, so a path such as
`/cases/99999999999999999999` must be refused here (422) rather than overflow in the driver (500).
Datetimes far from now (year 1, year 9999 with an offset) overflow when converted to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query

from kotapintar.core.errors import ValidationFailed

MAX_ID = 2**63 - 1
MIN_YEAR, MAX_YEAR = 1970, 9000

IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="an id (1 … 2^63−1)")]
IdQuery = Annotated[int, Query(ge=0, le=MAX_ID)]


def check_datetime(value: datetime | None, field: str) -> datetime | None:
    """`value` when it is a sensible moment (years 1970–9000, convertible to UTC), else ValidationFailed."""
    if value is None:
        return None
    try:
        as_utc = value.astimezone(UTC) if value.tzinfo is not None else value
    except (OverflowError, ValueError) as exc:
        raise ValidationFailed(
            f"{field} di luar jangkauan tanggal / {field} is out of the supported range.", field=field
        ) from exc
    if not MIN_YEAR <= as_utc.year <= MAX_YEAR:
        raise ValidationFailed(
            f"{field} harus antara tahun {MIN_YEAR} dan {MAX_YEAR} / {field} must lie between "
            f"{MIN_YEAR} and {MAX_YEAR}.",
            field=field,
        )
    return value
