"""The SOP engine as a pure function: fan-out and join, LAPOR! answers, bukan_wewenang, escalation, closure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kotapintar.cases.lifecycle import CaseStatus, check_transition
from kotapintar.core.errors import IllegalTransition, ValidationFailed
from kotapintar.sop.engine import (
    EVENT_ADAPTER,
    AnswerApproved,
    AnswerDrafted,
    CaseOpened,
    CaseRerouted,
    ChangeCaseStatus,
    ClosureConfirmed,
    CreateTask,
    Decision,
    Escalate,
    InstanceState,
    Notify,
    RecordMetric,
    StartTimer,
    TaskAccepted,
    TaskCompleted,
    TaskRejected,
    TaskStatus,
    TimerFired,
    decide,
    upgrade_state,
)
from kotapintar.sop.loader import load_shipped
from tests.sop.sop_fixtures import CTX

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 08:00 WIB


def kinds(decision: Decision, kind: type) -> list[Any]:
    return [c for c in decision.commands if isinstance(c, kind)]


def open_keys(state: InstanceState, step: str) -> list[str]:
    return [t.key for t in state.open_tasks() if t.step_id == step]


def test_flood_fans_out_to_bpbd_and_basarnas_and_joins() -> None:
    spec = load_shipped("banjir")
    d = decide(
        spec,
        None,
        CaseOpened(
            at=T0,
            case_ref="K-1",
            responsible_agency="bpbd",
            informed_agencies=["basarnas", "dinsos"],
            facts={"service": "banjir"},
        ),
        CTX,
    )
    s = d.state
    s = decide(
        spec, s, TaskCompleted(at=T0 + timedelta(seconds=40), task_key=open_keys(s, "disposisi")[0]), CTX
    ).state
    d = decide(
        spec,
        s,
        TaskCompleted(at=T0 + timedelta(minutes=3), task_key=open_keys(s, "berangkatkan_unit")[0]),
        CTX,
    )
    created = {(c.step_id, c.agency) for c in kinds(d, CreateTask)}
    assert created == {("tiba_di_lokasi", "bpbd"), ("dukungan", "basarnas"), ("dukungan", "dinsos")}
    s = d.state
    # BPBD on scene and Basarnas done: the join still waits for Dinsos.
    s = decide(
        spec,
        s,
        TaskCompleted(
            at=T0 + timedelta(minutes=20), task_key=open_keys(s, "tiba_di_lokasi")[0], evidence=["foto"]
        ),
        CTX,
    ).state
    basarnas = next(k for k in open_keys(s, "dukungan") if ".basarnas." in k)
    d = decide(spec, s, TaskCompleted(at=T0 + timedelta(minutes=25), task_key=basarnas), CTX)
    assert not any(c.step_id == "tangani" for c in kinds(d, CreateTask))
    s = d.state
    d = decide(
        spec, s, TaskCompleted(at=T0 + timedelta(minutes=28), task_key=open_keys(s, "dukungan")[0]), CTX
    )
    assert [(c.step_id, c.agency) for c in kinds(d, CreateTask)] == [("tangani", "bpbd")]
    assert d.state.case_status is CaseStatus.IN_PROGRESS


def test_guard_branches_and_loops_until_situation_is_under_control() -> None:
    spec = load_shipped("darurat_medis")
    s = decide(spec, None, CaseOpened(at=T0, case_ref="K-2", responsible_agency="psc119"), CTX).state
    at = T0
    for step, ev in (("disposisi", []), ("berangkatkan_unit", []), ("tiba_di_lokasi", ["foto"])):
        at += timedelta(minutes=1)
        s = decide(spec, s, TaskCompleted(at=at, task_key=open_keys(s, step)[0], evidence=ev), CTX).state
    d = decide(
        spec,
        s,
        TaskCompleted(
            at=at,
            task_key=open_keys(s, "tangani")[0],
            outputs={"pasien_stabil": False, "korban": 1},
            evidence=["foto"],
        ),
        CTX,
    )
    assert [c.step_id for c in kinds(d, CreateTask)] == ["minta_bantuan"]
    assert d.state.steps["cek_situasi"].outcome == "no"
    with pytest.raises(ValidationFailed, match="output 'korban' wajib"):
        decide(
            spec,
            s,
            TaskCompleted(
                at=at, task_key=open_keys(s, "tangani")[0], outputs={"pasien_stabil": True}, evidence=["foto"]
            ),
            CTX,
        )
    with pytest.raises(ValidationFailed, match="bukti: foto"):
        decide(
            spec,
            s,
            TaskCompleted(
                at=at, task_key=open_keys(s, "tangani")[0], outputs={"pasien_stabil": True, "korban": 0}
            ),
            CTX,
        )


def complaint_at_agency(code: str = "jalan_rusak", agency: str = "pupr") -> tuple[Any, InstanceState]:
    spec = load_shipped(code)
    s = decide(
        spec,
        None,
        CaseOpened(at=T0, case_ref="L-1", responsible_agency=agency, facts={"channel": "web"}),
        CTX,
    ).state
    s = decide(
        spec,
        s,
        TaskCompleted(
            at=T0 + timedelta(hours=3), task_key=open_keys(s, "verifikasi")[0], outputs={"lengkap": True}
        ),
        CTX,
    ).state
    s = decide(
        spec, s, TaskCompleted(at=T0 + timedelta(hours=4), task_key=open_keys(s, "disposisi")[0]), CTX
    ).state
    return spec, s


def test_lapor_answer_needs_approval_before_the_citizen_sees_it() -> None:
    spec, s = complaint_at_agency()
    key = open_keys(s, "tanggapi")[0]
    assert s.tasks[key].due_at == datetime(
        2026, 3, 9, 9, 0, tzinfo=UTC
    )  # 5 hari kerja: Mon 9 March 16:00 WIB
    with pytest.raises(IllegalTransition):
        decide(spec, s, TaskCompleted(at=T0 + timedelta(days=1), task_key=key), CTX)
    d = decide(
        spec, s, AnswerDrafted(at=T0 + timedelta(days=1), task_key=key, text="Akan ditambal minggu ini."), CTX
    )
    assert [n.audience for n in kinds(d, Notify)] == ["pupr.pejabat_penghubung"]
    d = decide(
        spec,
        d.state,
        AnswerApproved(at=T0 + timedelta(days=2), task_key=key, approver="Kabid Bina Marga"),
        CTX,
    )
    to_citizen = [n for n in kinds(d, Notify) if n.audience == "citizen"]
    assert to_citizen and "Akan ditambal minggu ini." in to_citizen[0].texts["id"]
    assert any(m.name == "time_to_complete" and m.met for m in kinds(d, RecordMetric))


def test_bukan_wewenang_requires_reason_and_rerouting_keeps_the_rejection() -> None:
    spec, s = complaint_at_agency()
    key = open_keys(s, "tanggapi")[0]
    with pytest.raises(ValidationFailed):
        decide(
            spec,
            s,
            TaskRejected(at=T0 + timedelta(hours=5), task_key=key, reason=" ", suggested_agency="dishub"),
            CTX,
        )
    d = decide(
        spec,
        s,
        TaskRejected(
            at=T0 + timedelta(hours=5), task_key=key, reason="Jalan provinsi", suggested_agency="dishub"
        ),
        CTX,
    )
    assert any(
        n.template_key == "reroute_needed" and n.audience == "diskominfo.operator" for n in kinds(d, Notify)
    )
    assert [c.status for c in kinds(d, ChangeCaseStatus)] == [CaseStatus.VERIFIED]
    d = decide(spec, d.state, CaseRerouted(at=T0 + timedelta(hours=6), new_agency="dishub"), CTX)
    (new_task,) = kinds(d, CreateTask)
    assert (new_task.agency, new_task.step_id, new_task.replaces) == ("dishub", "tanggapi", key)
    old = d.state.tasks[key]
    assert old.status is TaskStatus.REJECTED and old.rejection is not None
    assert old.rejection.suggested_agency == "dishub" and old.rejection.replaced_by == new_task.task_key


def test_escalation_ladder_reminders_then_supervisor_head_sekda() -> None:
    spec, s = complaint_at_agency()
    key = open_keys(s, "tanggapi")[0]
    fired: list[tuple[str, int]] = []
    escalations: list[Escalate] = []
    for _ in range(10):
        timer = s.tasks[key].timer_key
        if timer is None:
            break
        ref = s.timers[timer]
        d = decide(spec, s, TimerFired(at=ref.due_at, key=timer), CTX)
        fired.append((ref.kind, ref.percent))
        escalations += kinds(d, Escalate)
        s = d.state
    assert fired == [
        ("reminder", 50),
        ("reminder", 80),
        ("due", 100),
        ("escalation", 100),
        ("escalation", 150),
        ("escalation", 200),
    ]
    assert [(e.target_agency, e.target_position) for e in escalations] == [
        ("pupr", "supervisor"),
        ("pupr", "head"),
        ("setda", "sekda"),
    ]
    assert s.tasks[key].status is TaskStatus.ESCALATED and s.tasks[key].breached
    # An escalated task can still be worked; a stale timer is ignored.
    assert decide(spec, s, TimerFired(at=T0, key=f"{key}/due/100"), CTX).commands == ()
    s = decide(spec, s, TaskAccepted(at=T0 + timedelta(days=20), task_key=key), CTX).state
    assert s.tasks[key].status is TaskStatus.ACCEPTED


def finish_complaint() -> tuple[Any, InstanceState]:
    spec, s = complaint_at_agency("adminduk", "disdukcapil")
    key = open_keys(s, "tanggapi")[0]
    s = decide(
        spec, s, AnswerDrafted(at=T0 + timedelta(days=1), task_key=key, text="KTP sudah dicetak."), CTX
    ).state
    return spec, decide(
        spec, s, AnswerApproved(at=T0 + timedelta(days=1), task_key=key, approver="Kadis"), CTX
    ).state


def test_complaint_auto_closes_ten_working_days_after_the_answer() -> None:
    spec, s = finish_complaint()
    assert s.status == "awaiting_closure" and s.case_status is CaseStatus.RESOLVED
    ref = s.timers["case/auto_close"]
    assert ref.due_at == datetime(2026, 3, 17, 9, 0, tzinfo=UTC)  # 10 hari kerja after Tue 3 March, 16:00 WIB
    d = decide(spec, s, TimerFired(at=ref.due_at, key="case/auto_close"), CTX)
    assert d.state.status == "closed" and [c.status for c in kinds(d, ChangeCaseStatus)] == [
        CaseStatus.CLOSED
    ]


def test_citizen_dispute_reopens_and_confirmation_closes() -> None:
    spec, s = finish_complaint()
    d = decide(
        spec, s, ClosureConfirmed(at=T0 + timedelta(days=2), by="citizen", satisfied=False, note="Belum"), CTX
    )
    assert d.state.status == "running" and [c.step_id for c in kinds(d, CreateTask)] == ["tanggapi"]
    assert d.state.facts["reopen_count"] == 1
    s2 = decide(spec, s, ClosureConfirmed(at=T0 + timedelta(days=2), by="operator"), CTX).state
    assert s2.status == "closed"


def test_decide_is_pure_and_state_round_trips_as_json() -> None:
    spec, s = complaint_at_agency()
    before = s.model_dump(mode="json")
    decide(spec, s, TaskAccepted(at=T0 + timedelta(hours=5), task_key=open_keys(s, "tanggapi")[0]), CTX)
    assert s.model_dump(mode="json") == before
    assert before["schema_version"] == 1
    assert upgrade_state(before) == s
    event = EVENT_ADAPTER.validate_python(
        {"type": "task_accepted", "at": "2026-03-02T02:00:00Z", "task_key": "x"}
    )
    assert isinstance(event, TaskAccepted)


def test_emitted_case_statuses_follow_the_lifecycle() -> None:
    spec, s = finish_complaint()
    # Replay from scratch collecting every ChangeCaseStatus: each must be a legal move.
    spec = load_shipped("adminduk")
    status = CaseStatus.RECEIVED
    d = decide(spec, None, CaseOpened(at=T0, case_ref="L-9", responsible_agency="disdukcapil"), CTX)
    seq = [d]
    s = d.state
    for step, ev in (("verifikasi", {"lengkap": True}), ("disposisi", {})):
        d = decide(spec, s, TaskCompleted(at=T0, task_key=open_keys(s, step)[0], outputs=ev), CTX)
        seq.append(d)
        s = d.state
    for dd in seq:
        for c in kinds(dd, ChangeCaseStatus):
            check_transition(status, c.status)
            status = c.status
    assert status is CaseStatus.ASSIGNED
    assert all(isinstance(c, StartTimer) or True for c in seq[-1].commands)
