"""SOP files: every shipped SOP is valid; malformed files give precise `file:line: step 'x'` errors, all at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kotapintar.sop.cli import app
from kotapintar.sop.conditions import SERVICE_CODES
from kotapintar.sop.loader import SHIPPED_SOP_DIR, SopLoadError, load_library, load_sop_text, validate_text
from tests.sop.sop_fixtures import MINI


def errors_of(text: str) -> list[str]:
    spec, errors = validate_text(text, "uji.yaml")
    assert spec is None
    return [str(e) for e in errors]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_minimal_sop_is_valid() -> None:
    spec = load_sop_text(MINI)
    assert spec.start_id == "mulai"
    assert str(spec.step("tindak_lanjut").waktu) == "5 hari kerja"


def test_every_service_code_has_a_valid_shipped_sop() -> None:
    library = load_library()
    assert set(library) == SERVICE_CODES
    for code, spec in library.items():
        assert (SHIPPED_SOP_DIR / f"{code}.yaml").is_file()
        assert spec.identitas.dasar_hukum, code


def test_cycle_with_no_exit_is_reported_on_the_step() -> None:
    bad = (
        MINI.replace("    next: selesai\n", "    next: minta\n")
        .replace(
            'decision: {if: "steps.verifikasi.output.lengkap == true", yes: tindak_lanjut, no: minta}',
            "next: tindak_lanjut",
        )
        .replace("    outputs: {lengkap: bool}\n", "")
    )
    errs = errors_of(bad)
    cycle = [e for e in errs if "siklus tanpa jalan keluar" in e]
    assert cycle, errs
    assert any(e.startswith(f"uji.yaml:{line_of(bad, '- id: verifikasi')}: step 'verifikasi'") for e in cycle)
    assert any("verifikasi → tindak_lanjut → minta → verifikasi" in e for e in cycle)


def test_step_with_no_actor() -> None:
    bad = MINI.replace(
        "    kegiatan: Minta kelengkapan\n    actors: [operator]\n",
        "    kegiatan: Minta kelengkapan\n    actors: []\n",
    )
    errs = errors_of(bad)
    assert errs == [
        f"uji.yaml:{line_of(bad, 'actors: []')}: step 'minta': langkah tanpa pelaksana; isi 'actors' "
        "dengan minimal satu id dari bagian 'actors' (operator, opd, pelapor)"
    ]


def test_unknown_agency() -> None:
    bad = MINI.replace("command_center.operator", "dinas_antah.operator")
    errs = errors_of(bad)
    assert len(errs) == 1
    assert errs[0].startswith(
        f"uji.yaml:{line_of(bad, 'dinas_antah')}: actors.0.selector: instansi 'dinas_antah' tidak dikenal"
    )


def test_guard_on_unknown_field() -> None:
    bad = MINI.replace("steps.verifikasi.output.lengkap == true", "keparahan >= 3")
    errs = errors_of(bad)
    assert len(errs) == 1
    assert errs[0].startswith(
        f"uji.yaml:{line_of(bad, 'keparahan')}: step 'verifikasi': kondisi memakai kolom 'keparahan' yang tidak dikenal"
    )
    assert "severity" in errs[0]


def test_guard_on_undeclared_step_output() -> None:
    errs = errors_of(MINI.replace("output.lengkap == true", "output.valid == true"))
    assert "langkah 'verifikasi' tidak mendeklarasikan output 'valid'" in errs[0]


def test_guard_with_wrong_value_type() -> None:
    errs = errors_of(
        MINI.replace("steps.verifikasi.output.lengkap == true", "service in [banjir, gempa_bumi]")
    )
    assert "nilai 'gempa_bumi' tidak cocok dengan 'service'" in errs[0]


def test_bad_duration() -> None:
    bad = MINI.replace("waktu: 2 hari kerja", "waktu: 2 minggu")
    errs = errors_of(bad)
    assert len(errs) == 1
    assert errs[0].startswith(
        f"uji.yaml:{line_of(bad, '2 minggu')}: step 'minta': satuan 'minggu' pada durasi '2 minggu' tidak dikenal"
    )


def test_all_errors_are_reported_at_once() -> None:
    bad = (
        MINI.replace("waktu: 2 hari kerja", "waktu: dua hari")
        .replace("command_center.operator", "dinas_antah.operator")
        .replace("steps.verifikasi.output.lengkap == true", "keparahan >= 3")
        .replace("    next: verifikasi\n", "    next: tamat\n")
        .replace(
            "    kegiatan: Tindak lanjut OPD\n", "    kegiatan: Tindak lanjut OPD\n    kegiatan_x: typo\n"
        )
    )
    errs = errors_of(bad)
    text = "\n".join(errs)
    for expected in (
        "durasi 'dua hari'",
        "dinas_antah",
        "keparahan",
        "'tamat' tidak ada",
        "kunci 'kegiatan_x' tidak dikenal",
    ):
        assert expected in text, text
    assert errs == sorted(errs, key=lambda e: int(e.split(":")[1]))


def test_load_raises_with_every_error() -> None:
    with pytest.raises(SopLoadError) as info:
        load_sop_text(MINI.replace("    waktu: 5 hari kerja\n", ""), "x.yaml")
    assert info.value.code == "sop_invalid"
    assert "step 'tindak_lanjut': mutu baku 'waktu' belum diisi" in str(info.value)


def test_cli_validate_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(SHIPPED_SOP_DIR)])
    assert ok.exit_code == 0, ok.output
    bad = tmp_path / "rusak.yaml"
    bad.write_text(MINI.replace("waktu: 2 hari kerja", "waktu: 2 minggu"), encoding="utf-8")
    result = runner.invoke(app, ["validate", str(bad), str(SHIPPED_SOP_DIR / "banjir.yaml")])
    assert result.exit_code == 1
    assert f"{bad}:" in result.output and "step 'minta'" in result.output
