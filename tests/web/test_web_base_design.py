"""The palette in kotapintar.css meets WCAG AA contrast, and the CSS keeps its accessibility promises."""

from __future__ import annotations

import re

import pytest

from kotapintar.core.http.templating import STATIC_DIR

CSS = (STATIC_DIR / "css" / "kotapintar.css").read_text(encoding="utf-8")
VARIABLES = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\b", CSS))


def luminance(hex_colour: str) -> float:
    """Relative luminance (WCAG 2.x)."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """Contrast ratio between two colours, 1..21."""
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


PAIRS = sorted(
    name[: -len("-bg")] for name in VARIABLES if name.endswith("-bg") and f"{name[:-3]}-fg" in VARIABLES
)


def test_helpers_are_right() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


def test_all_expected_colour_pairs_exist() -> None:
    expected = {
        "p1",
        "p2",
        "p3",
        "p4",
        "received",
        "verified",
        "assigned",
        "in-progress",
        "resolved",
        "closed",
        "rejected",
        "merged",
        "primary",
        "header",
        "success",
        "error",
        "warning",
        "info",
    }
    assert expected <= set(PAIRS)


@pytest.mark.parametrize("name", PAIRS)
def test_every_bg_fg_pair_meets_wcag_aa(name: str) -> None:
    ratio = contrast(VARIABLES[f"{name}-bg"], VARIABLES[f"{name}-fg"])
    assert ratio >= 4.5, f"--{name}-fg on --{name}-bg is only {ratio:.2f}:1"


def test_body_text_link_and_muted_text_meet_aa() -> None:
    for fg in ("text", "muted", "link", "error-fg"):
        for bg in ("bg", "surface"):
            assert contrast(VARIABLES[fg], VARIABLES[bg]) >= 4.5, (fg, bg)
    assert contrast(VARIABLES["header-muted"], VARIABLES["header-bg"]) >= 4.5


def test_focus_outline_is_visible_against_its_backgrounds() -> None:
    assert contrast(VARIABLES["focus"], VARIABLES["surface"]) >= 3.0
    assert contrast(VARIABLES["focus"], VARIABLES["bg"]) >= 3.0
    assert contrast(VARIABLES["focus-on-dark"], VARIABLES["header-bg"]) >= 3.0
    assert ":focus-visible { outline: 3px solid var(--focus)" in CSS
    assert "outline: none" not in CSS.replace("main:focus { outline: none; }", "")


def test_priority_colours_are_distinct_and_p3_uses_dark_text() -> None:
    backgrounds = [VARIABLES[f"p{i}-bg"] for i in range(1, 5)]
    assert len(set(backgrounds)) == 4
    assert luminance(VARIABLES["p3-fg"]) < 0.05  # amber badge: dark text


def test_reduced_motion_and_wall_layout_are_present() -> None:
    assert "@media (prefers-reduced-motion: reduce)" in CSS
    assert ".layout-wall" in CSS and "grid-template-columns: minmax(0, 1fr)" in CSS


def test_touch_targets_are_at_least_44px_on_mobile() -> None:
    for selector in (".btn", ".site-nav a", ".lang-switch a"):
        match = re.search(rf"(?m)^{re.escape(selector)} \{{([^}}]*)\}}", CSS)
        assert match, selector
        assert "min-height: 44px" in match.group(1), selector


def test_css_has_no_imports_or_fonts_from_elsewhere() -> None:
    assert "@import" not in CSS and "@font-face" not in CSS and "url(" not in CSS
