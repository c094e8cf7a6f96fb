"""The monthly accountability report (PDF and CSV): the figures of `analytics.service` for one local month.

Built as tables first (every table is also a CSV), then laid out as a PDF with fpdf2: a pure-Python PDF
library, chosen because WeasyPrint needs the system's Pango/Cairo libraries, which a plain `pip install`
cannot bring (CI and small servers would have to install system packages just to print a report).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.fonts import FontFace

from kotapintar.analytics import service as analytics
from kotapintar.analytics.repository import Scope
from kotapintar.catalog import service as catalog_service
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import ValidationFailed
from kotapintar.core.i18n import translate
from kotapintar.core.settings import Settings, get_settings
from kotapintar.feedback import service as feedback_service
from kotapintar.metrics.definitions import HELP, TaskFigures, number_text, share_text
from kotapintar.metrics.ikm import ELEMENTS, IkmScore

MONTHS_ID = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip


@dataclass
class Table:
    """One table of the report: a name (its CSV file), a title, a header and rows of text."""

    name: str
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    note: str = ""  # printed under the table in the PDF (the CSV carries only the figures)

    def to_csv(self) -> str:
        """The table as CSV (UTF-8, comma-separated, header first)."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(self.header)
        writer.writerows(self.rows)
        return out.getvalue()


@dataclass
class MonthlyReport:
    """Everything the report shows."""

    title: str
    subtitle: str
    tables: list[Table]
    weekly: list[tuple[str, float | None]]
    definitions: list[tuple[str, str]]


def month_scope(month: str, tz: str, agency: str | None) -> Scope:
    """The local calendar month YYYY-MM as a UTC range."""
    try:
        if len(month) != 7 or month[4] != "-":
            raise ValueError(month)
        year, mon = (int(p) for p in month.split("-"))
        start = datetime(year, mon, 1, tzinfo=ZoneInfo(tz))
    except ValueError:
        raise ValidationFailed(f"Bulan '{month}' tidak sah; tulis seperti 2026-11.", field="month") from None
    end = datetime(year + (mon == 12), 1 if mon == 12 else mon + 1, 1, tzinfo=ZoneInfo(tz))
    return Scope(
        since=start.astimezone(ZoneInfo("UTC")), until=end.astimezone(ZoneInfo("UTC")), agency=agency
    )


