"""Acceptance of issue 14: every shipped SOP runs one case from intake to closure through the screens only.

One test per SOP file (parametrised over `kotapintar/sop/data/sop/*.yaml`, so a new SOP gets its test for
free). A data-driven driver reads where the case's SOP stands (the database is only *read*, to decide what
to do next) and performs each open task through the screen of the role the SOP names:

- verification and disposition: the operator's case page (`/operator/kasus/{id}`), verify and dispose;
- a disposition that sends units (`unit_status: dispatched`): the operator's dispatch card (`kirim-unit`);
- a step done by a unit status (`unit_status: on_scene` …): the crew page of a unit sent to the case;
- an answer step: the officer drafts the answer in the agency inbox, the agency's head approves it;
- any other task: the agency's officer (or an outside body's liaison) accepts and completes it in the inbox,
  with the outputs the step declares and a photo when the step asks for evidence;
- closure: the operator closes the resolved case from its page (the SOP's `closure.confirm_by`).

Then it asserts what a person would check: the SOP instance is finished, every step on the path has its
start and end times and every task its times, the case page's timeline shows every event of the case, and
`kotapintar check` finds nothing. One server, one database and one chromium serve the whole module.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from kotapintar.cases.repository import CaseRepository, TaskRepository
from kotapintar.catalog.repository import AgencyRepository, UnitRepository
from kotapintar.core.db.database import Database
from kotapintar.sop.engine import OPEN_TASK_STATUSES, InstanceState
from kotapintar.sop.loader import load_sop
from kotapintar.sop.models import SopInstance
from kotapintar.sop.spec import SopSpec, Step
from tests.conftest import LiveServer
from tests.helpers import assert_invariants
from tests.ui.browser import tiny_png
from tests.ui.conftest import Sessions

pytestmark = [pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[2]
SOP_FILES = sorted((ROOT / "kotapintar" / "sop" / "data" / "sop").glob("*.yaml"))
ARTIFACTS = ROOT / "test-artifacts" / "sop-flows"
OPEN = {s.value for s in OPEN_TASK_STATUSES}
# Each flow reports from its own spot of Kuala Kapuas (about 1 km apart) so no case joins another's.
_SPOTS = itertools.count()
# Intake channel per SOP when it is not the kind's usual one: complaints come in through the citizen's web
# form, emergencies through the 112 console; the medical emergency is the web-form P1.
INTAKE_OVERRIDES = {"darurat_medis": "lapor"}
# The demo's users per agency: officers, outside bodies' liaisons, heads.
LIAISON_AGENCIES = frozenset({"polres", "pln", "pdam", "basarnas"})


@dataclass
class Flow:
    """One case being driven through the screens."""

    db: Database
    base: str
    sessions: Sessions
    spec: SopSpec
    case_id: int = 0
    done: list[str] = field(default_factory=list)  # "step_id@agency" in the order they were performed
    units: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)  # who acted, in order of first action

    def page(self, username: str) -> Any:
        """The logged-in page of `username`."""
        if username not in self.users:
            self.users.append(username)
        return self.sessions.page(username)

    def state(self) -> tuple[str, InstanceState]:
        """(instance status column, engine state) of the case's SOP, read fresh."""
        with self.db.reading() as uow:
            row = uow.session.query(SopInstance).filter_by(case_id=self.case_id).one()
            return row.status, InstanceState.model_validate(row.state)

    def step(self, step_id: str) -> Step:
        """The SOP step of that id."""
        return next(s for s in self.spec.steps if s.id == step_id)


def officer_of(agency: str) -> str:
    """The demo user who works an agency's tasks."""
    return f"{agency}.liaison" if agency in LIAISON_AGENCIES else f"{agency}.petugas"


def head_of(agency: str) -> str:
    """The demo user who approves an agency's answers: the head (role agency_head) of a city agency, the
    pejabat penghubung of an outside body."""
    return f"{agency}.pejabat" if agency in LIAISON_AGENCIES else f"{agency}.kepala"


def expect_ok(page: Any, response: Any = None) -> None:
    """The page the action led to is not an error page (the flash names the problem otherwise)."""
    page.wait_for_load_state("domcontentloaded")
    errors = page.locator(".flash-error")
    message = errors.first.inner_text() if errors.count() else ""
    assert not message, f"{page.url}: {message}"


