"""The SOP engine as a pure function: decide(spec, state, event, ctx) -> Decision(new state, commands).

The engine never reads a clock or a database: time comes in the event (`at`), the working calendar and the
command-center agency come in the context. The services execute the returned commands in the same
transaction as the event that caused them and store `state.model_dump(mode="json")`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from kotapintar.cases.lifecycle import CASE_TRANSITIONS, CaseStatus
from kotapintar.core.errors import Conflict, IllegalTransition, NotFound, PermissionDenied, ValidationFailed
from kotapintar.sop.calendar import WorkingCalendar
from kotapintar.sop.conditions import AGENCY_CODES, CASE_FIELDS, FieldType, evaluate
from kotapintar.sop.spec import CITIZEN, SELECTOR, OutputDecl, SopSpec, Step, StepKind

SCHEMA_VERSION = 1
TimerKind = Literal["reminder", "due", "escalation", "auto_close"]

# --- instance state ----------------------------------------------------------------------------------


class TaskStatus(StrEnum):
    """The one documented set of task states."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    ESCALATED = "escalated"


OPEN_TASK_STATUSES = frozenset(
    {TaskStatus.PENDING, TaskStatus.ACCEPTED, TaskStatus.IN_PROGRESS, TaskStatus.ESCALATED}
)
FINAL_TASK_STATUSES = frozenset({TaskStatus.DONE, TaskStatus.REJECTED, TaskStatus.CANCELLED})

TASK_TRANSITIONS: dict[TaskStatus, frozenset[TaskStatus]] = {
    TaskStatus.PENDING: frozenset(
        {
            TaskStatus.ACCEPTED,
            TaskStatus.IN_PROGRESS,
            TaskStatus.DONE,
            TaskStatus.REJECTED,
            TaskStatus.CANCELLED,
            TaskStatus.ESCALATED,
        }
    ),
    TaskStatus.ACCEPTED: frozenset(
        {
            TaskStatus.IN_PROGRESS,
            TaskStatus.DONE,
            TaskStatus.REJECTED,
            TaskStatus.CANCELLED,
            TaskStatus.ESCALATED,
        }
    ),
    TaskStatus.IN_PROGRESS: frozenset({TaskStatus.DONE, TaskStatus.CANCELLED, TaskStatus.ESCALATED}),
    TaskStatus.ESCALATED: frozenset(
        {
            TaskStatus.ACCEPTED,
            TaskStatus.IN_PROGRESS,
            TaskStatus.DONE,
            TaskStatus.REJECTED,
            TaskStatus.CANCELLED,
            TaskStatus.ESCALATED,
        }
    ),
    TaskStatus.DONE: frozenset(),
    TaskStatus.REJECTED: frozenset(),
    TaskStatus.CANCELLED: frozenset(),
}


