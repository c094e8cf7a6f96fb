"""Server-side SVG charts: readable without JavaScript, printable, and the same in the monthly report.

Pure string building (no database, no browser). Every text is escaped; every chart has a <title> and a
<desc> for screen readers, and the numbers are also in a table next to it on the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import h3

WIDTH, HEIGHT, PAD = 640, 240, 36


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    value_text: Sequence[str] | None = None,
    target: float | None = None,
    target_text: str = "",
) -> str:
    """Vertical bars with their value on top; an optional dashed target line (e.g. the 15-minute standard)."""
    numbers = [v or 0.0 for v in values]
    top = max([*numbers, target or 0.0, 1e-9]) * 1.15
    n = max(len(labels), 1)
    slot = (WIDTH - 2 * PAD) / n
    bar = max(slot * 0.7, 2.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" class="chart">',
        f"<title>{escape(title)}</title><desc>{escape(title)}</desc>",
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#555"/>',
    ]
    plot_h = HEIGHT - 2 * PAD
    for i, (label, value) in enumerate(zip(labels, numbers, strict=False)):
        h = plot_h * value / top
        x = PAD + i * slot + (slot - bar) / 2
        y = HEIGHT - PAD - h
        shown = value_text[i] if value_text else f"{value:g}"
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="#2b6cb0">'
            f"<title>{escape(label)}: {escape(shown)}</title></rect>"
        )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{y - 4:.1f}" font-size="11" text-anchor="middle">{escape(shown)}</text>'
        )
        if n <= 16 or i % max(1, n // 12) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - PAD + 14}" font-size="10" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    if target is not None:
        y = HEIGHT - PAD - plot_h * target / top
        parts.append(
            f'<line x1="{PAD}" y1="{y:.1f}" x2="{WIDTH - PAD}" y2="{y:.1f}" stroke="#c53030" '
            f'stroke-dasharray="6 4"/><text x="{WIDTH - PAD}" y="{y - 4:.1f}" font-size="11" '
            f'text-anchor="end" fill="#c53030">{escape(target_text)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def hex_map(cells: Sequence[tuple[str, int]], *, title: str) -> str:
    """H3 cells shaded by their count, projected equirectangularly into the box of all cells."""
    if not cells:
        return ""
    shapes = [(cell, n, h3.cell_to_boundary(cell)) for cell, n in cells]
    lats = [lat for _, _, b in shapes for lat, _ in b]
    lons = [lon for _, _, b in shapes for _, lon in b]
    min_lat, max_lat, min_lon, max_lon = min(lats), max(lats), min(lons), max(lons)
    span = max(max_lat - min_lat, max_lon - min_lon, 1e-6)
    size = 400.0
    most = max(n for _, n, _ in shapes)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size:.0f} {size:.0f}" role="img" class="chart">',
        f"<title>{escape(title)}</title><desc>{escape(title)}</desc>",
    ]
    for cell, n, boundary in shapes:
        points = " ".join(
            f"{(lon - min_lon) / span * (size - 20) + 10:.1f},{(max_lat - lat) / span * (size - 20) + 10:.1f}"
            for lat, lon in boundary
        )
        alpha = 0.15 + 0.85 * n / most
        parts.append(
            f'<polygon points="{points}" fill="#c53030" fill-opacity="{alpha:.2f}" stroke="#742a2a" '
            f'stroke-width="0.5" data-cell="{escape(cell)}"><title>{escape(cell)}: {n}</title></polygon>'
        )
    parts.append("</svg>")
    return "".join(parts)
