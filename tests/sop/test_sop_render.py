"""Rendering the PermenPANRB table/flowchart, and versions: content hash and diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kotapintar.sop.cli import app
from kotapintar.sop.loader import load_shipped, load_sop_text
from kotapintar.sop.render import flowchart_pages, render_html, render_svg
from kotapintar.sop.versioning import DirectoryVersionSource, content_hash, diff
from tests.sop.sop_fixtures import MINI


def test_html_has_identity_and_the_permenpanrb_columns() -> None:
    html = render_html(load_shipped("kebakaran"))
    for text in (
        "Nomor SOP",
        "Disahkan oleh",
        "Dasar Hukum",
        "Kualifikasi Pelaksana",
        "Peralatan/Perlengkapan",
        "Pencatatan dan Pendataan",
        "Kegiatan",
        "Pelaksana",
        "Mutu Baku",
        "Kelengkapan",
        "Waktu",
        "Output",
        "Keterangan",
        "114 Tahun 2018",
        "Regu Pemadam",
        "15 menit",
    ):
        assert text in html, text


def test_svg_uses_the_symbols_in_actor_columns() -> None:
    svg = render_svg(load_shipped("jalan_rusak"))
    assert svg.count('rx="13"') == 2  # terminators: start and end
    assert svg.count("<polygon") == 2  # decisions: verifikasi, cek_hasil
    assert "Ya" in svg and "Tidak" in svg and "marker-end" in svg


def test_pages_use_off_page_connectors() -> None:
    pages = flowchart_pages(load_shipped("kebakaran"), rows_per_page=4)
    assert len(pages) == 3
    # every page break crossed by the flow has a connector at the bottom of one page and the top of the next
    assert all("<polygon" in p for p in pages)


def test_pdf_when_weasyprint_is_available(tmp_path: Path) -> None:
    pytest.importorskip("weasyprint", reason="WeasyPrint not installed")
    out = tmp_path / "banjir.pdf"
    result = CliRunner().invoke(app, ["render", "banjir", "--format", "pdf", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"%PDF")


def test_content_hash_and_diff(tmp_path: Path) -> None:
    a = load_sop_text(MINI)
    b = load_sop_text(
        MINI.replace("waktu: 5 hari kerja", "waktu: 3 hari kerja").replace("Minta kelengkapan", "Minta data")
    )
    assert content_hash(a) == content_hash(load_sop_text(MINI)) != content_hash(b)
    lines = diff(a, b)
    assert "langkah 'tindak_lanjut': waktu: '5 hari kerja' → '3 hari kerja'" in lines
    assert "langkah 'minta': kegiatan: 'Minta kelengkapan' → 'Minta data'" in lines
    (tmp_path / "jalan_rusak").mkdir()
    (tmp_path / "jalan_rusak" / "v1.yaml").write_text(MINI, encoding="utf-8")
    (tmp_path / "jalan_rusak" / "v2.yaml").write_text(
        MINI.replace("waktu: 5 hari kerja", "waktu: 3 hari kerja"), encoding="utf-8"
    )
    assert DirectoryVersionSource(tmp_path).versions("jalan_rusak") == ["1", "2"]
    result = CliRunner().invoke(app, ["diff", "jalan_rusak", "v1", "v2", "--versions-dir", str(tmp_path)])
    assert result.exit_code == 0 and "'5 hari kerja' → '3 hari kerja'" in result.output
