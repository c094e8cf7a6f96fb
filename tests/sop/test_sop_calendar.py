"""Working-day calendar and durations: weekends, national holidays, cuti bersama and office hours."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from kotapintar.sop.calendar import WorkingCalendar
from kotapintar.sop.duration import parse_duration
from kotapintar.sop.loader import load_calendar

CAL = load_calendar()


def wib(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=ZoneInfo("Asia/Jakarta")).astimezone(UTC)


def test_complaint_crossing_a_weekend_and_a_national_holiday() -> None:
    # Thursday 14 May 2026 is Kenaikan Yesus Kristus and Friday 15 May cuti bersama. A complaint received on
    # Wednesday 13 May 10:00 WIB with 3 hari kerja: Mon 18 (1), Tue 19 (2), Wed 20 (3) -> 16:00 WIB.
    due = CAL.add_duration(wib(2026, 5, 13, 10), parse_duration("3 hari kerja"))
    assert due == datetime(2026, 5, 20, 9, 0, tzinfo=UTC)  # 16:00 WIB


def test_friday_closes_later_and_idul_fitri_leave_is_skipped() -> None:
    # Thursday 19 March 2026 Nyepi; 20, 23, 24 cuti bersama; 21-22 Idul Fitri. From Tue 17 March: 2 hari kerja ->
    # Wed 25 (1), Thu 26 (2).
    assert CAL.add_duration(wib(2026, 3, 17, 9), parse_duration("2 hari kerja")) == datetime(
        2026, 3, 26, 9, 0, tzinfo=UTC
    )
    # Friday office hours end 16:30 WIB.
    assert CAL.add_duration(wib(2026, 1, 22, 9), parse_duration("1 hari kerja")) == datetime(
        2026, 1, 23, 9, 30, tzinfo=UTC
    )


def test_emergency_minutes_run_on_the_24_7_clock() -> None:
    start = wib(2026, 5, 14, 23, 55)  # a holiday, at night
    assert CAL.add_duration(start, parse_duration("15 menit")) == datetime(2026, 5, 14, 17, 10, tzinfo=UTC)
    assert CAL.add_duration(start, parse_duration("60 detik")) == datetime(2026, 5, 14, 16, 56, tzinfo=UTC)


def test_fractions_of_a_working_day_standard_count_office_time() -> None:
    start = wib(2026, 1, 5, 8)  # Monday 08:00
    five = parse_duration("5 hari kerja")  # due Mon 12 Jan 16:00
    half = CAL.at_fraction(start, five, 0.5)
    assert CAL.working_seconds_between(start, half) == pytest.approx(
        CAL.working_seconds_between(start, CAL.add_duration(start, five)) / 2
    )
    assert CAL.at_fraction(start, five, 2.0) > CAL.add_duration(start, five)


def test_working_hours_duration_and_holiday_flags() -> None:
    cal = WorkingCalendar()
    # Friday 15:00 WIB: 1.5 h left that day (closes 16:30), 2.5 h on Monday -> 10:30 WIB.
    assert cal.add_duration(wib(2026, 1, 2, 15), parse_duration("4 jam kerja")) == wib(2026, 1, 5, 10, 30)
    assert not CAL.is_working_day(datetime(2026, 8, 17).date())
    assert CAL.is_working_day(datetime(2026, 8, 18).date())


@pytest.mark.parametrize("text", ["2 minggu", "abc", "0 menit", "-3 jam", ""])
def test_bad_durations_say_how_to_fix(text: str) -> None:
    with pytest.raises(ValueError, match="durasi"):
        parse_duration(text)


def test_duration_aliases() -> None:
    assert str(parse_duration("3  Hari   Kerja")) == "3 hari kerja"
    assert parse_duration("15 minutes") == parse_duration("15 menit")