# ------------------------------------------------------------------ intake


def fill_attributes(page: Any) -> None:
    """Answer the service's extra questions on the citizen form (the first choice, or 1)."""
    for select in page.locator("form select[name^='attribute']").all():
        values = [v for v in select.locator("option").evaluate_all("os => os.map(o => o.value)") if v]
        if values:
            select.select_option(values[0])
    for box in page.locator(
        "form input[name^='attribute'][type=text], form input[name^='attribute'][type=number]"
    ).all():
        box.fill("1")


def intake_web_form(flow: Flow, lon: float, lat: float) -> None:
    """A citizen reports through /lapor; the ticket on the tracking page names the case."""
    page = flow.sessions.browser.new_context(locale="id-ID").new_page()
    try:
        page.goto(f"{flow.base}/lapor?layanan={flow.spec.code}")
        page.fill("textarea[name=description]", f"Laporan uji {flow.spec.code}: {flow.spec.identitas.judul}.")
        page.click("details.coords-manual summary")  # the typed-coordinates fallback, closed by default
        page.fill("input[name=lon]", f"{lon:.5f}")
        page.fill("input[name=lat]", f"{lat:.5f}")
        fill_attributes(page)
        page.click("form button[type=submit].btn-primary")
        page.wait_for_url("**/lacak/**", timeout=10000)
        ticket = page.url.split("/lacak/")[1].split("?")[0]
    finally:
        page.context.close()
    with flow.db.reading() as uow:
        case = uow.repo(CaseRepository).by_ticket(ticket)
        assert case is not None, f"no case for ticket {ticket}"
        flow.case_id = case.id
    flow.done.append("intake@lapor")


def intake_112(flow: Flow, lon: float, lat: float) -> None:
    """The call taker takes a 112 call on the console: type, point, description, save."""
    page = flow.page("operator")
    page.goto(f"{flow.base}/112")
    page.click("#ct-new")
    page.select_option("#ct-type", flow.spec.code)
    page.fill("#f-lon", f"{lon:.5f}")
    page.fill("#f-lat", f"{lat:.5f}")
    page.fill("#ct-desc", f"Panggilan uji {flow.spec.code}: {flow.spec.identitas.judul}.")
    page.click("#ct-submit")
    page.wait_for_selector("#ct-case-link:not([hidden])", timeout=10000)
    href = page.get_attribute("#ct-case-link", "href") or ""
    flow.case_id = int(href.rstrip("/").split("/")[-1])
    flow.done.append("intake@112")


# ------------------------------------------------------------------ one function per kind of step


def operator_case(flow: Flow) -> Any:
    """The operator on the case's page."""
    page = flow.page("operator")
    page.goto(f"{flow.base}/operator/kasus/{flow.case_id}")
    return page


def do_verify(flow: Flow, task: Any) -> None:
    """The operator verifies the report from the case page (the SOP's verification decision: complete)."""
    page = operator_case(flow)
    page.click("button[data-action=verify]")
    expect_ok(page)


def do_dispose(flow: Flow, task: Any) -> None:
    """The operator disposes the case to the SOP's responsible agency from the case page."""
    page = operator_case(flow)
    _, state = flow.state()
    page.select_option("#a-disposisi-agency_code", state.responsible_agency)
    page.click("button[data-action=assign]")
    expect_ok(page)


def do_dispatch(flow: Flow, task: Any) -> None:
    """The operator sends the recommended units from the case page's dispatch card (kirim-unit)."""
    page = operator_case(flow)
    page.click("[data-dispatch-card] summary")
    page.wait_for_selector("[data-dispatch-card] button[data-action=dispatch]", timeout=10000)
    flow.units = sorted(
        page.locator("[data-dispatch-card] input[type=checkbox][name^=unit_]:checked").evaluate_all(
            "bs => bs.map(b => b.name.slice(5))"
        )
    )
    assert flow.units, "the dispatch card recommends no unit"
    page.click("[data-dispatch-card] button[data-action=dispatch]")
    expect_ok(page)


