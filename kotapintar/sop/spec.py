"""The SOP file as pydantic v2 models: PermenPANRB 35/2012 identity, actors (swimlanes), steps and flow.

These models check shape and types; cross-references, agencies, guards and the flow graph are checked by
`kotapintar.sop.loader`, which reports every problem with its line number.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, field_validator

from kotapintar.cases.lifecycle import CaseStatus
from kotapintar.sop.conditions import Condition, FieldType
from kotapintar.sop.duration import Duration, parse_duration

STEP_ID = re.compile(r"^[a-z][a-z0-9_]*$")

# Positions an actor selector may name, with what they mean (documented in docs/sop.md).
POSITIONS: dict[str, str] = {
    "operator": "operator command center / admin koordinator",
    "call_taker": "penerima panggilan 112",
    "dispatcher": "petugas pengendali/dispatch",
    "officer": "petugas / admin penghubung OPD",
    "trc": "tim reaksi cepat (TRC) / regu lapangan",
    "commander": "komandan regu / danru di lapangan",
    "supervisor": "supervisor / kepala bidang",
    "head": "kepala instansi (kepala dinas / kapolres / manajer)",
    "liaison": "petugas penghubung instansi luar (Polres, PLN, PDAM, Basarnas)",
    "admin_penghubung": "admin penghubung SP4N-LAPOR! di OPD",
    "pejabat_penghubung": "pejabat penghubung yang menyetujui jawaban",
    "sekda": "Sekretaris Daerah",
    "bupati": "Bupati / Wali Kota",
}
PLACEHOLDER_AGENCIES = ("command_center", "{responsible_agency}", "{informed_agencies}")
CITIZEN = "pelapor"
SELECTOR = re.compile(r"^(\{responsible_agency\}|\{informed_agencies\}|[a-z][a-z0-9_]*)\.([a-z_]+)$")

DurationField = Annotated[Duration, BeforeValidator(parse_duration)]


class Model(BaseModel):
    """Base of every SOP file model: immutable, unknown keys refused (a typo is an error, not ignored)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Approval(Model):
    """Who signed the SOP: jabatan, nama, NIP."""

    jabatan: str
    nama: str
    nip: str = Field(pattern=r"^[0-9 ]{18,21}$|^-$")


class Identity(Model):
    """The identity page of PermenPANRB 35/2012."""

    nomor: str
    judul: str
    unit: str
    tanggal_pembuatan: date
    tanggal_revisi: date | None = None
    tanggal_efektif: date
    disahkan_oleh: Approval
    dasar_hukum: list[str] = Field(min_length=1)
    kualifikasi_pelaksana: list[str] = Field(min_length=1)
    keterkaitan: list[str] = []
    peralatan: list[str] = []
    peringatan: list[str] = []
    pencatatan: list[str] = []


class Actor(Model):
    """One swimlane: an id used by steps, the selector `<agency>.<position>`, and its column label."""

    id: str = Field(pattern=STEP_ID.pattern)
    selector: str
    label: str

    @field_validator("selector")
    @classmethod
    def _selector_shape(cls, value: str) -> str:
        if value == CITIZEN:
            return value
        match = SELECTOR.match(value)
        if match is None:
            raise ValueError(
                f"selector '{value}' harus berbentuk '<kode_instansi>.<jabatan>', misalnya 'bpbd.trc', "
                "'command_center.operator' atau '{responsible_agency}.officer' (atau 'pelapor')"
            )
        if match.group(2) not in POSITIONS:
            raise ValueError(
                f"jabatan '{match.group(2)}' pada selector '{value}' tidak dikenal; pilih salah satu: "
                + ", ".join(POSITIONS)
            )
        return value


class OutputDecl(Model):
    """A typed output a step's task must deliver (used by guards and checked on completion)."""

    type: Literal[FieldType.BOOL, FieldType.INT, FieldType.NUMBER, FieldType.STRING, FieldType.ENUM]
    choices: list[str] | None = None
    required: bool = True
    label: str = ""

    @classmethod
    def coerce(cls, raw: Any) -> Any:
        """Accept the shorthand `name: bool` or `name: [a, b]` (an enum)."""
        if isinstance(raw, str):
            return {"type": raw}
        if isinstance(raw, list):
            return {"type": "enum", "choices": raw}
        return raw


OutputField = Annotated[OutputDecl, BeforeValidator(OutputDecl.coerce)]


class Rung(Model):
    """One escalation rung: at `at` percent of the time standard, tell `to` (a position or a selector)."""

    at: int = Field(gt=0, le=1000)
    to: str


class Escalation(Model):
    """Reminders (percent of the time standard) and the escalation ladder of a step."""

    reminders: list[Annotated[int, Field(gt=0, lt=100)]] = [50, 80]
    ladder: list[Rung] = []