class _State(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Rejection(_State):
    """A `bukan_wewenang` refusal: why, and which agency should act instead."""

    reason: str
    suggested_agency: str
    at: AwareDatetime
    replaced_by: str | None = None


class TaskState(_State):
    """One task: one step of one case for one agency."""

    key: str
    step_id: str
    activation: int
    actor_id: str
    agency: str
    position: str
    via_responsible: bool = False
    status: TaskStatus = TaskStatus.PENDING
    created_at: AwareDatetime
    due_at: AwareDatetime | None = None
    accepted_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    assignee: str | None = None
    handovers: int = 0
    progress_count: int = 0
    evidence: list[str] = []
    outputs: dict[str, Any] = {}
    breached: bool = False
    escalation_rung: int = 0
    timer_index: int = 0
    timer_key: str | None = None
    rejection: Rejection | None = None
    answer_draft: str | None = None
    answer_approved_by: str | None = None
    due_override: AwareDatetime | None = None  # set by the operator; reminders and escalations follow it


class StepState(_State):
    """Where one step stands in this case."""

    status: Literal["idle", "waiting", "active", "done"] = "idle"
    activation: int = 0
    started_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    arrivals: list[str] = []
    outcome: Literal["yes", "no"] | None = None


class TimerRef(_State):
    """An active timer the engine expects to fire (stale keys are ignored when they do)."""

    kind: Literal["reminder", "due", "escalation", "auto_close"]
    due_at: AwareDatetime
    task_key: str | None = None
    rung: int = 0
    percent: int = 0


class InstanceState(_State):
    """The running state of one SOP instance (one case); persisted as JSON with its schema version."""

    schema_version: int = SCHEMA_VERSION
    sop_code: str
    sop_version: str = ""
    status: Literal["running", "awaiting_closure", "closed", "cancelled"] = "running"
    case_ref: str
    case_status: CaseStatus = CaseStatus.RECEIVED
    opened_at: AwareDatetime
    resolved_at: AwareDatetime | None = None
    facts: dict[str, Any] = {}
    responsible_agency: str
    informed_agencies: list[str] = []
    steps: dict[str, StepState] = {}
    tasks: dict[str, TaskState] = {}
    timers: dict[str, TimerRef] = {}
    outputs: dict[str, dict[str, Any]] = {}
    task_seq: int = 0

    def open_tasks(self) -> list[TaskState]:
        """Tasks somebody still has to act on."""
        return [t for t in self.tasks.values() if t.status in OPEN_TASK_STATUSES]


def upgrade_state(data: Mapping[str, Any]) -> InstanceState:
    """Load stored state of any known schema version, upgrading it to the current one."""
    version = int(data.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise ValidationFailed(
            f"Versi skema state SOP {version} lebih baru dari yang dikenal ({SCHEMA_VERSION})."
        )
    # Upgrade functions go here as `if version == 1: data = _v1_to_v2(data)`.
    return InstanceState.model_validate(data)


# --- events ------------------------------------------------------------------------------------------


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    at: AwareDatetime
    actor: str = "system"


class CaseOpened(_Event):
    """A case was created and this SOP starts; facts feed guards, routing resolves `{responsible_agency}`."""

    type: Literal["case_opened"] = "case_opened"
    case_ref: str
    responsible_agency: str
    informed_agencies: list[str] = []
    facts: dict[str, Any] = {}
    sop_version: str = ""


class TaskAccepted(_Event):
    """The agency took the task."""

    type: Literal["task_accepted"] = "task_accepted"
    task_key: str


class TaskRejected(_Event):
    """The agency says `bukan_wewenang`: a reason and the agency that should act instead."""

    type: Literal["task_rejected"] = "task_rejected"
    task_key: str
    reason: str
    suggested_agency: str


class TaskHandedOver(_Event):
    """The task moved to another officer or unit of the same agency."""

    type: Literal["task_handed_over"] = "task_handed_over"
    task_key: str
    to: str
    note: str = ""


class TaskProgress(_Event):
    """A progress note, optionally with evidence kinds (e.g. 'foto')."""

    type: Literal["task_progress"] = "task_progress"
    task_key: str
    note: str = ""
    evidence: list[str] = []


class TaskCompleted(_Event):
    """The task is done with its declared outputs and required evidence."""

    type: Literal["task_completed"] = "task_completed"
    task_key: str
    outputs: dict[str, Any] = {}
    evidence: list[str] = []
    note: str = ""


class TimerFired(_Event):
    """A timer the engine started has come due (stale or unknown keys are ignored)."""

    type: Literal["timer_fired"] = "timer_fired"
    key: str
    kind: Literal["reminder", "due", "escalation", "auto_close"] | None = None
    rung: int | None = None


class AnswerDrafted(_Event):
    """The agency drafted the answer to a complaint (LAPOR! practice); not yet visible to the citizen."""

    type: Literal["answer_drafted"] = "answer_drafted"
    task_key: str
    text: str


class AnswerApproved(_Event):
    """The agency's pejabat approved the drafted answer; it completes the task and reaches the citizen."""

    type: Literal["answer_approved"] = "answer_approved"
    task_key: str
    approver: str


class ClosureConfirmed(_Event):
    """The second-party check: the citizen or the operator confirms (or disputes) the resolution."""

    type: Literal["closure_confirmed"] = "closure_confirmed"
    by: Literal["citizen", "operator"]
    satisfied: bool = True
    note: str = ""


class TaskDueSet(_Event):
    """The operator set a task's due time (e.g. "fix within 4 hours" on disposition); the task keeps one clock."""

    type: Literal["task_due_set"] = "task_due_set"
    task_key: str
    due_at: AwareDatetime


class CaseRerouted(_Event):
    """The operator routed the case to another responsible agency (after a `bukan_wewenang`)."""

    type: Literal["case_rerouted"] = "case_rerouted"
    new_agency: str
    reason: str = ""


class CaseCancelled(_Event):
    """The case ended without completing the SOP (rejected as not a complaint, or merged)."""

    type: Literal["case_cancelled"] = "case_cancelled"
    reason: str
    final_status: Literal["rejected", "merged"] = "rejected"


class CaseResolvedManually(_Event):
    """Staff marked the case resolved outside the SOP steps (the case service already moved its status)."""

    type: Literal["case_resolved_manually"] = "case_resolved_manually"
    resolution: str = ""


class UnitStatusReached(_Event):
    """A unit sent to the case reached a status (dispatched, en route, on scene, cleared).

    Steps marked `unit_status` complete on it: dispatch moves the SOP, no officer has to click "done" for
    "unit departed" or "unit arrived" (their times are the unit's own status times).
    """

    type: Literal["unit_status_reached"] = "unit_status_reached"
    unit: str
    status: Literal["dispatched", "en_route", "on_scene", "cleared"]
    # The unit's agency and the agencies of every unit sent to the case: an agency's arrival step is its own
    # units' (an ambulance arriving first does not complete the fire crew's arrival); a step whose agency
    # sent no unit moves with any unit, as does dispatch itself (one decision sends them all).
    agency: str | None = None
    agencies_on_case: list[str] = []


# A status reached implies every earlier one (a unit on scene has certainly been dispatched).
UNIT_STATUS_ORDER: dict[str, int] = {"dispatched": 1, "en_route": 2, "on_scene": 3, "cleared": 4}


Event = Annotated[
    CaseOpened
    | TaskAccepted
    | TaskRejected
    | TaskHandedOver
    | TaskProgress
    | TaskCompleted
    | TimerFired
    | AnswerDrafted
    | AnswerApproved
    | ClosureConfirmed
    | CaseRerouted
    | CaseCancelled
    | CaseResolvedManually
    | UnitStatusReached
    | TaskDueSet,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

# --- commands ----------------------------------------------------------------------------------------


class _Command(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CreateTask(_Command):
    """Create a task for a concrete agency and position, due at `due_at`."""

    type: Literal["create_task"] = "create_task"
    task_key: str
    step_id: str
    kegiatan: str
    agency: str
    position: str
    due_at: AwareDatetime | None
    answer_required: bool = False
    replaces: str | None = None


class SetTaskStatus(_Command):
    """A task changed status (accepted, in_progress, done, rejected, cancelled, escalated)."""

    type: Literal["set_task_status"] = "set_task_status"
    task_key: str
    status: TaskStatus
    reason: str = ""


class SetTaskDue(_Command):
    """The task's due time changed (its row and its clock on every screen follow)."""

    type: Literal["set_task_due"] = "set_task_due"
    task_key: str
    due_at: AwareDatetime


class AssignTask(_Command):
    """A task was handed over to another officer or unit."""

    type: Literal["assign_task"] = "assign_task"
    task_key: str
    assignee: str


class StartTimer(_Command):
    """Start (upsert) a durable timer; the scheduler sends TimerFired(key) at `due_at`."""

    type: Literal["start_timer"] = "start_timer"
    key: str
    due_at: AwareDatetime
    kind: Literal["reminder", "due", "escalation", "auto_close"]
    payload: dict[str, Any] = {}


class CancelTimer(_Command):
    """Cancel a timer (a no-op when it already fired or never existed)."""

    type: Literal["cancel_timer"] = "cancel_timer"
    key: str


class Notify(_Command):
    """Tell an audience something: template key, audience ('citizen' or 'agency.position'), rendered texts."""

    type: Literal["notify"] = "notify"
    template_key: str
    audience: str
    vars: dict[str, str] = {}
    texts: dict[str, str] = {}


class Escalate(_Command):
    """A task passed an escalation rung: tell the target (agency + position)."""

    type: Literal["escalate"] = "escalate"
    task_key: str
    rung: int
    percent: int
    target_agency: str
    target_position: str


class ChangeCaseStatus(_Command):
    """Move the case to a status (every emitted move is allowed by the case lifecycle)."""

    type: Literal["change_case_status"] = "change_case_status"
    status: CaseStatus
    reason: str = ""


class RecordMetric(_Command):
    """A task metric: time_to_accept / time_to_complete in seconds, met or breached its standard."""

    type: Literal["record_metric"] = "record_metric"
    task_key: str
    name: Literal["time_to_accept", "time_to_complete"]
    seconds: float
    met: bool | None = None


Command = Annotated[
    CreateTask
    | SetTaskStatus
    | AssignTask
    | StartTimer
    | CancelTimer
    | Notify
    | Escalate
    | ChangeCaseStatus
    | RecordMetric
    | SetTaskDue,
    Field(discriminator="type"),
]
COMMAND_ADAPTER: TypeAdapter[Command] = TypeAdapter(Command)


@dataclass(frozen=True)
class Decision:
    """What the engine decided: the new state and the commands to execute with the event."""

    state: InstanceState
    commands: tuple[Command, ...]


BUILTIN_TEMPLATES: dict[str, dict[str, str]] = {
    "task_reminder": {
        "id": "Pengingat: tugas '{kegiatan}' kasus {case_ref} jatuh tempo {due_at}.",
        "en": "Reminder: task '{kegiatan}' of case {case_ref} is due {due_at}.",
    },
    "task_overdue": {
        "id": "Tugas '{kegiatan}' kasus {case_ref} melewati batas waktu ({due_at}).",
        "en": "Task '{kegiatan}' of case {case_ref} is overdue ({due_at}).",
    },
    "task_escalated": {
        "id": "Eskalasi: tugas '{kegiatan}' kasus {case_ref} ({agency}) belum selesai sejak {due_at}.",
        "en": "Escalation: task '{kegiatan}' of case {case_ref} ({agency}) not done since {due_at}.",
    },
    "reroute_needed": {
        "id": "{agency} menolak tugas kasus {case_ref} (bukan wewenang): {reason}. Mohon disposisi ulang.",
        "en": "{agency} rejected a task of case {case_ref} (not its authority): {reason}. Please re-route.",
    },
    "answer_needs_approval": {
        "id": "Draf jawaban kasus {case_ref} menunggu persetujuan Anda.",
        "en": "A draft answer for case {case_ref} awaits your approval.",
    },
}


@dataclass(frozen=True)
class EngineContext:
    """What decide() needs besides spec, state and event: calendar, command-center agency, known agencies."""

    calendar: WorkingCalendar
    command_center_agency: str = "diskominfo"
    known_agencies: frozenset[str] = AGENCY_CODES
    templates: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: dict(BUILTIN_TEMPLATES))


# --- the engine --------------------------------------------------------------------------------------


class _Run:
    """One decide() call: a private working copy of the state and the commands emitted so far."""

    def __init__(self, spec: SopSpec, state: InstanceState, ctx: EngineContext, at: datetime) -> None:
        self.spec = spec
        self.s = state
        self.ctx = ctx
        self.at = at
        self.cmds: list[Command] = []

    # helpers ---------------------------------------------------------------------------------------
    def emit(self, cmd: Command) -> None:
        self.cmds.append(cmd)

    def fmt_local(self, moment: datetime | None) -> str:
        if moment is None:
            return "-"
        local = moment.astimezone(self.ctx.calendar.tz)
        return local.strftime("%d/%m/%Y %H:%M ") + (local.tzname() or "")

    def vars_for(self, task: TaskState | None = None, **extra: str) -> dict[str, str]:
        out = {
            "case_ref": self.s.case_ref,
            "service": str(self.s.facts.get("service", self.spec.code)),
            "sop": self.spec.identitas.judul,
            "status": self.s.case_status.value,
        }
        if task is not None:
            step = self.spec.step(task.step_id)
            out.update(
                step=step.id, kegiatan=step.kegiatan, agency=task.agency, due_at=self.fmt_local(task.due_at)
            )
        out.update(extra)
        return out

    def render(self, key: str, vars_: Mapping[str, str]) -> dict[str, str]:
        texts = self.spec.templates.get(key) or self.ctx.templates.get(key) or {}
        safe = _SafeVars(vars_)
        # str.format_map: the same grammar as string.Formatter (the loader checks the fields), in C.
        return {loc: text.format_map(safe) for loc, text in texts.items()}

    def notify(self, key: str, audiences: list[str], vars_: dict[str, str]) -> None:
        texts = self.render(key, vars_)
        for audience in audiences:
            self.emit(Notify(template_key=key, audience=audience, vars=vars_, texts=texts))

    def audiences(self, audience: str, task: TaskState | None) -> list[str]:
        if audience == "citizen":
            return ["citizen"]
        if audience == "command_center":
            return [f"{self.ctx.command_center_agency}.operator"]
        if audience == "responsible_agency":
            return [f"{self.s.responsible_agency}.officer"]
        if audience == "informed_agencies":
            return [f"{a}.liaison" for a in self.s.informed_agencies]
        if audience == "task_agency":
            return [f"{task.agency}.{task.position}"] if task else []
        return [f"{a}.{p}" for a, p, _ in self.resolve(audience)]

    def fire(
        self, trigger: str, step_id: str | None = None, task: TaskState | None = None, **extra: str
    ) -> None:
        for note in self.spec.notifications_for(trigger, step_id):
            self.notify(note.template, self.audiences(note.audience, task), self.vars_for(task, **extra))

    def resolve(self, selector: str) -> list[tuple[str, str, bool]]:
        """(agency, position, via_responsible) for a selector; `{informed_agencies}` fans out."""
        if selector == CITIZEN:
            return []
        match = SELECTOR.match(selector)
        if match is None:
            raise ValidationFailed(f"Selector pelaksana '{selector}' tidak valid.")
        agency, position = match.group(1), match.group(2)
        if agency == "command_center":
            return [(self.ctx.command_center_agency, position, False)]
        if agency == "{responsible_agency}":
            return [(self.s.responsible_agency, position, True)]
        if agency == "{informed_agencies}":
            return [(a, position, False) for a in self.s.informed_agencies]
        return [(agency, position, False)]

    def set_case_status(self, target: CaseStatus, reason: str = "") -> None:
        path = _status_path(self.s.case_status, target)
        for status in path:
            self.emit(ChangeCaseStatus(status=status, reason=reason))
            self.s.case_status = status

    def task(self, key: str) -> TaskState:
        task = self.s.tasks.get(key)
        if task is None:
            raise NotFound(f"Tugas '{key}' tidak ada pada kasus {self.s.case_ref}.", code="task_not_found")
        return task

    def move_task(self, task: TaskState, target: TaskStatus, reason: str = "") -> None:
        if target not in TASK_TRANSITIONS[task.status]:
            raise IllegalTransition(
                f"Tugas '{task.key}' berstatus '{task.status.value}' tidak dapat menjadi '{target.value}'.",
                current=task.status.value,
                target=target.value,
            )
        task.status = target
        self.emit(SetTaskStatus(task_key=task.key, status=target, reason=reason))

    def stop_timer(self, task: TaskState) -> None:
        if task.timer_key is not None:
            self.emit(CancelTimer(key=task.timer_key))
            self.s.timers.pop(task.timer_key, None)
            task.timer_key = None

    # timers ----------------------------------------------------------------------------------------
    def schedule(self, step: Step) -> list[tuple[int, TimerKind, int]]:
        esc = self.spec.escalation_for(step)
        entries: list[tuple[int, TimerKind, int]] = [(p, "reminder", 0) for p in esc.reminders]
        entries.append((100, "due", 0))
        entries.extend((r.at, "escalation", i + 1) for i, r in enumerate(esc.ladder))
        order = {"reminder": 0, "due": 1, "escalation": 2}
        return sorted(set(entries), key=lambda e: (e[0], order[e[1]], e[2]))

    def timer_time(self, task: TaskState, step: Step, percent: int) -> datetime:
        """When a task's timer at `percent` of its time standard falls (of the operator's due when set)."""
        if task.due_override is not None:
            return task.created_at + (task.due_override - task.created_at) * (percent / 100)
        assert step.waktu is not None
        return self.ctx.calendar.at_fraction(task.created_at, step.waktu, percent / 100)

    def start_next_timer(self, task: TaskState) -> None:
        step = self.spec.step(task.step_id)
        if step.waktu is None and task.due_override is None:
            return
        entries = self.schedule(step)
        if task.timer_index >= len(entries):
            task.timer_key = None
            return
        percent, kind, rung = entries[task.timer_index]
        due = self.timer_time(task, step, percent)
        key = f"{task.key}/{kind}/{percent}"
        task.timer_key = key
        self.s.timers[key] = TimerRef(kind=kind, due_at=due, task_key=task.key, rung=rung, percent=percent)
        self.emit(
            StartTimer(
                key=key,
                due_at=due,
                kind=kind,
                payload={"task_key": task.key, "rung": rung, "percent": percent},
            )
        )

    # flow ------------------------------------------------------------------------------------------
    def activate(self, step_id: str, came_from: str | None) -> None:
        step = self.spec.step(step_id)
        st = self.s.steps[step_id]
        if step.wait_for and (came_from is None or came_from in step.wait_for):  # a loop-back is not gated
            if came_from is not None and came_from in step.wait_for and came_from not in st.arrivals:
                st.arrivals.append(came_from)
            ready = (
                all(w in st.arrivals for w in step.wait_for) if step.wait_mode == "all" else bool(st.arrivals)
            )
            if not ready:
                st.status = "waiting"
                return
        if st.status == "active":
            return  # a second branch reached a step that is already running
        st.status = "active"
        st.activation += 1
        st.started_at = self.at
        st.completed_at = None
        st.arrivals = []
        st.outcome = None
        self.fire("step_started", step_id)
        if step.kind is StepKind.END:
            self.complete_step(step)
            self.finish()
            return
        if not step.creates_tasks:
            self.complete_step(step)
            return
        created = 0
        for actor_id in step.actors:
            actor = self.spec.actor(actor_id)
            for agency, position, via in self.resolve(actor.selector):
                if any(
                    t.agency == agency and t.step_id == step_id and t.activation == st.activation
                    for t in self.s.tasks.values()
                ):
                    continue
                self.create_task(step, actor_id, agency, position, via)
                created += 1
        if created == 0:
            self.complete_step(step)  # e.g. `{informed_agencies}` and the case informs nobody

    def create_task(
        self, step: Step, actor_id: str, agency: str, position: str, via: bool, replaces: str | None = None
    ) -> TaskState:
        self.s.task_seq += 1
        key = f"{step.id}.{agency}.{self.s.task_seq}"
        due = self.ctx.calendar.add_duration(self.at, step.waktu) if step.waktu is not None else None
        task = TaskState(
            key=key,
            step_id=step.id,
            activation=self.s.steps[step.id].activation,
            actor_id=actor_id,
            agency=agency,
            position=position,
            via_responsible=via,
            created_at=self.at,
            due_at=due,
        )
        self.s.tasks[key] = task
        self.emit(
            CreateTask(
                task_key=key,
                step_id=step.id,
                kegiatan=step.kegiatan,
                agency=agency,
                position=position,
                due_at=due,
                answer_required=step.answer,
                replaces=replaces,
            )
        )
        self.start_next_timer(task)
        self.fire("task_created", step.id, task)
        return task

    def lookup(self, name: str) -> Any:
        if name.startswith("steps."):
            _, step_id, _, output = name.split(".", 3)
            return self.s.outputs[step_id][output]
        return self.s.facts[name]

    def complete_step(self, step: Step) -> None:
        st = self.s.steps[step.id]
        st.status = "done"
        st.completed_at = self.at
        outputs: dict[str, Any] = {}
        for task in self.s.tasks.values():
            if (
                task.step_id == step.id
                and task.activation == st.activation
                and task.status is TaskStatus.DONE
            ):
                outputs.update(task.outputs)
        if outputs or step.id not in self.s.outputs:
            self.s.outputs[step.id] = outputs
        for task in list(self.s.tasks.values()):  # join `any`: the others are no longer needed
            if task.step_id == step.id and task.status in OPEN_TASK_STATUSES:
                self.stop_timer(task)
                self.move_task(task, TaskStatus.CANCELLED, reason="langkah sudah selesai oleh instansi lain")
        self.fire("step_completed", step.id)
        if step.kind is StepKind.END:
            return
        if step.decision is not None:
            yes = evaluate(step.decision.if_, self.lookup)
            st.outcome = "yes" if yes else "no"
            targets = [step.decision.yes if yes else step.decision.no]
        else:
            yes = True
            targets = step.next_ids
        if step.case_status is not None and yes:
            self.set_case_status(step.case_status, reason=step.kegiatan)
        for target in targets:
            if self.s.status != "running":
                break
            self.activate(target, step.id)

    def step_finished(self, step: Step) -> bool:
        st = self.s.steps[step.id]
        tasks = [t for t in self.s.tasks.values() if t.step_id == step.id and t.activation == st.activation]
        if step.join == "any":
            return any(t.status is TaskStatus.DONE for t in tasks)
        for t in tasks:
            if t.status in OPEN_TASK_STATUSES:
                return False
            if t.status is TaskStatus.REJECTED and (t.rejection is None or t.rejection.replaced_by is None):
                return False
        return any(t.status is TaskStatus.DONE for t in tasks)

    def finish(self) -> None:
        for task in self.s.open_tasks():
            self.stop_timer(task)
            self.move_task(task, TaskStatus.CANCELLED, reason="SOP selesai")
        self.s.resolved_at = self.at
        self.set_case_status(CaseStatus.RESOLVED, reason="SOP selesai")
        self.fire("case_resolved")
        closure = self.spec.closure
        if not closure.confirm_by and closure.auto_close_after is None:
            self.close("tanpa konfirmasi")
            return
        self.s.status = "awaiting_closure"
        if closure.auto_close_after is not None:
            due = self.ctx.calendar.add_duration(self.at, closure.auto_close_after)
            self.s.timers["case/auto_close"] = TimerRef(kind="auto_close", due_at=due)
            self.emit(StartTimer(key="case/auto_close", due_at=due, kind="auto_close", payload={}))

    def close(self, reason: str) -> None:
        if "case/auto_close" in self.s.timers:
            self.s.timers.pop("case/auto_close")
            self.emit(CancelTimer(key="case/auto_close"))
        self.s.status = "closed"
        self.set_case_status(CaseStatus.CLOSED, reason=reason)
        self.fire("case_closed")

    # task work -------------------------------------------------------------------------------------
    def ensure_open(self, task: TaskState) -> None:
        if task.status not in OPEN_TASK_STATUSES:
            raise IllegalTransition(
                f"Tugas '{task.key}' sudah {task.status.value}; tidak ada yang bisa dikerjakan lagi.",
                current=task.status.value,
            )

    def implicit_accept(self, task: TaskState) -> None:
        if task.accepted_at is None:
            task.accepted_at = self.at
            step = self.spec.step(task.step_id)
            met = None
            if step.accept_within is not None:
                met = self.at <= self.ctx.calendar.add_duration(task.created_at, step.accept_within)
            self.emit(
                RecordMetric(
                    task_key=task.key,
                    name="time_to_accept",
                    seconds=(self.at - task.created_at).total_seconds(),
                    met=met,
                )
            )
            if self.s.case_status is CaseStatus.ASSIGNED and task.agency != self.ctx.command_center_agency:
                self.set_case_status(CaseStatus.IN_PROGRESS, reason="tugas diterima")

    def finish_task(self, task: TaskState, outputs: dict[str, Any], evidence: list[str]) -> None:
        self.implicit_accept(task)
        self.stop_timer(task)
        task.outputs = outputs
        task.evidence = sorted(set(task.evidence) | set(evidence))
        task.completed_at = self.at
        self.move_task(task, TaskStatus.DONE)
        self.emit(
            RecordMetric(
                task_key=task.key,
                name="time_to_complete",
                seconds=(self.at - task.created_at).total_seconds(),
                met=None if task.due_at is None else self.at <= task.due_at,
            )
        )
        step = self.spec.step(task.step_id)
        if self.s.steps[step.id].status == "active" and self.step_finished(step):
            self.complete_step(step)


class _SafeVars(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _status_path(current: CaseStatus, target: CaseStatus) -> list[CaseStatus]:
    """The shortest lifecycle path from current to target (empty when equal or unreachable)."""
    if current == target:
        return []
    prev: dict[CaseStatus, CaseStatus] = {}
    todo = deque([current])
    while todo:
        node = todo.popleft()
        for nxt in sorted(CASE_TRANSITIONS[node], key=lambda s: list(CaseStatus).index(s)):
            if (
                nxt in prev
                or nxt == current
                or (nxt in (CaseStatus.REJECTED, CaseStatus.MERGED) and nxt != target)
            ):
                continue
            prev[nxt] = node
            if nxt == target:
                path = [nxt]
                while prev[path[-1]] != current:
                    path.append(prev[path[-1]])
                return list(reversed(path))
            todo.append(nxt)
    return []


def _check_outputs(step: Step, outputs: Mapping[str, Any]) -> None:
    problems: list[str] = []
    for name, decl in step.outputs.items():
        if name not in outputs:
            if decl.required:
                problems.append(f"output '{name}' wajib diisi")
            continue
        if not _output_ok(decl, outputs[name]):
            problems.append(
                f"output '{name}' harus bertipe {decl.type.value}"
                + (f" ({', '.join(decl.choices)})" if decl.choices else "")
            )
    extra = sorted(set(outputs) - set(step.outputs))
    if extra:
        problems.append(f"output tidak dikenal: {', '.join(extra)}")
    if problems:
        raise ValidationFailed(
            f"Langkah “{step.kegiatan}” belum dapat diselesaikan: " + "; ".join(problems) + ".",
            code="sop_output_invalid",
        )


def _output_ok(decl: OutputDecl, value: Any) -> bool:
    if decl.type is FieldType.BOOL:
        return isinstance(value, bool)
    if decl.type is FieldType.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if decl.type is FieldType.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if decl.type is FieldType.ENUM:
        return isinstance(value, str) and value in (decl.choices or [])
    return isinstance(value, str)


def _facts(event: CaseOpened, ctx: EngineContext) -> dict[str, Any]:
    facts = dict(event.facts)
    local = event.at.astimezone(ctx.calendar.tz)
    facts.setdefault("hour", local.hour)
    facts.setdefault("weekday", local.weekday())
    facts["responsible_agency"] = event.responsible_agency
    for name, value in facts.items():
        spec = CASE_FIELDS.get(name)
        if spec is None or value is None:
            continue
        ok = {
            FieldType.BOOL: isinstance(value, bool),
            FieldType.INT: isinstance(value, int) and not isinstance(value, bool),
            FieldType.NUMBER: isinstance(value, int | float) and not isinstance(value, bool),
        }.get(spec.type, isinstance(value, str) and (spec.choices is None or value in spec.choices))
        if not ok:
            raise ValidationFailed(
                f"Fakta kasus '{name}' bernilai {value!r}, tidak cocok dengan tipe {spec.type.value}."
            )
    return facts


def new_state(spec: SopSpec, event: CaseOpened, ctx: EngineContext) -> InstanceState:
    """The empty instance a CaseOpened event starts from."""
    for agency in [event.responsible_agency, *event.informed_agencies]:
        if agency not in ctx.known_agencies:
            raise ValidationFailed(f"Instansi '{agency}' tidak dikenal.", code="unknown_agency")
    return InstanceState(
        sop_code=spec.code,
        sop_version=event.sop_version,
        case_ref=event.case_ref,
        opened_at=event.at,
        facts=_facts(event, ctx),
        responsible_agency=event.responsible_agency,
        informed_agencies=list(
            dict.fromkeys(a for a in event.informed_agencies if a != event.responsible_agency)
        ),
        steps={s.id: StepState() for s in spec.steps},
        case_status=CaseStatus(str(event.facts.get("case_status", CaseStatus.RECEIVED.value))),
    )


def decide(
    spec: SopSpec, state: InstanceState | None, event: _Event, ctx: EngineContext, *, owned: bool = False
) -> Decision:
    """Apply one event to one SOP instance: the new state and the commands to run in the same transaction.

    Pure: the input state is not modified, unless `owned` says the caller made it for this call alone
    (the runtime validates it fresh from the stored JSON), which skips the working copy. Raises a DomainError (with a code) when the event is not allowed
    now; a TimerFired for a timer that is no longer active is ignored (empty decision).
    """
    if isinstance(event, CaseOpened):
        if state is not None:
            raise Conflict(f"SOP kasus {state.case_ref} sudah berjalan.", code="sop_already_started")
        run = _Run(spec, new_state(spec, event, ctx), ctx, event.at)
        run.fire("case_opened")
        run.activate(spec.start_id, None)
        return Decision(run.s, tuple(run.cmds))
    if state is None:
        raise Conflict("SOP belum dimulai: kirim CaseOpened lebih dulu.", code="sop_not_started")
    if state.schema_version != SCHEMA_VERSION:
        raise ValidationFailed("State SOP memakai versi skema lain; muat dengan upgrade_state().")
    if isinstance(event, TimerFired):
        if event.key not in state.timers:
            return Decision(state, ())
    elif state.status in ("closed", "cancelled"):
        raise Conflict(f"Kasus {state.case_ref} sudah {state.status}.", code="case_finished")
    run = _Run(spec, state if owned else _clone(state), ctx, event.at)
    _HANDLERS[type(event)](run, event)
    return Decision(run.s, tuple(run.cmds))


def _clone(state: InstanceState) -> InstanceState:
    """A copy deep enough for decide() to mutate (every mutable part it touches), much faster than deepcopy."""
    tasks = {
        key: t.model_copy(
            update={
                "evidence": list(t.evidence),
                "outputs": dict(t.outputs),
                "rejection": t.rejection.model_copy() if t.rejection is not None else None,
            }
        )
        for key, t in state.tasks.items()
    }
    steps = {key: st.model_copy(update={"arrivals": list(st.arrivals)}) for key, st in state.steps.items()}
    return state.model_copy(
        update={
            "facts": dict(state.facts),
            "informed_agencies": list(state.informed_agencies),
            "steps": steps,
            "tasks": tasks,
            "timers": dict(state.timers),  # TimerRef values are replaced, never mutated
            "outputs": {k: dict(v) for k, v in state.outputs.items()},
        }
    )


def _running(run: _Run) -> None:
    if run.s.status != "running":
        raise Conflict(
            f"Kasus {run.s.case_ref} tidak sedang berjalan ({run.s.status}).", code="case_not_running"
        )


def _on_accepted(run: _Run, event: _Event) -> None:
    assert isinstance(event, TaskAccepted)
    _running(run)
    task = run.task(event.task_key)
    if task.status not in (TaskStatus.PENDING, TaskStatus.ESCALATED) or task.accepted_at is not None:
        raise IllegalTransition(f"Tugas '{task.key}' sudah diterima atau selesai ({task.status.value}).")
    run.implicit_accept(task)
    run.move_task(task, TaskStatus.ACCEPTED)


def _on_rejected(run: _Run, event: _Event) -> None:
    assert isinstance(event, TaskRejected)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    if not event.reason.strip():
        raise ValidationFailed("Penolakan 'bukan wewenang' wajib disertai alasan.", code="reason_required")
    if event.suggested_agency not in run.ctx.known_agencies:
        raise ValidationFailed(
            f"Instansi yang disarankan '{event.suggested_agency}' tidak dikenal.", code="unknown_agency"
        )
    if event.suggested_agency == task.agency:
        raise ValidationFailed("Instansi yang disarankan harus berbeda dari instansi yang menolak.")
    run.stop_timer(task)
    run.move_task(task, TaskStatus.REJECTED, reason="bukan_wewenang: " + event.reason)
    task.rejection = Rejection(reason=event.reason, suggested_agency=event.suggested_agency, at=event.at)
    if run.s.case_status in (CaseStatus.ASSIGNED, CaseStatus.IN_PROGRESS):
        run.set_case_status(
            CaseStatus.VERIFIED if run.s.case_status is CaseStatus.ASSIGNED else CaseStatus.ASSIGNED,
            reason="bukan wewenang",
        )
    run.notify(
        "reroute_needed",
        [f"{run.ctx.command_center_agency}.operator"],
        run.vars_for(task, reason=event.reason),
    )
    run.fire("task_rejected", task.step_id, task, reason=event.reason)


def _on_rerouted(run: _Run, event: _Event) -> None:
    assert isinstance(event, CaseRerouted)
    _running(run)
    new = event.new_agency
    if new not in run.ctx.known_agencies:
        raise ValidationFailed(f"Instansi '{new}' tidak dikenal.", code="unknown_agency")
    run.s.responsible_agency = new
    run.s.facts["responsible_agency"] = new
    run.s.informed_agencies = [a for a in run.s.informed_agencies if a != new]
    for task in list(run.s.tasks.values()):
        st = run.s.steps[task.step_id]
        if st.status != "active" or task.activation != st.activation or task.agency == new:
            continue
        unreplaced = (
            task.status is TaskStatus.REJECTED
            and task.rejection is not None
            and task.rejection.replaced_by is None
        )
        stale = task.status in OPEN_TASK_STATUSES and task.via_responsible
        if not (unreplaced or stale):
            continue
        if stale:
            run.stop_timer(task)
            run.move_task(task, TaskStatus.CANCELLED, reason=f"disposisi ulang ke {new}")
        step = run.spec.step(task.step_id)
        if any(
            t.agency == new
            and t.step_id == step.id
            and t.activation == st.activation
            and t.status in OPEN_TASK_STATUSES
            for t in run.s.tasks.values()
        ):
            replacement_key = next(
                t.key
                for t in run.s.tasks.values()
                if t.agency == new
                and t.step_id == step.id
                and t.activation == st.activation
                and t.status in OPEN_TASK_STATUSES
            )
        else:
            replacement_key = run.create_task(
                step, task.actor_id, new, task.position, True, replaces=task.key
            ).key
        if task.rejection is not None and task.rejection.replaced_by is None:
            task.rejection.replaced_by = replacement_key
    if run.s.case_status in (CaseStatus.VERIFIED, CaseStatus.RECEIVED):
        run.set_case_status(CaseStatus.ASSIGNED, reason=f"disposisi ulang ke {new}")
    for step_id, st in run.s.steps.items():
        step = run.spec.step(step_id)
        if st.status == "active" and step.creates_tasks and run.step_finished(step):
            run.complete_step(step)


def _on_handed_over(run: _Run, event: _Event) -> None:
    assert isinstance(event, TaskHandedOver)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    if not event.to.strip():
        raise ValidationFailed("Serah terima tugas butuh penerima.")
    task.assignee = event.to
    task.handovers += 1
    run.emit(AssignTask(task_key=task.key, assignee=event.to))


def _on_progress(run: _Run, event: _Event) -> None:
    assert isinstance(event, TaskProgress)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    run.implicit_accept(task)
    task.progress_count += 1
    task.evidence = sorted(set(task.evidence) | set(event.evidence))
    if task.status is not TaskStatus.IN_PROGRESS:
        run.move_task(task, TaskStatus.IN_PROGRESS)


def _on_completed(run: _Run, event: _Event) -> None:
    assert isinstance(event, TaskCompleted)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    step = run.spec.step(task.step_id)
    if step.answer:
        raise IllegalTransition(
            "Langkah ini selesai melalui jawaban: susun draf jawaban yang kemudian disetujui pejabat berwenang.",
            code="answer_approval_required",
        )
    _check_outputs(step, event.outputs)
    missing = sorted(set(step.bukti) - set(event.evidence) - set(task.evidence))
    if missing:
        raise ValidationFailed(
            f"Langkah “{step.kegiatan}” butuh bukti: {', '.join(missing)}.",
            code="evidence_required",
            missing=missing,
        )
    run.finish_task(task, dict(event.outputs), list(event.evidence))


def _on_answer_drafted(run: _Run, event: _Event) -> None:
    assert isinstance(event, AnswerDrafted)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    if not run.spec.step(task.step_id).answer:
        raise IllegalTransition(f"Langkah '{task.step_id}' tidak memakai jawaban yang disetujui pejabat.")
    if not event.text.strip():
        raise ValidationFailed("Jawaban tidak boleh kosong.")
    run.implicit_accept(task)
    if task.status is not TaskStatus.IN_PROGRESS:
        run.move_task(task, TaskStatus.IN_PROGRESS)
    task.answer_draft = event.text
    run.notify("answer_needs_approval", [f"{task.agency}.pejabat_penghubung"], run.vars_for(task))
    run.fire("answer_drafted", task.step_id, task)


def _on_answer_approved(run: _Run, event: _Event) -> None:
    assert isinstance(event, AnswerApproved)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    if task.answer_draft is None:
        raise IllegalTransition("Belum ada draf jawaban untuk disetujui.", code="no_answer_draft")
    if not event.approver.strip():
        raise ValidationFailed("Persetujuan jawaban butuh nama/NIP pejabat.")
    task.answer_approved_by = event.approver
    answer = task.answer_draft
    run.fire("answer_approved", task.step_id, task, answer=answer)
    run.finish_task(task, {"jawaban": answer}, [])


def _on_closure(run: _Run, event: _Event) -> None:
    assert isinstance(event, ClosureConfirmed)
    if run.s.status != "awaiting_closure":
        raise IllegalTransition("Kasus belum selesai ditangani; belum dapat ditutup.", code="not_resolved")
    if event.by not in run.spec.closure.confirm_by:
        raise PermissionDenied(
            f"Penutupan SOP ini dikonfirmasi oleh {', '.join(run.spec.closure.confirm_by)}, bukan {event.by}."
        )
    if event.satisfied:
        run.close(f"dikonfirmasi {event.by}")
        return
    reopen = run.spec.closure.reopen_step
    if reopen is None:
        raise IllegalTransition("SOP ini tidak mengizinkan kasus dibuka kembali.", code="reopen_not_allowed")
    if "case/auto_close" in run.s.timers:
        run.s.timers.pop("case/auto_close")
        run.emit(CancelTimer(key="case/auto_close"))
    run.s.status = "running"
    run.s.resolved_at = None
    run.s.facts["reopen_count"] = int(run.s.facts.get("reopen_count", 0)) + 1
    run.set_case_status(CaseStatus.IN_PROGRESS, reason="dibuka kembali: " + event.note)
    run.fire("case_reopened")
    for st in run.s.steps.values():
        if st.status != "done":
            st.status = "idle"
            st.arrivals = []
    run.activate(reopen, None)


def _on_timer(run: _Run, event: _Event) -> None:
    assert isinstance(event, TimerFired)
    ref = run.s.timers.pop(event.key)
    if ref.kind == "auto_close":
        if run.s.status == "awaiting_closure":
            run.close("otomatis: tidak ada tanggapan")
        return
    assert ref.task_key is not None
    task = run.s.tasks[ref.task_key]
    task.timer_key = None
    if task.status not in OPEN_TASK_STATUSES:
        return
    if ref.kind == "reminder":
        run.notify("task_reminder", [f"{task.agency}.{task.position}"], run.vars_for(task))
    elif ref.kind == "due":
        task.breached = True
        run.notify(
            "task_overdue",
            [f"{task.agency}.{task.position}", f"{task.agency}.supervisor"],
            run.vars_for(task),
        )
    else:
        step = run.spec.step(task.step_id)
        rung = run.spec.escalation_for(step).ladder[ref.rung - 1]
        agency, position = _escalation_target(run, task, rung.to)
        task.escalation_rung = ref.rung
        run.move_task(task, TaskStatus.ESCALATED, reason=f"eskalasi {rung.at}% ke {agency}.{position}")
        run.emit(
            Escalate(
                task_key=task.key,
                rung=ref.rung,
                percent=rung.at,
                target_agency=agency,
                target_position=position,
            )
        )
        run.notify("task_escalated", [f"{agency}.{position}"], run.vars_for(task))
        run.fire("task_escalated", task.step_id, task)
    task.timer_index += 1
    run.start_next_timer(task)


def _escalation_target(run: _Run, task: TaskState, target: str) -> tuple[str, str]:
    if "." not in target:
        return task.agency, target
    resolved = run.resolve(target)
    return (resolved[0][0], resolved[0][1]) if resolved else (run.ctx.command_center_agency, "supervisor")


def _on_cancelled(run: _Run, event: _Event) -> None:
    assert isinstance(event, CaseCancelled)
    for task in run.s.open_tasks():
        run.stop_timer(task)
        run.move_task(task, TaskStatus.CANCELLED, reason=event.reason)
    for key in list(run.s.timers):
        run.emit(CancelTimer(key=key))
    run.s.timers.clear()
    run.s.status = "cancelled"
    run.s.case_status = CaseStatus(event.final_status)  # the case service made that change; no command
    run.fire("case_cancelled", reason=event.reason)


def _on_resolved_manually(run: _Run, event: _Event) -> None:
    assert isinstance(event, CaseResolvedManually)
    _running(run)
    for task in run.s.open_tasks():
        run.stop_timer(task)
        run.move_task(task, TaskStatus.CANCELLED, reason="kasus diselesaikan: " + event.resolution)
    for st in run.s.steps.values():
        if st.status in ("active", "waiting"):
            st.status = "idle"
    run.s.resolved_at = run.at
    run.s.case_status = CaseStatus.RESOLVED  # the case service made that change; no command
    run.fire("case_resolved")
    closure = run.spec.closure
    if not closure.confirm_by and closure.auto_close_after is None:
        run.close("tanpa konfirmasi")
        return
    run.s.status = "awaiting_closure"
    if closure.auto_close_after is not None:
        due = run.ctx.calendar.add_duration(run.at, closure.auto_close_after)
        run.s.timers["case/auto_close"] = TimerRef(kind="auto_close", due_at=due)
        run.emit(StartTimer(key="case/auto_close", due_at=due, kind="auto_close", payload={}))


def _on_due_set(run: _Run, event: _Event) -> None:
    """Replace the task's due time: its reminders and escalations are planned again from it; those already
    past are not sent late."""
    assert isinstance(event, TaskDueSet)
    _running(run)
    task = run.task(event.task_key)
    run.ensure_open(task)
    if event.due_at <= task.created_at:
        raise ValidationFailed(
            "Batas waktu harus sesudah tugas dibuat / the due time must be after the task began."
        )
    run.stop_timer(task)
    task.due_override = event.due_at
    task.due_at = event.due_at
    step = run.spec.step(task.step_id)
    entries = run.schedule(step)
    task.timer_index = sum(1 for percent, _k, _r in entries if run.timer_time(task, step, percent) <= run.at)
    run.emit(SetTaskDue(task_key=task.key, due_at=event.due_at))
    run.start_next_timer(task)


def _moves_with(task: TaskState, event: UnitStatusReached) -> bool:
    """Whether this unit's status completes this task: dispatch always; arrival and clearing only for the
    unit's own agency, or for an agency that sent no unit to the case."""
    if event.status == "dispatched" or event.agency is None:
        return True
    return task.agency == event.agency or task.agency not in event.agencies_on_case


def _on_unit_status(run: _Run, event: _Event) -> None:
    """Complete every open task of a `unit_status` step the unit's status has reached, in flow order.

    Completing the dispatch step activates the next ones (arrival, the informed agencies' support tasks); a
    later status in the same event completes those too, so a unit reported on scene at once leaves no
    dispatch step open behind it. Nothing to complete is not an error: units also move on cases whose SOP
    has no such step.
    """
    assert isinstance(event, UnitStatusReached)
    if run.s.status != "running":
        return
    reached = UNIT_STATUS_ORDER[event.status]
    done: set[str] = set()
    while True:
        due = [
            t
            for t in run.s.open_tasks()
            if t.key not in done
            and (wanted := run.spec.step(t.step_id).unit_status) is not None
            and UNIT_STATUS_ORDER[wanted] <= reached
            and _moves_with(t, event)
        ]
        if not due:
            return
        for task in due:
            done.add(task.key)
            run.finish_task(task, {}, [f"unit_status:{event.unit}"])


_HANDLERS: dict[type[_Event], Any] = {
    UnitStatusReached: _on_unit_status,
    TaskDueSet: _on_due_set,
    CaseResolvedManually: _on_resolved_manually,
    TaskAccepted: _on_accepted,
    TaskRejected: _on_rejected,
    CaseRerouted: _on_rerouted,
    TaskHandedOver: _on_handed_over,
    TaskProgress: _on_progress,
    TaskCompleted: _on_completed,
    AnswerDrafted: _on_answer_drafted,
    AnswerApproved: _on_answer_approved,
    ClosureConfirmed: _on_closure,
    TimerFired: _on_timer,
    CaseCancelled: _on_cancelled,
}
