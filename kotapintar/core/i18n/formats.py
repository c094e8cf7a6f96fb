"""Numbers, durations and dates the way a reader of each locale writes them.

Indonesian writes `1,5 menit`, `12.500`, `4 hari 11 jam` and `4 Des 2026 02.50 WIB` (decimal comma,
thousands dot, a dot between hours and minutes); English writes `1.5 min`, `12,500`, `4 d 11 h` and
`4 Dec 2026 02:50 WIB`. Templates use these through Jinja filters (`number`, `duration`, `datetime`,
`date`), and services use them for texts a person reads (messages, SMS, API errors shown in forms).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from kotapintar.core.i18n.catalog import DEFAULT_LOCALE, Locale, translate

# Zone abbreviations of Indonesia's three time zones (UU: WIB UTC+7, WITA UTC+8, WIT UTC+9).
ZONE_SUFFIX: dict[str, str] = {
    "Asia/Jakarta": "WIB",
    "Asia/Pontianak": "WIB",
    "Asia/Makassar": "WITA",
    "Asia/Jayapura": "WIT",
}


def _indonesian(locale: Locale | str | None) -> bool:
    return str(locale or DEFAULT_LOCALE).lower().startswith("id")


def format_number(
    value: float | int | None, decimals: int = 0, locale: Locale | str | None = DEFAULT_LOCALE
) -> str:
    """`12.500` / `1,5` in Indonesian, `12,500` / `1.5` in English; an em dash for none or not-a-number.

    Trailing zeros after the decimal sign are dropped (`2,0` -> `2`), so `decimals` is the most shown.
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    text = f"{value:,.{max(decimals, 0)}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if _indonesian(locale):
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def format_percent(
    value: float | None, decimals: int = 0, locale: Locale | str | None = DEFAULT_LOCALE
) -> str:
    """A share (0.875) as `87,5%` (Indonesian) or `87.5%` (English)."""
    if value is None:
        return "—"
    return f"{format_number(value * 100, decimals, locale)}%"


def _unit(unit: str, n: int | str, locale: Locale | str | None) -> str:
    return translate(f"duration.{unit}", locale, n=n)


def format_duration(seconds: float | None, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """How long, in at most two units a person reads at a glance.

    `45 detik`, `1,5 menit`, `12 menit`, `3 jam 20 menit`, `4 hari 11 jam` (English `45 s`, `1.5 min`,
    `3 h 20 min`, `4 d 11 h`); an em dash for none. Negative durations read as their size.
    """
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = abs(seconds)
    if s < 59.5:
        return _unit("seconds", round(s), locale)
    if s < 600:  # under ten minutes a half minute matters (response-time targets are 4-8 min)
        return _unit("minutes", format_number(s / 60, 1, locale), locale)
    minutes = round(s / 60)
    if minutes < 60:
        return _unit("minutes", minutes, locale)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        text = _unit("hours", hours, locale)
        return f"{text} {_unit('minutes', minutes, locale)}" if minutes else text
    days, hours = divmod(round(s / 3600), 24)
    text = _unit("days", days, locale)
    return f"{text} {_unit('hours', hours, locale)}" if hours else text


def format_distance(metres: float | None, locale: Locale | str | None = DEFAULT_LOCALE) -> str:
    """`850 m`, `1,2 km` (English `1.2 km`); an em dash for none."""
    if metres is None or not math.isfinite(metres):
        return "—"
    if metres < 1000:
        return f"{format_number(metres, 0, locale)} m"
    return f"{format_number(metres / 1000, 1, locale)} km"


def as_aware(moment: datetime) -> datetime:
    """Times are stored in UTC; SQLite hands them back naive, so naive means UTC here."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def zone_suffix(tz: str, moment: datetime) -> str:
    """WIB/WITA/WIT for Indonesian zones, else the zone's own abbreviation (e.g. `UTC`)."""
    return ZONE_SUFFIX.get(tz) or moment.tzname() or tz


def format_date(
    day: date | datetime | None, tz: str = "Asia/Jakarta", locale: Locale | str | None = DEFAULT_LOCALE
) -> str:
    """`4 Des 2026`: a calendar day (an instant is first moved into the zone); an em dash for none."""
    if day is None:
        return "—"
    if isinstance(day, datetime):
        day = as_aware(day).astimezone(ZoneInfo(tz)).date()
    return f"{day.day} {translate(f'time.month.{day.month}', locale)} {day.year}"


def format_time(
    moment: datetime, tz: str = "Asia/Jakarta", locale: Locale | str | None = DEFAULT_LOCALE
) -> str:
    """`02.50 WIB` (Indonesian writes a dot between hours and minutes) or `02:50 WIB` in English."""
    local = as_aware(moment).astimezone(ZoneInfo(tz))
    separator = "." if _indonesian(locale) else ":"
    return f"{local:%H}{separator}{local:%M} {zone_suffix(tz, local)}"


def format_datetime(
    moment: datetime | None, tz: str = "Asia/Jakarta", locale: Locale | str | None = DEFAULT_LOCALE
) -> str:
    """`4 Des 2026 02.50 WIB`: an instant shown in the zone of the settings; an em dash for none."""
    if moment is None:
        return "—"
    local = as_aware(moment).astimezone(ZoneInfo(tz))
    return f"{format_date(local, tz, locale)} {format_time(local, tz, locale)}"


__all__ = [
    "ZONE_SUFFIX",
    "as_aware",
    "format_date",
    "format_datetime",
    "format_distance",
    "format_duration",
    "format_number",
    "format_percent",
    "format_time",
    "zone_suffix",
]