def crew(flow: Flow, unit: str, *statuses: str) -> None:
    """A unit's crew presses its status buttons on the crew page, in order."""
    agency = unit_agency(flow, unit)
    page = flow.page(officer_of(agency))
    page.goto(f"{flow.base}/unit/{unit}")
    for status in statuses:
        button = page.locator(f"button[data-status={status}]")
        button.click()
        page.wait_for_selector(f"button[data-status={status}]", state="detached", timeout=5000)


def unit_agency(flow: Flow, unit: str) -> str:
    """The agency a unit belongs to."""
    with flow.db.reading() as uow:
        row = uow.repo(UnitRepository).get(unit)
        assert row is not None
        return str(row.agency_code)


def do_unit_status(flow: Flow, task: Any) -> None:
    """A step done by a unit status: the crews of the units sent move to that status on the crew page."""
    step = flow.step(task.step_id)
    if step.unit_status == "dispatched":
        if not flow.units:
            do_dispatch(flow, task)
        return
    wanted = {"en_route": ["en_route"], "on_scene": ["en_route", "on_scene"], "cleared": ["returning"]}
    for unit in flow.units:
        crew(flow, unit, *wanted[str(step.unit_status)])


def inbox_task(flow: Flow, username: str, task_id: int) -> Any:
    """The user's agency inbox with the task on it."""
    page = flow.page(username)
    page.goto(f"{flow.base}/instansi")
    page.wait_for_selector(f"[data-task-id='{task_id}']", timeout=5000)
    return page


def accept_in_inbox(flow: Flow, username: str, task: Any) -> None:
    """Accept a pending task in the inbox."""
    if task.status != "pending":
        return
    page = inbox_task(flow, username, task.id)
    page.click(f"[data-task-id='{task.id}'] button[data-action=accept]")
    expect_ok(page)


def do_answer(flow: Flow, task: Any) -> None:
    """The officer drafts the answer to the reporter; the agency's head approves it from the inbox."""
    operator = operator_case(flow)  # the operator's page offers no 'complete' that could only fail (409)
    assert operator.locator(f"form[data-sop-task='{task.step_id}']").count() == 0
    officer = officer_of(task.agency_code)
    accept_in_inbox(flow, officer, task)
    page = inbox_task(flow, officer, task.id)
    item = page.locator(f"[data-task-id='{task.id}']")
    item.locator("textarea[name=answer]").fill(
        f"Tanggapan uji {flow.spec.code}: laporan sedang ditindaklanjuti."
    )
    item.locator("button[data-action=draft-answer]").click()
    expect_ok(page)
    head = inbox_task(flow, head_of(task.agency_code), task.id)
    head.click(f"[data-task-id='{task.id}'] button[data-action=approve-answer]")
    expect_ok(head)


def do_complete(flow: Flow, task: Any) -> None:
    """The agency accepts the task and completes it with the step's outputs and a photo as evidence."""
    step = flow.step(task.step_id)
    username = officer_of(task.agency_code)
    accept_in_inbox(flow, username, task)
    page = inbox_task(flow, username, task.id)
    item = page.locator(f"[data-task-id='{task.id}']")
    form = item.locator("form[action$='/selesai']")
    item.locator("details:has(form[action$='/selesai']) summary").click()
    for name, decl in step.outputs.items():
        kind = str(decl.type)
        if kind == "bool":
            form.locator(f"select[name=out_{name}]").select_option("1")
        elif kind in ("int", "number"):
            form.locator(f"input[name=out_{name}]").fill("0")
        elif kind == "enum":
            form.locator(f"select[name=out_{name}]").select_option(index=1)
        else:
            form.locator(f"input[name=out_{name}]").fill("ya")
    form.locator("textarea[name=output]").fill(f"{step.output or 'Selesai'} (uji).")
    if step.bukti:
        form.locator("input[name=photos]").set_input_files(
            files=[{"name": "bukti.png", "mimeType": "image/png", "buffer": tiny_png()}]
        )
    if "dokumen" in step.bukti:
        form.locator("textarea[name=document]").fill(
            "Laporan kejadian uji: kronologi, tindakan, tanpa korban."
        )
    form.locator("button[data-action=complete]").click()
    expect_ok(page)


