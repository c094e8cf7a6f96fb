"""Indonesian numbers, durations and dates (issue 20): what `core.i18n.formats` writes, in both locales."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kotapintar.core.i18n.formats import (
    format_date,
    format_datetime,
    format_distance,
    format_duration,
    format_number,
    format_percent,
)
from kotapintar.core.i18n.labels import actor_label, channel_label, task_status_label, unit_kind_label
from kotapintar.core.i18n.validation import humanize_error


@pytest.mark.parametrize(
    ("seconds", "indonesian", "english"),
    [
        (0, "0 detik", "0 s"),
        (45, "45 detik", "45 s"),
        (90, "1,5 menit", "1.5 min"),
        (600, "10 menit", "10 min"),
        (3600, "1 jam", "1 h"),
        (2 * 3600 + 20 * 60, "2 jam 20 menit", "2 h 20 min"),
        (4 * 86400 + 11 * 3600, "4 hari 11 jam", "4 d 11 h"),
        (86400, "1 hari", "1 d"),
        (None, "—", "—"),
    ],
)
def test_durations(seconds: float | None, indonesian: str, english: str) -> None:
    assert format_duration(seconds, "id") == indonesian
    assert format_duration(seconds, "en") == english


def test_numbers_percent_and_distance() -> None:
    assert format_number(12500.5, 1, "id") == "12.500,5"
    assert format_number(12500.5, 1, "en") == "12,500.5"
    assert format_number(2.0, 1, "id") == "2"
    assert format_percent(0.875, 1, "id") == "87,5%"
    assert format_distance(613_100, "id") == "613,1 km"
    assert format_distance(850, "id") == "850 m"


def test_dates_and_times_in_the_zone_of_the_settings() -> None:
    moment = datetime(2026, 12, 3, 19, 50, tzinfo=UTC)
    assert format_datetime(moment, "Asia/Jakarta", "id") == "4 Des 2026 02.50 WIB"
    assert format_datetime(moment, "Asia/Jakarta", "en") == "4 Dec 2026 02:50 WIB"
    assert format_datetime(moment, "Asia/Makassar", "id") == "4 Des 2026 03.50 WITA"
    assert format_date(date(2026, 8, 17), locale="id") == "17 Agu 2026"


@given(st.floats(min_value=0, max_value=10 * 365 * 86400, allow_nan=False))
def test_a_duration_never_shows_a_decimal_point_in_indonesian(seconds: float) -> None:
    text = format_duration(seconds, "id")
    assert "." not in text and text.split()[0][0].isdigit()


def test_codes_read_as_names() -> None:
    assert unit_kind_label("fire_truck", "id") == "Mobil pemadam kebakaran"
    assert unit_kind_label("hovercraft", "id") == "hovercraft"  # unknown: its words, never a raw key
    assert channel_label("call112", "id") == "panggilan 112"
    assert task_status_label("escalated", "id") == "dieskalasi"
    assert actor_label("public:web", "id") == "warga (formulir web)"
    assert actor_label("user:operator", "id") == "operator"


def test_pydantic_errors_in_the_readers_words() -> None:
    error = {
        "type": "string_too_short",
        "loc": ("body", "description"),
        "msg": "String should...",
        "ctx": {"min_length": 3},
    }
    assert humanize_error(error, "id") == "Uraian terlalu pendek (paling sedikit 3 karakter)"
    assert humanize_error(error, "en") == "Description is too short (at least 3 characters)"
    bound = {"type": "less_than_equal", "loc": ("body", "lon"), "msg": "...", "ctx": {"le": 180.0}}
    assert humanize_error(bound, "id") == "Bujur harus 180 atau kurang"
