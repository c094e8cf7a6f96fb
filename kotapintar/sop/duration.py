"""Time standards (mutu baku waktu) of SOP steps: '60 detik', '15 menit', '2 jam', '1 hari', '3 hari kerja'."""

from __future__ import annotations

import re
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, model_serializer

DURATION_EXAMPLES = "'60 detik', '15 menit', '2 jam', '1 hari', '3 hari kerja', '4 jam kerja'"


class DurationUnit(StrEnum):
    """Units of a time standard; the last two run on the working-day calendar, the others on the 24/7 clock."""

    SECOND = "detik"
    MINUTE = "menit"
    HOUR = "jam"
    DAY = "hari"
    WORKING_HOUR = "jam kerja"
    WORKING_DAY = "hari kerja"


_ALIASES: dict[str, DurationUnit] = {
    "detik": DurationUnit.SECOND,
    "dtk": DurationUnit.SECOND,
    "s": DurationUnit.SECOND,
    "second": DurationUnit.SECOND,
    "seconds": DurationUnit.SECOND,
    "menit": DurationUnit.MINUTE,
    "mnt": DurationUnit.MINUTE,
    "min": DurationUnit.MINUTE,
    "minute": DurationUnit.MINUTE,
    "minutes": DurationUnit.MINUTE,
    "jam": DurationUnit.HOUR,
    "hour": DurationUnit.HOUR,
    "hours": DurationUnit.HOUR,
    "hari": DurationUnit.DAY,
    "day": DurationUnit.DAY,
    "days": DurationUnit.DAY,
    "jam kerja": DurationUnit.WORKING_HOUR,
    "working hour": DurationUnit.WORKING_HOUR,
    "working hours": DurationUnit.WORKING_HOUR,
    "hari kerja": DurationUnit.WORKING_DAY,
    "working day": DurationUnit.WORKING_DAY,
    "working days": DurationUnit.WORKING_DAY,
}

_SECONDS = {
    DurationUnit.SECOND: 1,
    DurationUnit.MINUTE: 60,
    DurationUnit.HOUR: 3600,
    DurationUnit.DAY: 86400,
}

_PATTERN = re.compile(r"^\s*(\d+)\s*([a-zA-Z]+(?:\s+[a-zA-Z]+)?)\s*$")


class Duration(BaseModel):
    """A parsed time standard: a whole amount of one unit."""

    model_config = ConfigDict(frozen=True)

    amount: int
    unit: DurationUnit

    @property
    def on_working_calendar(self) -> bool:
        """True for 'hari kerja' / 'jam kerja': counted on the working-day calendar, not the 24/7 clock."""
        return self.unit in (DurationUnit.WORKING_DAY, DurationUnit.WORKING_HOUR)

    def as_timedelta(self) -> timedelta:
        """The clock length of a 24/7 duration; raises ValueError for working-calendar units."""
        if self.on_working_calendar:
            raise ValueError("durasi hari/jam kerja bergantung pada kalender kerja")
        return timedelta(seconds=self.amount * _SECONDS[self.unit])

    def __str__(self) -> str:
        return f"{self.amount} {self.unit.value}"

    @model_serializer
    def _as_text(self) -> str:
        return str(self)


def parse_duration(text: object) -> Duration:
    """Parse '15 menit' / '3 hari kerja' into a Duration; ValueError says what a valid one looks like."""
    if isinstance(text, Duration):
        return text
    if isinstance(text, dict):
        return Duration.model_validate(text)
    if not isinstance(text, str):
        raise ValueError(f"durasi harus berupa teks, misalnya {DURATION_EXAMPLES}; didapat {text!r}")
    match = _PATTERN.match(text)
    if match is None:
        raise ValueError(
            f"durasi '{text}' tidak dapat dibaca; tulis angka lalu satuan, misalnya {DURATION_EXAMPLES}"
        )
    amount = int(match.group(1))
    unit_text = " ".join(match.group(2).lower().split())
    unit = _ALIASES.get(unit_text)
    if unit is None:
        raise ValueError(
            f"satuan '{match.group(2)}' pada durasi '{text}' tidak dikenal; gunakan detik, menit, jam, hari, "
            f"jam kerja atau hari kerja (misalnya {DURATION_EXAMPLES})"
        )
    if amount <= 0:
        raise ValueError(f"durasi '{text}' harus lebih dari nol")
    return Duration(amount=amount, unit=unit)
