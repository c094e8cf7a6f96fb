"""Re-measure the triage model shipped before issue 17 on today's real-style sets; rewrite its figures.

    .venv/bin/python benchmarks/triage_old_model.py          # prints and writes benchmarks/triage_baseline.json

The old model (commit b5dacd7: normaliser v3, intake's old priority rule "P1 on a life cue, else the
guessed service's default", review below 0.6) cannot be loaded by today's code, so this script extracts
that commit's `kotapintar` package with `git archive` into a temporary folder and runs it in a child
Python process, on the labelled sets of today's working tree. benchmarks/triage.py prints the figures
it writes beside today's model. Needs the git history (a shallow clone without b5dacd7 cannot run it).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

OLD_COMMIT = "b5dacd7"
ROOT = Path(__file__).resolve().parents[1]
BASELINE_FILE = Path(__file__).with_name("triage_baseline.json")
SETS = ("realstyle_eval", "realstyle_eval_long")

CHILD = """
import importlib.util, json, sys
from pathlib import Path
old, root = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(old))
import kotapintar
assert kotapintar.__file__.startswith(str(old)), kotapintar.__file__
spec = importlib.util.spec_from_file_location("realstyle_today", root / "kotapintar/triage/classify/realstyle.py")
rs = importlib.util.module_from_spec(spec)
sys.modules["realstyle_today"] = rs
spec.loader.exec_module(rs)
from kotapintar.domain.cases import Priority
from kotapintar.triage.classify.dataset import load_examples, load_external
from kotapintar.triage.classify.model import Classifier
from kotapintar.triage.classify.urgency import DEFAULT_PRIORITY, assess_urgency
from sklearn.metrics import f1_score
clf = Classifier.load()

def legacy(text):
    c = clf.classify(text)
    u = assess_urgency(c.service, text)
    priority = Priority.P1 if u.life_cues else DEFAULT_PRIORITY[c.service]
    return rs.Decision(c.service, priority, c.needs_review(0.6), c.confidence, tuple(u.life_cues))

out = {}
for name in sys.argv[3:]:
    reports = rs.load_labelled(root / f"kotapintar/data/triage/{name}.yaml")
    out[name] = rs.evaluate_decider(f"model lama @ {name}", legacy, reports).as_dict()
test = [e for e in load_examples() if e.split == "test"]
for key, examples in (("held_out_macro_f1", test), ("external_macro_f1", load_external())):
    predicted = clf.predict([e.text for e in examples])
    out[key] = round(float(f1_score([e.service for e in examples], predicted, average="macro")), 4)
print(json.dumps(out))
"""


def measure() -> dict[str, object]:
    """The old model's figures on today's sets, from a child process running the old package."""
    with tempfile.TemporaryDirectory() as tmp:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", OLD_COMMIT, "kotapintar"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
        result = subprocess.run(
            [sys.executable, "-c", CHILD, tmp, str(ROOT), *SETS],
            check=True,
            capture_output=True,
            text=True,
            cwd=tmp,
        )
    figures: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    """Measure, print and record."""
    figures = measure()
    record = {
        "_about": (
            f"Model shipped before issue 17 (commit {OLD_COMMIT}, normaliser v3) with intake's old priority "
            "rule (P1 on a life cue, else the guessed service's default; review below 0.6), on today's "
            "labelled sets. Held-out/external: the old model on the old split and external set as they "
            "were at that commit. Written by benchmarks/triage_old_model.py."
        ),
        "commit": OLD_COMMIT,
        **figures,
    }
    BASELINE_FILE.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(record, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