def _dur(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 3600:
        return f"{number_text(seconds / 60, 1)} mnt"
    if seconds < 86400:
        return f"{number_text(seconds / 3600, 1)} jam"
    return f"{number_text(seconds / 86400, 1)} hari"


def _task_table(
    name: str, title: str, label: str, figures: list[TaskFigures], names: dict[str, str]
) -> Table:
    table = Table(
        name,
        title,
        [
            label,
            "Tugas",
            "Terlambat",
            "Tepat waktu",
            "Median terima",
            "P90 terima",
            "Median selesai",
            "P90 selesai",
        ],
    )
    for f in figures:
        if not f.tasks:
            continue
        table.rows.append(
            [
                names.get(f.key, f.key),
                str(f.tasks),
                str(f.late),
                share_text(f.on_time_share),
                _dur(f.accept.median_s),
                _dur(f.accept.p90_s),
                _dur(f.complete.median_s),
                _dur(f.complete.p90_s),
            ]
        )
    return table


# Sections a higher feature adds to the city-wide report (the smart-city indicators, issue 15), registered at
# start-up by `kotapintar.app.wiring.wire()`: analytics sits below them and cannot import them.
SECTIONS: dict[str, Callable[[Database, Actor, str, Settings], list[Table]]] = {}


def build_monthly(
    db: Database, actor: Actor, month: str, agency: str | None = None, *, settings: Settings | None = None
) -> MonthlyReport:
    """The report's tables for one month (and optionally one agency)."""
    settings = settings or get_settings()
    scope = month_scope(month, settings.timezone, agency)
    names = {a.code: a.short or a.name for a in catalog_service.agencies(db)}
    # Every grouping's counts in one pass over the month, and no backlog: the tables show the month's
    # figures only (the backlog was a pass over every open task per grouping, most of the report's time).
    figures = analytics.task_figures_by(
        db, actor, scope, ("agency", "channel", "service", "week"), settings=settings, backlog=False
    )
    tables = [
        _task_table("instansi", "Kinerja instansi", "Instansi", figures["agency"], names),
        _task_table("kanal", "Menurut kanal", "Kanal", figures["channel"], {}),
        _task_table("layanan", "Menurut layanan", "Layanan", figures["service"], {}),
    ]
    scene = Table(
        "waktu_tanggap",
        "Waktu tanggap insiden 112 (total)",
        ["Layanan", "Insiden", "Median", "P90", "Dalam target", "Target"],
    )
    for g in analytics.segment_figures(db, actor, scope, "service", settings=settings):
        d = g.segments["total"]
        scene.rows.append(
            [
                g.key,
                str(g.incidents),
                _dur(d.median_s),
                _dur(d.p90_s),
                share_text(d.within_share),
                _dur(d.target_s),
            ]
        )
    tables.append(scene)
    late = Table(
        "terlambat",
        "Tugas terlambat saat ini (terlama dulu)",
        ["Tiket", "Instansi", "Tugas", "Status", "Batas waktu"],
    )
    tz = ZoneInfo(settings.timezone)
    for r in analytics.late_tasks(db, actor, agency, limit=50):
        due = r.due_at.astimezone(tz).strftime("%d-%m-%Y %H:%M") if r.due_at else "—"
        late.rows.append(
            [r.ticket or str(r.case_id), names.get(r.agency_code, r.agency_code), r.title, r.status, due]
        )
    tables.append(late)
    acc = analytics.accuracy(db, actor, scope)
    accuracy = Table("akurasi", "Akurasi data", ["Ukuran", "Nilai"])
    accuracy.rows.append(["Kasus dikoreksi setelah triase", share_text(acc.corrected_share)])
    for kind in ("case_merged", "report_merged", "case_unmerged"):
        accuracy.rows.append([translate(f"accuracy.{kind}", "id"), str(acc.merges.get(kind, 0))])
    for source, n, m in acc.locations:
        shown = "" if m is None else f" (rata-rata {number_text(m)} m)"
        accuracy.rows.append([f"Lokasi: {translate('accuracy.source.' + source, 'id')}", f"{n}{shown}"])
    tables.append(accuracy)
    tables.extend(_ikm_tables(db, scope, names))
    if agency is None:  # city-wide figures belong in the city's report, not in one agency's
        for section in SECTIONS.values():
            tables.extend(section(db, actor, month, settings))
    weeks = figures["week"]
    year, mon = (int(p) for p in month.split("-"))
    who = names.get(agency, agency) if agency else "semua instansi"
    return MonthlyReport(
        title=f"Laporan Akuntabilitas Bulanan — {MONTHS_ID[mon - 1]} {year}",
        subtitle=f"Kabupaten Kapuas, {who}. Waktu dalam {settings.timezone} (WIB).",
        tables=tables,
        weekly=[(w.key, w.on_time_share) for w in weeks],
        definitions=[
            (key, translate(HELP[key], "id"))
            for key in ("tasks", "late", "on_time", "accept", "complete", "within", "segments", "corrected")
        ],
    )


def _ikm_tables(db: Database, scope: Scope, names: dict[str, str]) -> list[Table]:
    """IKM (PermenPANRB 14/2017) per agency and overall for the month, from the surveys answered in it: value,
    grade, sample against the regulation's minimum, and NRR per element; the 0,111 weighting note below."""
    scores = feedback_service.ikm_table(
        db, "agency", since=scope.since, until=scope.until, agency=scope.agency
    )
    overall = feedback_service.ikm_table(
        db, "all", since=scope.since, until=scope.until, agency=scope.agency
    ).get("all")
    rows: list[tuple[str, IkmScore]] = [(names.get(k, k), s) for k, s in sorted(scores.items())]
    if overall is not None and scope.agency is None:
        rows.append(("Semua instansi", overall))
    ikm = Table(
        "ikm",
        "Indeks Kepuasan Masyarakat (IKM)",
        ["Unit pelayanan", "IKM", "Mutu", "Responden", "Sampel minimum", "Catatan"],
    )
    nrr = Table("ikm_nrr", "IKM: NRR per unsur", ["Unit pelayanan"] + [c.upper() for c in ELEMENTS])
    for name, s in rows:
        value = "—" if s.rounded is None else number_text(float(s.rounded), 2)
        warning = (
            f"sampel kurang: perlu {s.required} dari {s.population} kasus ditutup"
            if s.sample_too_small
            else ""
        )
        ikm.rows.append([name, value, s.grade or "—", str(s.respondents), str(s.required), warning])
        nrr.rows.append([name] + [number_text(e.nrr, 3) for e in s.elements])
    nrr.note = "Unsur: " + "; ".join(f"{c.upper()} {translate('ikm.element.' + c, 'id')}" for c in ELEMENTS)
    if overall is not None and overall.ikm_regulation_weight is not None:
        ikm.note = translate("ikm.note", "id", rounded=number_text(overall.ikm_regulation_weight, 2))
    else:
        ikm.note = translate("ikm.note_short", "id")
    return [ikm, nrr]


_LATIN1 = str.maketrans(
    {
        "—": "-",
        "–": "-",
        "≤": "<=",
        "≥": ">=",
        "×": "x",
        "÷": "/",
        "→": "->",
        "’": "'",
        "…": "...",
        "Σ": "Jumlah ",
    }
)


def _t(text: str) -> str:
    """The PDF's core fonts are Latin-1: map the few other characters the report uses."""
    return text.translate(_LATIN1).encode("latin-1", "replace").decode("latin-1")


def to_pdf(report: MonthlyReport) -> bytes:
    """The report as PDF: title, weekly on-time chart, every table, the definitions."""
    pdf = FPDF(orientation="L", format="A4")
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _t(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    pdf.cell(0, 6, _t(report.subtitle), new_x="LMARGIN", new_y="NEXT")
    _weekly_chart(pdf, report.weekly)
    for table in report.tables:
        _table(pdf, table)
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Definisi", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    for key, text in report.definitions:
        pdf.multi_cell(0, 5, _t(f"{key}: {text}"), new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def _weekly_chart(pdf: FPDF, weekly: list[tuple[str, float | None]]) -> None:
    if not weekly:
        return
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, "Tepat waktu per minggu", new_x="LMARGIN", new_y="NEXT")
    x0, y0, height, width = pdf.get_x(), pdf.get_y() + 2, 35.0, 18.0
    pdf.set_font("Helvetica", "", 8)
    for i, (week, share) in enumerate(weekly):
        h = height * (share or 0.0)
        x = x0 + i * (width + 4)
        pdf.set_fill_color(43, 108, 176)
        pdf.rect(x, y0 + height - h, width, h, style="F")
        pdf.set_xy(x, y0 + height + 1)
        pdf.cell(width, 4, _t(share_text(share)), align="C")
        pdf.set_xy(x, y0 + height + 5)
        pdf.cell(width, 4, week[5:], align="C")
    pdf.set_xy(x0, y0 + height + 12)
    pdf.set_fill_color(255, 255, 255)  # the bars' blue must not fill the tables that follow


def _table(pdf: FPDF, table: Table) -> None:
    pdf.set_font("Helvetica", "B", 12)
    pdf.cell(0, 8, _t(table.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    if not table.rows:
        pdf.cell(0, 6, "Belum ada data pada periode ini.", new_x="LMARGIN", new_y="NEXT")
        if table.note:
            pdf.set_font("Helvetica", "I", 8)
            pdf.multi_cell(0, 4, _t(table.note), new_x="LMARGIN", new_y="NEXT")
        return
    heading = FontFace(emphasis="BOLD", fill_color=(225, 232, 242))
    with pdf.table(text_align="LEFT", line_height=5, headings_style=heading) as grid:
        header = grid.row()
        for cell in table.header:
            header.cell(_t(cell))
        for row in table.rows:
            line = grid.row()
            for cell in row:
                line.cell(_t(cell))
    if table.note:
        pdf.set_font("Helvetica", "I", 8)
        pdf.multi_cell(0, 4, _t(table.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def to_csv(report: MonthlyReport) -> dict[str, str]:
    """Every table as CSV, by file name."""
    return {f"{t.name}.csv": t.to_csv() for t in report.tables}