class Decision(Model):
    """A yes/no branch: a typed guard, the step for yes and the step for no."""

    if_: Condition = Field(alias="if")
    yes: str
    no: str


class StepKind(StrEnum):
    """What a step is: start/end terminators (no task), a task, or a decision."""

    START = "start"
    TASK = "task"
    DECISION = "decision"
    END = "end"


class Step(Model):
    """One row of the SOP table: activity, actors, quality standard (kelengkapan, waktu, output), flow."""

    id: str = Field(pattern=STEP_ID.pattern)
    kind: StepKind = StepKind.TASK
    kegiatan: str = Field(min_length=3)
    actors: list[str] = []
    kelengkapan: list[str] = []
    bukti: list[str] = []
    waktu: DurationField | None = None
    accept_within: DurationField | None = None
    output: str = ""
    outputs: dict[str, OutputField] = {}
    keterangan: str = ""
    next: str | list[str] | None = None
    decision: Decision | None = None
    join: Literal["all", "any"] = "all"
    wait_for: list[str] = []
    wait_mode: Literal["all", "any"] = "all"
    escalation: Escalation | None = None
    case_status: CaseStatus | None = None
    answer: bool = False
    # Done by a unit's status instead of a person: the step's tasks complete when a unit sent to the case
    # reaches this status (dispatched, en_route, on_scene, cleared); the unit's status event is the evidence.
    unit_status: Literal["dispatched", "en_route", "on_scene", "cleared"] | None = None

    @property
    def next_ids(self) -> list[str]:
        """The steps this one leads to (both decision branches for a decision)."""
        if self.decision is not None:
            return [self.decision.yes, self.decision.no]
        if self.next is None:
            return []
        return [self.next] if isinstance(self.next, str) else list(self.next)

    @property
    def creates_tasks(self) -> bool:
        """True when activating the step gives tasks to agencies (tasks, and decisions with outputs)."""
        return self.kind is StepKind.TASK or (self.kind is StepKind.DECISION and bool(self.outputs))


NotifyTrigger = Literal[
    "case_opened",
    "step_started",
    "step_completed",
    "task_created",
    "task_rejected",
    "task_escalated",
    "answer_drafted",
    "answer_approved",
    "case_resolved",
    "case_closed",
    "case_reopened",
    "case_cancelled",
]


class Notification(Model):
    """Which event tells whom what: trigger (optionally for one step), audience, template key."""

    on: NotifyTrigger
    step: str | None = None
    audience: str
    template: str


class Closure(Model):
    """How a case closes after the last step: who confirms, auto-close delay, which step a reopen goes to."""

    confirm_by: list[Literal["citizen", "operator"]] = ["operator"]
    auto_close_after: DurationField | None = None
    reopen_step: str | None = None


TEMPLATE_VARS = frozenset(
    {"case_ref", "service", "step", "kegiatan", "agency", "due_at", "answer", "reason", "status", "sop"}
)


class SopSpec(Model):
    """A whole SOP: one per service code; published versions of it are immutable."""

    code: str
    kind: Literal["emergency", "complaint"]
    identitas: Identity
    actors: list[Actor] = Field(min_length=1)
    start: str | None = None
    steps: list[Step] = Field(min_length=2)
    escalation: Escalation = Escalation()
    notifications: list[Notification] = []
    templates: dict[str, dict[Literal["id", "en"], str]] = {}
    closure: Closure = Closure()

    _steps: dict[str, Step] = PrivateAttr(default_factory=dict)
    _actors: dict[str, Actor] = PrivateAttr(default_factory=dict)
    _preds: dict[str, list[str]] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index steps, actors and predecessors once, for the engine."""
        self._steps = {s.id: s for s in self.steps}
        self._actors = {a.id: a for a in self.actors}
        preds: dict[str, list[str]] = {s.id: [] for s in self.steps}
        for step in self.steps:
            for target in step.next_ids:
                preds.setdefault(target, []).append(step.id)
        self._preds = preds

    @property
    def start_id(self) -> str:
        """The first step: `start`, or the first listed."""
        return self.start or self.steps[0].id

    def step(self, step_id: str) -> Step:
        """The step with this id (KeyError when absent)."""
        return self._steps[step_id]

    def actor(self, actor_id: str) -> Actor:
        """The actor with this id (KeyError when absent)."""
        return self._actors[actor_id]

    def escalation_for(self, step: Step) -> Escalation:
        """The step's own escalation, or the SOP default."""
        return step.escalation if step.escalation is not None else self.escalation

    def notifications_for(self, trigger: str, step_id: str | None = None) -> list[Notification]:
        """The notifications declared for a trigger (and step, when the notification names one)."""
        return [n for n in self.notifications if n.on == trigger and (n.step is None or n.step == step_id)]
