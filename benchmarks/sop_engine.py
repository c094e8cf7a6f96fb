"""Benchmark: SOP engine decisions per second in pure Python (no database).

Drives complete cases of the shipped library (kebakaran, banjir, jalan_rusak) through decide(): every task
completed, answers drafted and approved, closure confirmed. Baseline in the same run: validating the same
events with pydantic alone (EVENT_ADAPTER), i.e. the cost of reading an event without deciding anything.
`--quick` (or KOTAPINTAR_BENCH_QUICK=1) runs a small N.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from kotapintar.sop.engine import (
    EVENT_ADAPTER,
    AnswerApproved,
    AnswerDrafted,
    CaseOpened,
    ClosureConfirmed,
    EngineContext,
    TaskCompleted,
    decide,
)
from kotapintar.sop.loader import load_calendar, load_shipped

CASES = {
    "kebakaran": ("damkar", ["polres", "psc119"]),
    "banjir": ("bpbd", ["basarnas", "dinsos"]),
    "jalan_rusak": ("pupr", []),
}


def run_case(code: str, ctx: EngineContext, events: list[Any]) -> int:
    spec = load_shipped(code) if code not in _SPECS else _SPECS[code]
    _SPECS[code] = spec
    agency, informed = CASES[code]
    at = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)
    ev: Any = CaseOpened(at=at, case_ref="B", responsible_agency=agency, informed_agencies=informed)
    d = decide(spec, None, ev, ctx)
    events.append(ev)
    n = 1
    s = d.state
    while s.status != "closed":
        at += timedelta(minutes=3)
        if s.status == "awaiting_closure":
            ev = ClosureConfirmed(at=at, by=spec.closure.confirm_by[0])
        else:
            task = min(s.open_tasks(), key=lambda t: t.key)
            step = spec.step(task.step_id)
            if step.answer:
                ev = (
                    AnswerDrafted(at=at, task_key=task.key, text="ok")
                    if task.answer_draft is None
                    else AnswerApproved(at=at, task_key=task.key, approver="p")
                )
            else:
                outs = {k: True if v.type.value == "bool" else 0 for k, v in step.outputs.items()}
                ev = TaskCompleted(at=at, task_key=task.key, outputs=outs, evidence=list(step.bukti))
        s = decide(spec, s, ev, ctx).state
        events.append(ev)
        n += 1
    return n


_SPECS: dict[str, Any] = {}


def main() -> None:
    quick = "--quick" in sys.argv or os.environ.get("KOTAPINTAR_BENCH_QUICK") == "1"
    rounds = 20 if quick else 300
    ctx = EngineContext(calendar=load_calendar())
    for code in CASES:  # warm-up and load
        run_case(code, ctx, [])
    events: list[Any] = []
    t0 = time.perf_counter()
    decisions = 0
    for _ in range(rounds):
        for code in CASES:
            decisions += run_case(code, ctx, events)
    elapsed = time.perf_counter() - t0
    dumped = [e.model_dump(mode="json") for e in events]
    t1 = time.perf_counter()
    for item in dumped:
        EVENT_ADAPTER.validate_python(item)
    baseline = time.perf_counter() - t1
    rate = decisions / elapsed
    base_rate = len(dumped) / baseline
    print(
        f"sop engine: {decisions} decisions in {elapsed:.2f} s = {rate:,.0f} decisions/s ({rounds * len(CASES)} whole cases)"
    )
    print(f"baseline (pydantic event validation only): {base_rate:,.0f} events/s")
    print(
        f"ratio decide / baseline: {rate / base_rate:.3f} (decide costs {base_rate / rate:.1f}x reading the event)"
    )


if __name__ == "__main__":
    main()
