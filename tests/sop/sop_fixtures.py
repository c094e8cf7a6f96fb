"""Shared SOP test material (a small valid SOP and an engine context)."""

from __future__ import annotations

from kotapintar.sop.engine import EngineContext
from kotapintar.sop.loader import load_calendar

MINI = """\
code: jalan_rusak
kind: complaint
identitas:
  nomor: SOP/TEST/001
  judul: Uji
  unit: Dinas PUPR
  tanggal_pembuatan: 2026-01-05
  tanggal_efektif: 2026-01-06
  disahkan_oleh: {jabatan: Kepala Dinas, nama: Budi, nip: "-"}
  dasar_hukum: [UU 25/2009]
  kualifikasi_pelaksana: [ASN]
actors:
  - {id: operator, selector: command_center.operator, label: Operator}
  - {id: opd, selector: "{responsible_agency}.officer", label: OPD}
  - {id: pelapor, selector: pelapor, label: Pelapor}
steps:
  - id: mulai
    kind: start
    kegiatan: Pelapor menyampaikan laporan
    actors: [pelapor]
    next: verifikasi
  - id: verifikasi
    kegiatan: Verifikasi laporan
    actors: [operator]
    waktu: 3 hari kerja
    outputs: {lengkap: bool}
    decision: {if: "steps.verifikasi.output.lengkap == true", yes: tindak_lanjut, no: minta}
  - id: minta
    kegiatan: Minta kelengkapan
    actors: [operator]
    waktu: 2 hari kerja
    next: verifikasi
  - id: tindak_lanjut
    kegiatan: Tindak lanjut OPD
    actors: [opd]
    waktu: 5 hari kerja
    next: selesai
  - id: selesai
    kind: end
    kegiatan: Selesai
    actors: [pelapor]
"""

CALENDAR = load_calendar()
CTX = EngineContext(calendar=CALENDAR)