def do_operator_task(flow: Flow, task: Any) -> None:
    """Any other command-center task: accept and complete it from the case page's SOP task card."""
    step = flow.step(task.step_id)
    page = operator_case(flow)
    card = f"form[data-sop-task='{task.step_id}']"
    if task.status == "pending":
        page.click(f"{card} button[data-action=sop-accept]")
        expect_ok(page)
    for name, decl in step.outputs.items():
        if str(decl.type) == "bool":
            page.locator(f"{card} select[name=out_{name}]").select_option("1")
        else:
            page.locator(f"{card} input[name=out_{name}]").fill("0")
    page.click(f"{card} button[data-action=sop-complete]")
    expect_ok(page)


def perform(flow: Flow, task: Any, cc_agency: str) -> None:
    """Do one open task through the screen of the role its step names."""
    step = flow.step(task.step_id)
    if step.answer:
        do_answer(flow, task)
    elif task.agency_code == cc_agency:
        if step.decision is not None and "lengkap" in step.outputs:
            do_verify(flow, task)
        elif step.unit_status == "dispatched":
            do_dispatch(flow, task)
        elif str(step.case_status) == "assigned":
            do_dispose(flow, task)
        else:
            do_operator_task(flow, task)
    elif step.unit_status is not None:
        do_unit_status(flow, task)
    else:
        do_complete(flow, task)
    flow.done.append(f"{task.step_id}@{task.agency_code}")


def open_tasks(flow: Flow) -> list[Any]:
    """The case's open tasks, oldest first."""
    with flow.db.reading() as uow:
        return sorted(
            (t for t in uow.repo(TaskRepository).for_case(flow.case_id) if t.status in OPEN),
            key=lambda t: t.id,
        )


def drive(flow: Flow) -> None:
    """Perform open tasks until the SOP stops giving any; then the crews clear and the operator closes."""
    with flow.db.reading() as uow:
        cc = uow.repo(AgencyRepository).command_center()
        cc_agency = cc.code if cc else "diskominfo"
    for _ in range(40):
        tasks = open_tasks(flow)
        if not tasks:
            break
        before = [(t.id, t.status) for t in tasks]
        perform(flow, tasks[0], cc_agency)
        after = [(t.id, t.status) for t in open_tasks(flow)]
        assert after != before, f"{tasks[0].step_id} did not move after {flow.done}"
    else:
        pytest.fail(f"the SOP still has open tasks after 40 actions: {flow.done}")
    if flow.units:
        for unit in flow.units:
            crew(flow, unit, "returning", "available")
        flow.done.append("cleared@crew")
    page = operator_case(flow)
    page.click("button[data-action=close]")
    expect_ok(page)
    flow.done.append("closed@operator")


# ------------------------------------------------------------------ what a person checks afterwards


def assert_finished(flow: Flow) -> None:
    """The SOP instance ended, every step on its path and every task carries its times."""
    status, state = flow.state()
    assert status == "closed" and state.status == "closed", f"SOP instance is {status}/{state.status}"
    with flow.db.reading() as uow:
        case = uow.repo(CaseRepository).get(flow.case_id)
        assert case is not None and case.status == "closed", case and case.status
    path = {sid: s for sid, s in state.steps.items() if s.status != "idle"}
    missing = [sid for sid, s in path.items() if s.started_at is None or s.completed_at is None]
    assert not missing, f"steps without start/end times: {missing}"
    assert flow.spec.start in path
    agencies_sent = {unit_agency(flow, u) for u in flow.units}
    for key, task in state.tasks.items():
        assert task.status in ("done", "cancelled"), f"task {key} is {task.status}"
        by_unit = [e.removeprefix("unit_status:") for e in task.evidence if e.startswith("unit_status:")]
        reached = flow.step(task.step_id).unit_status
        if by_unit and reached not in (None, "dispatched") and task.agency in agencies_sent:
            # an agency's arrival is its own unit's, not the first unit of another body to arrive
            assert unit_agency(flow, by_unit[0]) == task.agency, (key, by_unit)
        if task.status == "done":
            assert task.completed_at is not None, f"task {key} has no completion time"


