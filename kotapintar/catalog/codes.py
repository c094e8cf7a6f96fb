"""The codes other parts rely on as a contract: the 22 service codes and the shipped agency codes.

The catalogue itself (names, priorities, responsible agencies) is data in kotapintar/catalog/data/;
these tuples exist so pure code (SOP validation, run cards, sensor rules, the classifier) can check a
code without a database. A test keeps them equal to the shipped data.
"""

from __future__ import annotations

SERVICE_CODES: tuple[str, ...] = (
    "kebakaran", "karhutla", "banjir", "kecelakaan", "darurat_medis", "pencarian_pertolongan",
    "kriminalitas", "pohon_tumbang", "jalan_rusak", "jembatan_rusak", "lampu_jalan", "drainase",
    "sampah", "air_bersih", "listrik_padam", "ketertiban_umum", "lalu_lintas", "kesehatan_lingkungan",
    "adminduk", "bansos", "pendidikan", "lainnya",
)  # fmt: skip

AGENCY_CODES: tuple[str, ...] = (
    "diskominfo", "setda", "bpbd", "damkar", "dinkes", "psc119", "pupr", "dishub", "dlh", "satpolpp",
    "disdukcapil", "dinsos", "disdik", "polres", "pln", "pdam", "basarnas",
)  # fmt: skip
