"""Draw an SOP the way a pemda prints it: PermenPANRB 35/2012 identity page and flowchart table.

The flowchart is an SVG table (No, Kegiatan, one Pelaksana column per actor, Mutu Baku: Kelengkapan, Waktu,
Output, Keterangan) with the five symbols placed in the actor columns: terminator (start/end), process,
decision, arrow, and off-page connector where the flow continues on another page.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape

from kotapintar.core.errors import DomainError
from kotapintar.sop.spec import SopSpec, Step, StepKind

FONT = 10
LINE = 12
SYM_W, SYM_H = 60, 26
COLS_FIXED = {"no": 28, "kegiatan": 210, "kelengkapan": 140, "waktu": 66, "output": 120, "keterangan": 150}
ACTOR_W = 92
HEAD_H = 46
MARGIN = 34  # room above/below the table for off-page connectors


@dataclass(frozen=True)
class _Layout:
    xs: dict[str, tuple[float, float]]  # column name -> (left, width)
    width: float


def _layout(spec: SopSpec) -> _Layout:
    xs: dict[str, tuple[float, float]] = {}
    x = 0.0
    for name in ("no", "kegiatan"):
        xs[name] = (x, COLS_FIXED[name])
        x += COLS_FIXED[name]
    for actor in spec.actors:
        xs["actor:" + actor.id] = (x, ACTOR_W)
        x += ACTOR_W
    for name in ("kelengkapan", "waktu", "output", "keterangan"):
        xs[name] = (x, COLS_FIXED[name])
        x += COLS_FIXED[name]
    return _Layout(xs, x)


def _wrap(text: str, width: float) -> list[str]:
    chars = max(8, int((width - 8) / (FONT * 0.55)))
    out: list[str] = []
    for para in text.split("\n"):
        out.extend(textwrap.wrap(para, chars) or [""])
    return out


def _cell_texts(step: Step) -> dict[str, str]:
    return {
        "kegiatan": step.kegiatan,
        "kelengkapan": "; ".join(step.kelengkapan + [f"bukti: {b}" for b in step.bukti]),
        "waktu": str(step.waktu) if step.waktu else "",
        "output": step.output,
        "keterangan": step.keterangan,
    }


def _row_height(step: Step, lay: _Layout) -> float:
    lines = max(len(_wrap(t, lay.xs[k][1])) for k, t in _cell_texts(step).items())
    return max(64.0, lines * LINE + 14.0)


def _symbol(kind: str, cx: float, cy: float) -> str:
    if kind == "terminator":
        return (
            f'<rect x="{cx - SYM_W / 2}" y="{cy - SYM_H / 2}" width="{SYM_W}" height="{SYM_H}" rx="13" '
            'class="sym"/>'
        )
    if kind == "decision":
        w, h = 46, 36
        return f'<polygon points="{cx},{cy - h / 2} {cx + w / 2},{cy} {cx},{cy + h / 2} {cx - w / 2},{cy}" class="sym"/>'
    if kind == "connector":
        w, h = 22, 22
        return (
            f'<polygon points="{cx - w / 2},{cy - h / 2} {cx + w / 2},{cy - h / 2} {cx + w / 2},{cy + h / 4} '
            f'{cx},{cy + h / 2} {cx - w / 2},{cy + h / 4}" class="sym"/>'
        )
    return f'<rect x="{cx - SYM_W / 2}" y="{cy - SYM_H / 2}" width="{SYM_W}" height="{SYM_H}" class="sym"/>'


def _kind(step: Step) -> str:
    if step.kind in (StepKind.START, StepKind.END):
        return "terminator"
    if step.kind is StepKind.DECISION:
        return "decision"
    return "process"


def _text(x: float, y: float, lines: list[str], anchor: str = "start", bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    spans = "".join(
        f'<tspan x="{x}" dy="{0 if i == 0 else LINE}">{escape(line)}</tspan>' for i, line in enumerate(lines)
    )
    return f'<text x="{x}" y="{y}" text-anchor="{anchor}"{weight}>{spans}</text>'


def flowchart_pages(spec: SopSpec, rows_per_page: int | None = None) -> list[str]:
    """The flowchart table as SVG pages; with rows_per_page, flow crossing pages uses off-page connectors."""
    lay = _layout(spec)
    steps = spec.steps
    per = rows_per_page or len(steps)
    pages = [list(range(i, min(i + per, len(steps)))) for i in range(0, len(steps), per)]
    page_of = {steps[i].id: p for p, rows in enumerate(pages) for i in rows}
    index = {s.id: i for i, s in enumerate(steps)}
    heights = [_row_height(s, lay) for s in steps]
    connectors: dict[tuple[str, str], int] = {}
    for s in steps:
        for t in s.next_ids:
            if t in page_of and page_of[t] != page_of[s.id]:
                connectors.setdefault((s.id, t), len(connectors) + 1)
    out: list[str] = []
    for p, rows in enumerate(pages):
        y0: float = MARGIN + HEAD_H
        centers: dict[str, float] = {}
        tops: dict[str, tuple[float, float]] = {}
        y = y0
        for i in rows:
            centers[steps[i].id] = y + heights[i] / 2
            tops[steps[i].id] = (y, heights[i])
            y += heights[i]
        total_h = y + MARGIN
        parts: list[str] = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{lay.width + 2}" height="{total_h}" '
            f'viewBox="-1 0 {lay.width + 2} {total_h}" font-family="Arial, Helvetica, sans-serif" font-size="{FONT}">',
            "<defs><marker id='arr' viewBox='0 0 10 10' refX='9' refY='5' markerWidth='7' markerHeight='7' "
            "orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='#000'/></marker></defs>",
            "<style>.sym{fill:#fff;stroke:#000;stroke-width:1.2}.grid{stroke:#000;stroke-width:.8;fill:none}"
            ".flow{stroke:#000;stroke-width:1.1;fill:none;marker-end:url(#arr)}.lbl{font-size:9px}</style>",
        ]
        # header: two rows
        hy = MARGIN
        actor_left = lay.xs["actor:" + spec.actors[0].id][0]
        actor_right = sum(lay.xs["actor:" + spec.actors[-1].id])
        mutu_left = lay.xs["kelengkapan"][0]
        mutu_right = sum(lay.xs["output"])
        parts.append(
            f'<rect x="0" y="{hy}" width="{lay.width}" height="{total_h - MARGIN - hy}" class="grid"/>'
        )
        for name, label in (("no", "No"), ("kegiatan", "Kegiatan"), ("keterangan", "Keterangan")):
            left, w = lay.xs[name]
            parts.append(_text(left + w / 2, hy + HEAD_H / 2 + 4, [label], "middle", True))
        parts.append(_text((actor_left + actor_right) / 2, hy + 15, ["Pelaksana"], "middle", True))
        parts.append(_text((mutu_left + mutu_right) / 2, hy + 15, ["Mutu Baku"], "middle", True))
        parts.append(
            f'<line x1="{actor_left}" y1="{hy + HEAD_H / 2 - 3}" x2="{mutu_right}" y2="{hy + HEAD_H / 2 - 3}" class="grid"/>'
        )
        for actor in spec.actors:
            left, w = lay.xs["actor:" + actor.id]
            parts.append(
                _text(left + w / 2, hy + HEAD_H / 2 + 9, _wrap(actor.label, w)[:2], "middle", True).replace(
                    f'font-size="{FONT}"', ""
                )
            )
        for name, label in (("kelengkapan", "Kelengkapan"), ("waktu", "Waktu"), ("output", "Output")):
            left, w = lay.xs[name]
            parts.append(_text(left + w / 2, hy + HEAD_H - 8, [label], "middle", True))
        for name, (left, _) in lay.xs.items():
            if left == 0:
                continue
            top = (
                hy + HEAD_H / 2 - 3
                if (name.startswith("actor:") and left != actor_left) or name in ("waktu", "output")
                else hy
            )
            parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{total_h - MARGIN}" class="grid"/>')
        parts.append(f'<line x1="0" y1="{y0}" x2="{lay.width}" y2="{y0}" class="grid"/>')
        # rows
        for i in rows:
            step = steps[i]
            top, h = tops[step.id]
            parts.append(f'<line x1="0" y1="{top + h}" x2="{lay.width}" y2="{top + h}" class="grid"/>')
            parts.append(_text(lay.xs["no"][0] + lay.xs["no"][1] / 2, top + 14, [str(i + 1)], "middle"))
            for key, text in _cell_texts(step).items():
                left, w = lay.xs[key]
                parts.append(_text(left + 4, top + 14, _wrap(text, w)))
            for actor_id in step.actors:
                left, w = lay.xs["actor:" + actor_id]
                parts.append(_symbol(_kind(step), left + w / 2, centers[step.id]))
        # arrows
        for i in rows:
            step = steps[i]
            for n, target in enumerate(step.next_ids):
                if target not in index:
                    continue
                label = ("Ya" if n == 0 else "Tidak") if step.decision is not None else ""
                sx = _cx(lay, step)
                sy = centers[step.id]
                if page_of[target] != p:
                    num = connectors[(step.id, target)]
                    cy = total_h - MARGIN / 2
                    parts.append(
                        _arrow([(sx, sy + SYM_H / 2), (sx, cy - 11)], label, sx + 3, sy + SYM_H / 2 + 10)
                    )
                    parts.append(_symbol("connector", sx, cy))
                    parts.append(_text(sx, cy + 3, [chr(64 + num) if num <= 26 else str(num)], "middle"))
                    continue
                for tx in _cxs(lay, spec.step(target)):
                    parts.append(
                        _route(
                            step, sx, sy, spec.step(target), tx, centers[target], index, lay, label, centers
                        )
                    )
        # incoming off-page connectors
        for (src, target), num in connectors.items():
            if page_of[target] != p:
                continue
            tx = _cx(lay, spec.step(target))
            cy = MARGIN / 2
            parts.append(_symbol("connector", tx, cy))
            parts.append(_text(tx, cy + 3, [chr(64 + num) if num <= 26 else str(num)], "middle"))
            parts.append(_arrow([(tx, cy + 11), (tx, centers[target] - SYM_H / 2)], "", 0, 0))
            del src
        parts.append("</svg>")
        out.append("".join(parts))
    return out


def _cx(lay: _Layout, step: Step) -> float:
    left, w = lay.xs["actor:" + step.actors[0]] if step.actors else lay.xs["kegiatan"]
    return left + w / 2


def _cxs(lay: _Layout, step: Step) -> list[float]:
    return [lay.xs["actor:" + a][0] + ACTOR_W / 2 for a in step.actors] or [_cx(lay, step)]


def _arrow(points: list[tuple[float, float]], label: str, lx: float, ly: float) -> str:
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    svg = f'<polyline points="{pts}" class="flow"/>'
    if label:
        svg += f'<text x="{lx}" y="{ly}" class="lbl">{escape(label)}</text>'
    return svg


def _route(
    src: Step,
    sx: float,
    sy: float,
    dst: Step,
    tx: float,
    ty: float,
    index: dict[str, int],
    lay: _Layout,
    label: str,
    centers: dict[str, float],
) -> str:
    half = SYM_H / 2
    if index[dst.id] > index[src.id]:
        blocked = (
            any(
                index[src.id] < index[sid] < index[dst.id] and abs(c - ty) > 1 and sid != dst.id
                for sid, c in centers.items()
            )
            and abs(sx - tx) < 1
        )
        if blocked:
            off = sx + ACTOR_W / 2 - 6
            pts = [(sx + SYM_W / 2, sy), (off, sy), (off, ty), (tx + SYM_W / 2, ty)]
            return _arrow(pts, label, sx + SYM_W / 2 + 2, sy - 3)
        mid = sy + half + 12
        pts = [(sx, sy + half), (sx, mid), (tx, mid), (tx, ty - half)]
        return _arrow(pts, label, sx + 3, sy + half + 10)
    left = min(sx, tx) - ACTOR_W / 2 + 5
    pts = [(sx - SYM_W / 2, sy), (left, sy), (left, ty), (tx - SYM_W / 2, ty)]
    return _arrow(pts, label, sx - SYM_W / 2 - 28, sy - 3)


def render_svg(spec: SopSpec) -> str:
    """The whole flowchart table as one SVG."""
    return flowchart_pages(spec)[0]


def _list(items: list[str]) -> str:
    if not items:
        return "-"
    return "<ol>" + "".join(f"<li>{escape(i)}</li>" for i in items) + "</ol>"


def render_html(spec: SopSpec, rows_per_page: int = 9) -> str:
    """The printable SOP: identity page then the flowchart pages (A4 landscape)."""
    ident = spec.identitas
    approval = ident.disahkan_oleh
    pages = flowchart_pages(spec, rows_per_page)
    svg_pages = "".join(f'<section class="page flow">{svg}</section>' for svg in pages)
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>SOP {escape(ident.judul)}</title>
<style>
@page {{ size: A4 landscape; margin: 12mm; }}
body {{ font-family: Arial, Helvetica, sans-serif; font-size: 10pt; }}
table.id {{ border-collapse: collapse; width: 100%; }}
table.id td, table.id th {{ border: 1px solid #000; padding: 4px 6px; vertical-align: top; }}
table.id th {{ text-align: left; width: 22%; background: #f2f2f2; }}
.page {{ page-break-after: always; }}
.flow svg {{ width: 100%; height: auto; }}
ol {{ margin: 0; padding-left: 18px; }}
</style></head><body>
<section class="page">
<table class="id">
<tr><td rowspan="6" style="width:38%;text-align:center;vertical-align:middle"><b>PEMERINTAH KABUPATEN KAPUAS</b><br>
<b>{escape(ident.unit)}</b></td><th>Nomor SOP</th><td>{escape(ident.nomor)}</td></tr>
<tr><th>Tanggal Pembuatan</th><td>{ident.tanggal_pembuatan:%d-%m-%Y}</td></tr>
<tr><th>Tanggal Revisi</th><td>{ident.tanggal_revisi.strftime("%d-%m-%Y") if ident.tanggal_revisi else "-"}</td></tr>
<tr><th>Tanggal Efektif</th><td>{ident.tanggal_efektif:%d-%m-%Y}</td></tr>
<tr><th>Disahkan oleh</th><td>{escape(approval.jabatan)}<br><br><br>{escape(approval.nama)}<br>NIP. {escape(approval.nip)}</td></tr>
<tr><th>Nama SOP</th><td><b>{escape(ident.judul.upper())}</b></td></tr>
</table>
<table class="id" style="margin-top:6px">
<tr><th style="width:50%">Dasar Hukum</th><th>Kualifikasi Pelaksana</th></tr>
<tr><td>{_list(ident.dasar_hukum)}</td><td>{_list(ident.kualifikasi_pelaksana)}</td></tr>
<tr><th>Keterkaitan</th><th>Peralatan/Perlengkapan</th></tr>
<tr><td>{_list(ident.keterkaitan)}</td><td>{_list(ident.peralatan)}</td></tr>
<tr><th>Peringatan</th><th>Pencatatan dan Pendataan</th></tr>
<tr><td>{_list(ident.peringatan)}</td><td>{_list(ident.pencatatan)}</td></tr>
</table>
</section>
{svg_pages}
</body></html>"""


def render_pdf(spec: SopSpec) -> bytes:
    """The printable SOP as PDF (needs WeasyPrint and its Pango libraries)."""
    try:
        import weasyprint  # type: ignore[import-untyped,unused-ignore]
    except (ImportError, OSError) as exc:  # OSError: the Pango libraries are missing
        raise DomainError(
            "PDF butuh WeasyPrint (pip install weasyprint) dan pustaka Pango; gunakan --format html lalu cetak ke PDF.",
            code="pdf_unavailable",
        ) from exc
    result: bytes = weasyprint.HTML(string=render_html(spec)).write_pdf()
    return result
