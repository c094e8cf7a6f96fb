"""The demo's people at work: agency officers, heads, the operator and unit crews moving cases along their SOPs.

The simulator must not have powers the screens do not have, so every move here is one of the service calls the
pages make (accept, draft answer, approve answer, complete with the step's outputs and evidence, dispatch the
recommended units, unit status changes, confirm closure), made as the user whose job it is: the agency's
officer (`<agency>.petugas`), its head (`<agency>.kepala`) for approvals, the command-center operator for
dispatch and closure, and each unit's crew for its statuses. A step the demo city has nobody for is left for
a person, which is what `kotapintar check` and the escalation ladder are there to show.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Any

from kotapintar.cases import service as case_service
from kotapintar.cases.filters import CaseFilter
from kotapintar.core.access.actors import Actor
from kotapintar.core.access.auth import actor_for
from kotapintar.core.db.database import Database
from kotapintar.core.errors import DomainError
from kotapintar.dispatch import recommendation as recommendation_service
from kotapintar.dispatch import units as unit_service
from kotapintar.dispatch.schemas import DispatchIn
from kotapintar.sop import tasks as sop_tasks
from kotapintar.sop.conditions import FieldType
from kotapintar.sop.library import get_spec
from kotapintar.sop.spec import OutputDecl, SopSpec, Step

log = logging.getLogger(__name__)

# One tick's chance that a person gets to a waiting piece of work: the demo's cases close within minutes,
# not at once, so the live pages show every stage.
WORK_CHANCE = 0.35
# Where a unit goes next on a tick, and how likely: a crew drives out, arrives, works, comes back.
UNIT_NEXT: dict[str, tuple[str, float]] = {
    "dispatched": ("en_route", 0.6),
    "en_route": ("on_scene", 0.5),
    "on_scene": ("returning", 0.35),
    "returning": ("available", 0.6),
}
DEMO_ANSWER = (
    "Terima kasih atas laporan Anda. Petugas kami sudah menjadwalkan peninjauan lokasi dan penanganan "
    "sesuai SOP; perkembangan dapat dipantau melalui nomor tiket."
)


def _output_value(decl: OutputDecl) -> Any:
    """The happy path's answer for a declared output: yes, one, the first choice."""
    if decl.type == FieldType.BOOL:
        return True
    if decl.type in (FieldType.INT, FieldType.NUMBER):
        return 1
    if decl.type == FieldType.ENUM and decl.choices:
        return decl.choices[0]
    return "selesai ditangani"


@dataclass
class DemoCrew:
    """Works the open SOP tasks, units and resolved cases of the demo city a little on every call of `work`."""

    db: Database
    rng: random.Random
    _actors: dict[str, Actor | None] = field(default_factory=dict)
    _specs: dict[tuple[str, int], SopSpec] = field(default_factory=dict)

    def _user(self, username: str) -> Actor | None:
        if username not in self._actors:
            with self.db.reading() as uow:
                user = uow.users.by_username(username)
                self._actors[username] = actor_for(user) if user is not None and user.active else None
        return self._actors[username]

    def _spec(self, db: Database, operator: Actor, case_id: int) -> SopSpec:
        progress = sop_tasks.case_sop_progress(db, operator, case_id)
        key = (progress.sop_code, progress.sop_version)
        if key not in self._specs:
            self._specs[key] = get_spec(db, progress.sop_code, progress.sop_version)[1]
        return self._specs[key]

    def work(self, operator: Actor) -> None:
        """One tick: some tasks, some unit moves, some closures. One failure never stops the others."""
        for job in (self._work_tasks, self._move_units, self._confirm_closures):
            try:
                job(operator)
            except DomainError as exc:
                log.debug("demo crew skipped %s: %s", job.__name__, exc)

    # ------------------------------------------------------------------ tasks

    def _work_tasks(self, operator: Actor) -> None:
        for item in sop_tasks.task_inbox(self.db, operator, limit=100):
            if self.rng.random() > WORK_CHANCE:
                continue
            try:
                self._work_task(operator, item)
            except DomainError as exc:
                log.debug("demo crew left task %s: %s", item.task.id, exc)

    def _work_task(self, operator: Actor, item: sop_tasks.InboxItem) -> None:
        task = item.task
        step = self._spec(self.db, operator, task.case_id).step(task.step_id or "")
        if step.unit_status is not None:
            self._dispatch_if_needed(operator, task.case_id)
            return
        officer = self._user(f"{task.agency_code}.petugas") or operator
        if task.status == "pending":
            sop_tasks.accept_task(self.db, officer, task.id)
        elif item.answer_required and not item.answer_draft:
            sop_tasks.draft_answer(self.db, officer, task.id, DEMO_ANSWER)
        elif item.answer_required:
            head = self._user(f"{task.agency_code}.kepala")
            if head is not None:
                sop_tasks.approve_answer(self.db, head, task.id)
        else:
            self._complete(officer, task.id, step)

    def _complete(self, officer: Actor, task_id: int, step: Step) -> None:
        outputs = {name: _output_value(decl) for name, decl in step.outputs.items()}
        sop_tasks.complete_task(
            self.db,
            officer,
            task_id,
            outputs=outputs,
            evidence=list(step.bukti),
            note="Dikerjakan sesuai SOP (simulasi demo).",
        )

    def _dispatch_if_needed(self, operator: Actor, case_id: int) -> None:
        view = recommendation_service.case_dispatch_view(self.db, operator, case_id)
        if view.get("assignments"):
            return  # units are on their way; their statuses move the SOP
        recommendation_service.dispatch_units(self.db, operator, case_id, DispatchIn())

    # ------------------------------------------------------------------ units

    def _move_units(self, operator: Actor) -> None:
        for unit in unit_service.unit_board(self.db, operator):
            step = UNIT_NEXT.get(unit.status)
            if step is None or self.rng.random() > step[1]:
                continue
            crew = unit_service.unit_actor(unit.code, unit.agency_code)
            try:
                unit_service.change_unit_status(self.db, crew, unit.code, step[0], source="demo")
            except DomainError as exc:
                log.debug("demo crew left unit %s: %s", unit.code, exc)

    # ------------------------------------------------------------------ closure

    def _confirm_closures(self, operator: Actor) -> None:
        page = case_service.list_cases(self.db, operator, CaseFilter(statuses=("resolved",)), limit=20)
        for case in page.items:
            if self.rng.random() > WORK_CHANCE:
                continue
            try:
                sop_tasks.confirm_closure(
                    self.db, operator, case.id, note="Dikonfirmasi operator (simulasi demo)."
                )
            except DomainError as exc:
                log.debug("demo crew left case %s open: %s", case.id, exc)