def assert_clocks_stopped(flow: Flow) -> None:
    """The SOP's clocks stop with the work: the agencies' inboxes show no running clock on this case's
    tasks, and the public tracking page shows when the case ended instead of a due time."""
    with flow.db.reading() as uow:
        tasks = list(uow.repo(TaskRepository).for_case(flow.case_id))
        case = uow.repo(CaseRepository).get(flow.case_id)
        assert case is not None
        ticket = case.ticket
    for agency in sorted({t.agency_code for t in tasks} - {"diskominfo"}):
        page = flow.page(officer_of(agency))
        page.goto(f"{flow.base}/instansi?tampil=semua")
        for task in (t for t in tasks if t.agency_code == agency):
            clock = page.locator(f"[data-task-id='{task.id}'] [data-task-clock]")
            assert clock.count() == 1 and clock.locator("time.clock").count() == 0, (
                f"task {task.id} still counts"
            )
    public = flow.sessions.browser.new_context(locale="id-ID").new_page()
    try:
        public.goto(f"{flow.base}/lacak/{ticket}")
        assert public.locator("[data-case-clock=stopped]").count() == 1
    finally:
        public.context.close()


def assert_timeline(flow: Flow) -> None:
    """The operator's case page shows every event of the case in its timeline, one entry per event."""
    with flow.db.reading() as uow:
        events = [e.type for e in uow.events.for_case(flow.case_id)]
    page = operator_case(flow)
    shown = page.locator("[data-timeline] li[data-event-type]").evaluate_all(
        "ls => ls.map(l => l.dataset.eventType)"
    )
    assert sorted(shown) == sorted(events)
    _, state = flow.state()
    wanted = {"case_created", "case_resolved", "case_closed"}
    steps = {d.split("@")[0] for d in flow.done}
    if "verifikasi" in steps:
        wanted.add("case_verified")
    if any(flow.step(t.step_id).answer for t in state.tasks.values()):
        wanted |= {"answer_drafted", "answer_approved"}
    if flow.units:
        wanted |= {"unit_dispatched", "unit_en_route", "unit_on_scene", "unit_cleared"}
    if any(not u.startswith(("operator", "supervisor")) for u in flow.users):
        wanted.add("task_accepted")
    assert wanted <= set(shown), f"missing from the timeline: {sorted(wanted - set(shown))}"
    done_tasks = [t for t in state.tasks.values() if t.status == "done"]
    assert shown.count("task_completed") == len(done_tasks), "one completion event per task done"
    assert shown.count("unit_dispatched") == len(flow.units)


