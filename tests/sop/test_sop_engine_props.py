"""Property tests: random event sequences never reach an invalid state, and every case can be driven to an end."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kotapintar.cases.lifecycle import CaseStatus, check_transition
from kotapintar.core.errors import DomainError
from kotapintar.sop.conditions import AGENCY_CODES
from kotapintar.sop.engine import (
    FINAL_TASK_STATUSES,
    OPEN_TASK_STATUSES,
    TASK_TRANSITIONS,
    AnswerApproved,
    AnswerDrafted,
    CaseCancelled,
    CaseOpened,
    CaseRerouted,
    ChangeCaseStatus,
    ClosureConfirmed,
    InstanceState,
    TaskAccepted,
    TaskCompleted,
    TaskHandedOver,
    TaskProgress,
    TaskRejected,
    TimerFired,
    decide,
)
from kotapintar.sop.loader import load_library
from kotapintar.sop.spec import SopSpec
from tests.sop.sop_fixtures import CTX

LIBRARY = load_library()
CODES = sorted(LIBRARY)
ROUTING = {
    "kebakaran": ("damkar", ["polres", "psc119"]),
    "banjir": ("bpbd", ["basarnas", "dinsos"]),
    "kecelakaan": ("polres", ["psc119", "dishub"]),
    "karhutla": ("bpbd", ["damkar", "dlh"]),
    "pohon_tumbang": ("dlh", ["pln"]),
    "pencarian_pertolongan": ("basarnas", ["bpbd"]),
}
T0 = datetime(2026, 5, 12, 2, 0, tzinfo=UTC)


def outputs_for(spec: SopSpec, step_id: str, rnd: random.Random) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, decl in spec.step(step_id).outputs.items():
        out[name] = {"bool": rnd.random() < 0.6, "int": rnd.randint(0, 5), "number": 1.5, "string": "x"}.get(
            decl.type.value, (decl.choices or ["x"])[0]
        )
    return out


def random_event(spec: SopSpec, s: InstanceState, choice: int, rnd: random.Random, at: datetime) -> Any:
    tasks = sorted(s.tasks)
    key = tasks[choice % len(tasks)] if tasks else "none"
    step_id = s.tasks[key].step_id if tasks else spec.start_id
    kind = choice % 12
    if kind == 0:
        return TaskAccepted(at=at, task_key=key)
    if kind == 1:
        return TaskRejected(
            at=at, task_key=key, reason="bukan wewenang", suggested_agency=rnd.choice(sorted(AGENCY_CODES))
        )
    if kind == 2:
        return CaseRerouted(at=at, new_agency=rnd.choice(sorted(AGENCY_CODES)))
    if kind == 3:
        return TaskProgress(at=at, task_key=key, evidence=["foto"])
    if kind in (4, 5, 6):
        return TaskCompleted(
            at=at,
            task_key=key,
            outputs=outputs_for(spec, step_id, rnd),
            evidence=list(spec.step(step_id).bukti),
        )
    if kind == 7 and s.timers:
        timer = sorted(s.timers)[choice % len(s.timers)]
        return TimerFired(at=max(at, s.timers[timer].due_at), key=timer)
    if kind == 8:
        return AnswerDrafted(at=at, task_key=key, text="jawaban")
    if kind == 9:
        return AnswerApproved(at=at, task_key=key, approver="pejabat")
    if kind == 10:
        return ClosureConfirmed(at=at, by=rnd.choice(["citizen", "operator"]), satisfied=rnd.random() < 0.7)
    if kind == 11 and choice % 97 == 0:
        return CaseCancelled(at=at, reason="duplikat", final_status="merged")
    return TaskHandedOver(at=at, task_key=key, to="regu-2")


def check_invariants(spec: SopSpec, before: InstanceState, after: InstanceState) -> None:
    assert after.schema_version == 1
    for key, task in before.tasks.items():  # tasks never disappear; final tasks never change
        new = after.tasks[key]
        if task.status in FINAL_TASK_STATUSES:
            assert new.status == task.status
        elif new.status != task.status:
            assert new.status in TASK_TRANSITIONS[task.status]
    for task in after.tasks.values():
        if task.status in OPEN_TASK_STATUSES:
            assert after.status == "running", "open task on a finished case"
            assert after.steps[task.step_id].status == "active"
            if task.timer_key is not None:
                assert task.timer_key in after.timers
    for key, ref in after.timers.items():
        if ref.kind == "auto_close":
            assert after.status == "awaiting_closure"
        else:
            assert ref.task_key is not None and after.tasks[ref.task_key].timer_key == key
    if after.status == "running":  # something is always waiting for someone
        assert after.open_tasks() or any(
            t.status.value == "rejected" and t.rejection and not t.rejection.replaced_by
            for t in after.tasks.values()
        )


def drive(
    spec: SopSpec, s: InstanceState, rnd: random.Random, at: datetime, status: CaseStatus
) -> tuple[InstanceState, CaseStatus]:
    """Act as diligent agencies until the case is closed."""
    for _ in range(400):
        if s.status in ("closed", "cancelled"):
            return s, status
        at += timedelta(minutes=1)
        if s.status == "awaiting_closure":
            event: Any = ClosureConfirmed(at=at, by=spec.closure.confirm_by[0])
        elif pending := [
            t
            for t in s.tasks.values()
            if t.status.value == "rejected" and t.rejection and not t.rejection.replaced_by
        ]:
            event = CaseRerouted(at=at, new_agency=pending[0].rejection.suggested_agency)  # type: ignore[union-attr]
        else:
            task = sorted(s.open_tasks(), key=lambda t: t.key)[0]
            step = spec.step(task.step_id)
            if step.answer:
                event = (
                    AnswerDrafted(at=at, task_key=task.key, text="j")
                    if task.answer_draft is None
                    else AnswerApproved(at=at, task_key=task.key, approver="p")
                )
            else:
                event = TaskCompleted(
                    at=at,
                    task_key=task.key,
                    outputs=outputs_for(spec, step.id, rnd),
                    evidence=list(step.bukti),
                )
        d = decide(spec, s, event, CTX)
        check_invariants(spec, s, d.state)
        for c in d.commands:
            if isinstance(c, ChangeCaseStatus):
                check_transition(status, c.status)
                status = c.status
        s = d.state
    raise AssertionError("case did not end within 400 diligent steps")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    code=st.sampled_from(CODES),
    choices=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
    seed=st.integers(0, 2**16),
)
def test_random_event_sequences_keep_the_instance_valid(code: str, choices: list[int], seed: int) -> None:
    spec = LIBRARY[code]
    rnd = random.Random(seed)
    agency, informed = ROUTING.get(code, (rnd.choice(["pupr", "dlh", "dishub", "disdukcapil", "dinsos"]), []))
    d = decide(
        spec,
        None,
        CaseOpened(
            at=T0,
            case_ref="P-1",
            responsible_agency=agency,
            informed_agencies=informed,
            facts={"service": code},
        ),
        CTX,
    )
    s, status = d.state, CaseStatus.RECEIVED
    for c in d.commands:
        if isinstance(c, ChangeCaseStatus):
            check_transition(status, c.status)
            status = c.status
    at = T0
    for choice in choices:
        at += timedelta(minutes=rnd.randint(0, 600))
        event = random_event(spec, s, choice, rnd, at)
        try:
            d = decide(spec, s, event, CTX)
        except DomainError:
            continue  # refused: the stored state stays as it was
        check_invariants(spec, s, d.state)
        for c in d.commands:
            if isinstance(c, ChangeCaseStatus):
                check_transition(status, c.status)
                status = c.status
        s = d.state
    if s.status != "cancelled":
        s, status = drive(spec, s, rnd, at, status)
        assert status is CaseStatus.CLOSED
    # every task ends done, cancelled or rejected (a rejected one was re-routed to another agency)
    assert all(t.status in FINAL_TASK_STATUSES for t in s.tasks.values())
    assert not any(ref.kind != "auto_close" for ref in s.timers.values())
