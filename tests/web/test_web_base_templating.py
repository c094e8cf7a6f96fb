"""Template helpers: local time with WIB/WITA/WIT, relative time, badges, cache-busted static URLs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from kotapintar.cases.lifecycle import CaseStatus, Priority
from kotapintar.core.http.templating import (
    format_local_time,
    format_relative,
    lang_url,
    make_environment,
    render_priority_badge,
    render_status_badge,
    static_version,
)


def test_local_time_is_shown_in_wib() -> None:
    moment = datetime(2026, 11, 29, 4, 5, tzinfo=UTC)
    assert format_local_time(moment) == "29 Nov 2026 11.05 WIB"


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        ("Asia/Jakarta", "1 Jan 2027 06.30 WIB"),
        ("Asia/Pontianak", "1 Jan 2027 06.30 WIB"),
        ("Asia/Makassar", "1 Jan 2027 07.30 WITA"),
        ("Asia/Jayapura", "1 Jan 2027 08.30 WIT"),
        ("UTC", "31 Des 2026 23.30 UTC"),
    ],
)
def test_local_time_zone_suffixes(tz: str, expected: str) -> None:
    assert format_local_time(datetime(2026, 12, 31, 23, 30, tzinfo=UTC), tz) == expected


def test_local_time_month_names_follow_the_locale() -> None:
    moment = datetime(2026, 5, 1, 0, 0, tzinfo=UTC)
    assert format_local_time(moment, locale="id") == "1 Mei 2026 07.00 WIB"
    assert format_local_time(moment, locale="en") == "1 May 2026 07:00 WIB"


def test_naive_datetimes_are_taken_as_utc() -> None:
    assert format_local_time(datetime(2026, 11, 29, 4, 5)) == "29 Nov 2026 11.05 WIB"


def test_local_time_converts_other_offsets() -> None:
    plus9 = timezone(timedelta(hours=9))
    assert format_local_time(datetime(2026, 11, 29, 13, 5, tzinfo=plus9)) == "29 Nov 2026 11.05 WIB"


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_wib_is_always_seven_hours_ahead(moment: datetime) -> None:
    shown = format_local_time(moment)
    local = moment + timedelta(hours=7)
    assert shown.endswith(f"{local:%H.%M} WIB")
    assert shown.startswith(f"{local.day} ")


def test_relative_time() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert format_relative(now - timedelta(seconds=20), now) == "baru saja"
    assert format_relative(now - timedelta(minutes=5), now) == "5 menit lalu"
    assert format_relative(now - timedelta(hours=3, minutes=59), now) == "3 jam lalu"
    assert format_relative(now - timedelta(days=2), now) == "2 hari lalu"
    assert format_relative(now + timedelta(minutes=30), now) == "dalam 30 menit"
    assert format_relative(now - timedelta(minutes=1), now, "en") == "1 minute ago"
    assert format_relative(now - timedelta(hours=2), now, "en") == "2 hours ago"


def test_priority_badge_uses_class_and_translated_label() -> None:
    html = str(render_priority_badge(Priority.P1))
    assert 'class="badge badge-p1"' in html
    assert "P1 Darurat" in html
    assert 'title="Darurat / mengancam jiwa"' in html
    assert "P3 Routine" in str(render_priority_badge("P3", "en"))


def test_status_badge() -> None:
    html = str(render_status_badge(CaseStatus.IN_PROGRESS))
    assert html == '<span class="badge badge-status-in-progress">ditangani</span>'
    assert ">in progress<" in str(render_status_badge("in_progress", "en"))


def test_unknown_badge_values_are_escaped() -> None:
    assert "<script>" not in str(render_status_badge("<script>"))
    assert "<script>" not in str(render_priority_badge("<script>"))


def test_filters_in_a_template_autoescape_and_use_the_context_locale() -> None:
    env = make_environment()
    template = env.from_string(
        "{{ title }}|{{ when | local_time }}|{{ p | priority_badge }}|{{ _('nav.map') }}|{{ s | status_badge }}"
    )
    out = template.render(
        title="<script>alert(1)</script>", when=datetime(2026, 11, 29, 4, 5, tzinfo=UTC), p="P2", s="closed"
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in out
    assert "29 Nov 2026 11.05 WIB" in out
    assert "badge-p2" in out and "|Peta|" in out
    env_out = template.render(title="", when=None, p="P2", s="closed", locale="en")
    assert "|—|" in env_out and "|Map|" in env_out and ">closed<" in env_out


def test_relative_filter_renders_a_time_element() -> None:
    env = make_environment()
    out = env.from_string("{{ t | relative(now) }}").render(
        t=datetime(2026, 11, 29, 4, 0, tzinfo=UTC), now=datetime(2026, 11, 29, 4, 5, tzinfo=UTC)
    )
    assert out == '<time datetime="2026-11-29T04:00:00Z" title="29 Nov 2026 11.00 WIB">5 menit lalu</time>'


def test_static_version_is_a_content_hash_and_missing_files_fail() -> None:
    version = static_version("css/kotapintar.css")
    assert len(version) == 10 and version == static_version("css/kotapintar.css")
    assert version != static_version("js/map.js")
    with pytest.raises(FileNotFoundError):
        static_version("css/nope.css")
    with pytest.raises(FileNotFoundError):
        static_version("../templating.py")


def test_lang_url_and_static_url_behind_a_path_prefix() -> None:
    app = FastAPI()
    env = make_environment()

    @app.get("/x")
    def page(request: Request) -> dict[str, str]:
        css = env.from_string("{{ static_url('css/kotapintar.css') }}").render(request=request)
        return {"lang": lang_url(request, "en"), "css": css}

    body = TestClient(app, root_path="/kp").get("/kp/x?a=1").json()
    assert body["lang"] == "/kp/x?a=1&lang=en"
    assert body["css"].startswith("/kp/static/css/kotapintar.css?v=")
