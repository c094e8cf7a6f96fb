"""Triage quality on the real-style set (issue 17) and full triage against a large case table.

    .venv/bin/python benchmarks/triage.py --quality-only  # issue 17: targets, old model, today's model
    .venv/bin/python benchmarks/triage.py            # quality, then --quick: 100,000 cases, 1,000 reports
    .venv/bin/python benchmarks/triage.py --full     # the issue's numbers: 1,000,000 cases, 10,000 reports

Quality: the whole triage decision (service, priority, review) of the shipped model on
kotapintar/data/triage/realstyle_eval.yaml, printed beside the issue's targets and beside the figures of
the model shipped before issue 17 (benchmarks/triage_baseline.json, written by
benchmarks/triage_old_model.py, which runs that commit's package in a child process on the same sets).

SQLite by default; PostgreSQL when KOTAPINTAR_TEST_POSTGRES_URL is set (a scratch database is created and
dropped). Setup bulk-inserts synthetic cases with executemany (benchmark setup, not the service path).
Each report goes through `assess_report`, the one place intake asks triage; in the same run the classifier
alone is timed on the same texts as the baseline, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import h3
from sklearn.metrics import f1_score
from sqlalchemy import text
from sqlalchemy.engine import make_url

from kotapintar.app.reference import load_demo_city
from kotapintar.cases.schemas import ReportIn
from kotapintar.catalog.repository import ServiceRepository
from kotapintar.core.access.actors import system_actor
from kotapintar.core.db.database import Database
from kotapintar.core.db.migrate import upgrade
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.intake.assess import assess_report
from kotapintar.triage.classify.dataset import data_dir, load_examples, load_external
from kotapintar.triage.classify.evaluate import shipped_decider
from kotapintar.triage.classify.model import Classifier
from kotapintar.triage.classify.realstyle import evaluate_decider, load_labelled
from kotapintar.triage.places import import_places_file

BASELINE_FILE = Path(__file__).with_name("triage_baseline.json")
# (key, label, target, higher is better, format)
TARGETS: list[tuple[str, str, float, bool, str]] = [
    ("macro_f1", "macro-F1", 0.90, True, "{:.3f}"),
    ("p1_recall", "recall P1", 0.95, True, "{:.3f}"),
    ("false_p1_rate", "P1 palsu (teks tidak mendesak)", 0.05, False, "{:.1%}"),
    ("review_share", "porsi ke tinjauan", 0.30, False, "{:.1%}"),
    ("forwarded_accuracy", "benar di antara yang diteruskan", 0.93, True, "{:.1%}"),
    ("p50_ms", "latensi p50 (ms/teks)", 10.0, False, "{:.2f}"),
]

# Settled places of the demo city (lon, lat) where reports and cases cluster; spread ~2 km around each.
CENTRES = [(114.382, -3.004), (114.452, -2.985), (114.465, -3.085), (114.295, -2.96), (114.49, -2.9)]
STATUSES = ["received", "verified", "assigned", "in_progress", "resolved", "closed", "closed", "closed"]
PLACE_TEXTS = [
    "dpn pasar kapuas",
    "ds. selat hulu",
    "kec kapuas hilir",
    "jln pemuda",
    "dekat sdn 2 selat",
    "",
]


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def jitter(rng: random.Random) -> tuple[float, float]:
    """A point near one of the settled centres."""
    lon, lat = rng.choice(CENTRES)
    return lon + rng.uniform(-0.02, 0.02), lat + rng.uniform(-0.02, 0.02)


def fill_cases(db: Database, n: int, services: list[str], texts: list[str], seed: int = 7) -> float:
    """Bulk-insert `n` synthetic cases spread over two years; returns seconds taken."""
    rng = random.Random(seed)
    now = utcnow()
    start = time.perf_counter()
    batch: list[dict[str, object]] = []
    sql = text(
        "INSERT INTO cases (service_code, priority, status, title, description, lon, lat, h3_cell, "
        "channel, confidential, created_at, updated_at) VALUES (:service_code, :priority, :status, :title, "
        ":description, :lon, :lat, :h3_cell, :channel, :confidential, :created_at, :updated_at)"
    )
    stamp_naive = db.is_sqlite
    with db.engine.begin() as conn:
        for i in range(n):
            lon, lat = jitter(rng)
            at = now - timedelta(hours=rng.uniform(0, 2 * 365 * 24))
            if stamp_naive:
                at = at.replace(tzinfo=None)
            batch.append(
                {
                    "service_code": rng.choice(services),
                    "priority": "P3",
                    "status": rng.choice(STATUSES),
                    "title": "bench",
                    "description": rng.choice(texts),
                    "lon": lon,
                    "lat": lat,
                    "h3_cell": h3.latlng_to_cell(lat, lon, 9),
                    "channel": "api",
                    "confidential": False,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            if len(batch) >= 20_000 or i == n - 1:
                conn.execute(sql, batch)
                batch = []
        if db.is_postgres:
            conn.execute(text("ANALYZE cases"))
    return time.perf_counter() - start


def make_reports(n: int, texts: list[str], seed: int = 11) -> list[ReportIn]:
    """Reports without a chosen service; two in three carry a point, the rest only a place in the text."""
    rng = random.Random(seed)
    reports: list[ReportIn] = []
    for i in range(n):
        body = f"{rng.choice(texts)} {rng.choice(PLACE_TEXTS)}".strip()
        point = jitter(rng) if i % 3 else (None, None)
        reports.append(
            ReportIn(service_code="auto", description=body, lon=point[0], lat=point[1], channel="api")
        )
    return reports


def run(url: str, n_cases: int, n_reports: int) -> None:
    """Set up the database at `url`, run the benchmark and print the figures."""
    db = Database(url)
    upgrade(db.engine)
    system = system_actor("benchmark")
    load_demo_city(db, system, with_users=False)
    import_places_file(db, system, data_dir() / "places.yaml")
    texts = [e.text for e in load_external()]
    with db.reading() as uow:
        services = [s.code for s in uow.repo(ServiceRepository).all()]
    seconds = fill_cases(db, n_cases, services, texts)
    print(f"[{db.engine.dialect.name}] {n_cases:,} kasus dimuat dalam {seconds:.1f} s")
    settings = Settings(database_url=url, environment="test")
    reports = make_reports(n_reports, texts)
    classifier = Classifier.load()
    assess_report(db, reports[0], settings)  # warm caches (model, region index, gazetteer, routing)
    baseline: list[float] = []
    for r in reports:
        t0 = time.perf_counter()
        classifier.classify(r.description)
        baseline.append(time.perf_counter() - t0)
    full: list[float] = []
    merged = possible = located_from_text = 0
    t_all = time.perf_counter()
    for r in reports:
        t0 = time.perf_counter()
        result = assess_report(db, r, settings)
        full.append(time.perf_counter() - t0)
        merged += result.merge_into_case_id is not None
        possible += bool(result.possible_duplicates)
        located_from_text += any(n.startswith("location_from_text") for n in result.notes)
    wall = time.perf_counter() - t_all
    ms = [v * 1000 for v in full]
    base_ms = [v * 1000 for v in baseline]
    print(
        f"triase penuh: {n_reports:,} laporan  p50 {percentile(ms, 0.5):.2f} ms  p99 {percentile(ms, 0.99):.2f} ms  "
        f"{n_reports / wall:,.0f} laporan/s"
    )
    print(
        f"baseline klasifikasi saja: p50 {percentile(base_ms, 0.5):.2f} ms  p99 {percentile(base_ms, 0.99):.2f} ms  "
        f"mean {statistics.mean(base_ms):.2f} ms"
    )
    print(
        f"rasio triase penuh / klasifikasi: p50 {percentile(ms, 0.5) / percentile(base_ms, 0.5):.2f}x  "
        f"mean {statistics.mean(ms) / statistics.mean(base_ms):.2f}x"
    )
    print(
        f"hasil: {merged} gabung otomatis, {possible} kemungkinan duplikat, "
        f"{located_from_text} dilokasikan dari teks"
    )
    db.dispose()


def quality() -> None:
    """Issue 17's figures on each real-style set: target, the old model (recorded) and today's (measured)."""
    baseline = json.loads(BASELINE_FILE.read_text(encoding="utf-8"))
    classifier = Classifier.load()
    for set_name, title in (
        ("realstyle_eval", "bagian 1: campuran gaya"),
        ("realstyle_eval_long", "bagian 2: teks panjang, ditulis sesudah model dibekukan"),
    ):
        reports = load_labelled(data_dir() / f"{set_name}.yaml")
        now = evaluate_decider("dikirim", shipped_decider(classifier), reports).as_dict()
        old = baseline[set_name]
        print(f"== kualitas triase, set gaya nyata {title} ({now['n']} teks) ==")
        print(f"{'ukuran':<34} {'target':>9} {'lama':>9} {'sekarang':>9}  tercapai")
        for key, label, target, higher, fmt in TARGETS:
            reached = now[key] >= target if higher else now[key] <= target
            sign = "≥" if higher else "≤"
            print(
                f"{label:<34} {sign + fmt.format(target):>9} {fmt.format(old[key]):>9} "
                f"{fmt.format(now[key]):>9}  {'ya' if reached else 'TIDAK'}"
            )
        print(
            f"{'galat kalibrasi (ECE)':<34} {'':>9} {old['calibration_error']:>9.3f} {now['calibration_error']:>9.3f}"
        )
        print(f"{'jebakan benar':<34} {'':>9} {old['traps_ok']:>4}/{old['traps_total']:<4} "
              f"{now['traps_ok']:>4}/{now['traps_total']:<4}")  # fmt: skip
        print()
    test = [e for e in load_examples() if e.split == "test"]
    print(f"model {classifier.metadata['approach']}; lama = benchmarks/triage_baseline.json")
    for name, examples, key in (
        ("held-out", test, "held_out_macro_f1"),
        ("gaya luar", load_external(), "external_macro_f1"),
    ):
        predicted = classifier.predict([e.text for e in examples])
        score = f1_score([e.service for e in examples], predicted, average="macro")
        print(f"{'macro-F1 ' + name:<34} {'':>9} {baseline[key]:>9.3f} {score:>9.3f}")
    print("(held-out lama: split lama 415 teks; sekarang: split yang sama + teks baru v3 yang jatuh ke uji)")
    print()


def main() -> None:
    """Parse options and run on SQLite, and on PostgreSQL when configured."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="1,000,000 cases and 10,000 reports")
    parser.add_argument("--cases", type=int, default=None)
    parser.add_argument("--reports", type=int, default=None)
    parser.add_argument("--skip-sqlite", action="store_true", help="only PostgreSQL (needs the URL variable)")
    parser.add_argument("--quality-only", action="store_true", help="only the real-style quality figures")
    args = parser.parse_args()
    quality()
    if args.quality_only:
        return
    n_cases = args.cases or (1_000_000 if args.full else 100_000)
    n_reports = args.reports or (10_000 if args.full else 1_000)
    if not args.skip_sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            run(f"sqlite:///{Path(tmp) / 'bench.db'}", n_cases, n_reports)
    server = os.environ.get("KOTAPINTAR_TEST_POSTGRES_URL")
    if server:
        name = f"kp_bench_{uuid.uuid4().hex[:6]}"
        admin = Database(server)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            run(make_url(server).set(database=name).render_as_string(hide_password=False), n_cases, n_reports)
        finally:
            with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