@pytest.mark.parametrize("sop_file", SOP_FILES, ids=[p.stem for p in SOP_FILES])
def test_sop_runs_to_closure_through_the_screens(
    sop_file: Path, module_db: Database, module_server: LiveServer, sessions: Sessions
) -> None:
    """One case of this SOP from its usual intake channel to closure, only through the screens."""
    spec = load_sop(sop_file)
    flow = Flow(db=module_db, base=module_server.url, sessions=sessions, spec=spec)
    n = next(_SPOTS)
    lon, lat = 114.36 + 0.012 * (n % 5), -3.05 + 0.012 * (n // 5)
    channel = INTAKE_OVERRIDES.get(spec.code, "lapor" if str(spec.kind) == "complaint" else "112")
    (intake_web_form if channel == "lapor" else intake_112)(flow, lon, lat)
    drive(flow)
    assert_finished(flow)
    assert_timeline(flow)
    assert_clocks_stopped(flow)
    assert_invariants(module_db)
    record(flow, channel)


def record(flow: Flow, channel: str) -> None:
    """Write what the flow did (steps, users, events) as a test artefact; docs/sop-coverage.md cites it."""
    import json

    with flow.db.reading() as uow:
        rows = list(uow.events.for_case(flow.case_id))
        step_of = {t.id: t.step_id for t in uow.repo(TaskRepository).for_case(flow.case_id)}
    completed: dict[str, list[str]] = {}  # step -> who completed its tasks (a unit status shows as system)
    for e in rows:
        if e.type == "task_completed":
            step = step_of.get(int(e.payload.get("task_id") or 0)) or str(e.payload.get("step", "?"))
            completed.setdefault(step, []).append(e.actor)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    trace: dict[str, Any] = {"sop": flow.spec.code, "channel": channel, "done": flow.done}
    trace |= {"users": flow.users, "units": flow.units, "completed": completed}
    trace["events"] = [e.type for e in rows]
    (ARTIFACTS / f"{flow.spec.code}.json").write_text(json.dumps(trace, indent=1), encoding="utf-8")


def test_web_form_p1_is_dispatched_from_the_operator_case_page(
    module_db: Database, module_server: LiveServer, sessions: Sessions
) -> None:
    """A medical emergency reported on the citizen's web form (a P1 that no 112 call carries) gets units
    from the operator's case page: the recommended ambulance is sent, the SOP's disposition and dispatch
    steps are done by that one action, the crew page shows the assignment; then it runs to closure."""
    spec = load_sop(ROOT / "kotapintar" / "sop" / "data" / "sop" / "darurat_medis.yaml")
    flow = Flow(db=module_db, base=module_server.url, sessions=sessions, spec=spec)
    intake_web_form(flow, 114.30, -3.12)
    with module_db.reading() as uow:
        case = uow.repo(CaseRepository).get(flow.case_id)
        assert case is not None and case.priority == "P1" and case.channel == "web"
        ticket = case.ticket
    do_dispatch(flow, None)
    assert flow.units and all(u.startswith("AMB-") for u in flow.units), flow.units
    _, state = flow.state()
    assert state.steps["disposisi"].status == "done" and state.steps["berangkatkan_unit"].status == "done"
    with module_db.reading() as uow:
        sent = [e for e in uow.events.for_case(flow.case_id) if e.type == "unit_dispatched"]
    assert [e.payload.get("unit") or e.payload.get("unit_code") for e in sent] == flow.units
    assert {e.actor for e in sent} == {"user:operator"}
    page = flow.page(officer_of("psc119"))
    page.goto(f"{flow.base}/unit/{flow.units[0]}")
    assert ticket is not None and ticket in page.inner_text("main")
    drive(flow)
    assert_finished(flow)
    assert_invariants(module_db)


def test_agency_head_of_pupr_is_kept_out_of_a_police_case_and_approves_pupr_answers(
    module_db: Database, module_server: LiveServer, sessions: Sessions
) -> None:
    """The head of PUPR (role agency_head) gets 404/403 for a Polres case on every screen, cannot act on
    its task, and approves the answer his officer drafted on a PUPR complaint from the agency inbox."""
    police = Flow(
        db=module_db,
        base=module_server.url,
        sessions=sessions,
        spec=load_sop(SOP_FILES[0].with_name("kriminalitas.yaml")),
    )
    intake_112(police, 114.31, -3.13)
    do_dispatch(police, None)
    polres_task = next(t for t in open_tasks(police) if t.agency_code == "polres")
    head = police.page("pupr.kepala")
    response = head.goto(f"{police.base}/instansi/kasus/{police.case_id}")
    assert response is not None and response.status == 404
    response = head.goto(f"{police.base}/operator/kasus/{police.case_id}")
    assert response is not None and response.status == 403
    head.goto(f"{police.base}/instansi")
    assert head.locator(f"[data-task-id='{polres_task.id}']").count() == 0
    token = head.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token, "the page carries a CSRF token"
    for action in ("terima", "selesai"):
        answer = head.request.post(
            f"{police.base}/instansi/tugas/{polres_task.id}/{action}", form={"csrf_token": token}
        )
        assert answer.status == 404, (action, answer.status)
    assert next(t for t in open_tasks(police) if t.id == polres_task.id).status == "pending"

    road = Flow(
        db=module_db,
        base=module_server.url,
        sessions=sessions,
        spec=load_sop(SOP_FILES[0].with_name("jalan_rusak.yaml")),
    )
    intake_web_form(road, 114.32, -3.14)
    for task in open_tasks(road)[:1]:
        do_verify(road, task)
    do_dispose(road, None)
    answer_task = next(t for t in open_tasks(road) if road.step(t.step_id).answer)
    do_answer(road, answer_task)
    with module_db.reading() as uow:
        approvals = [e for e in uow.events.for_case(road.case_id) if e.type == "answer_approved"]
    assert [e.actor for e in approvals] == ["user:pupr.kepala"]
    drive(road)
    drive(police)
    assert_invariants(module_db)
