"""Load SOP files with line numbers and report every problem at once as `file:line: step 'x': message`."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from string import Formatter
from typing import Any

import yaml
from pydantic import ValidationError

from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.sop.calendar import WorkingCalendar, holidays_from_data
from kotapintar.sop.conditions import (
    AGENCY_CODES,
    CASE_FIELDS,
    SERVICE_CODES,
    FieldSpec,
    FieldType,
    check_condition,
)
from kotapintar.sop.spec import (
    CITIZEN,
    POSITIONS,
    SELECTOR,
    TEMPLATE_VARS,
    Actor,
    Escalation,
    SopSpec,
    Step,
    StepKind,
)

DATA_DIR = Path(__file__).resolve().parent / "data"
SHIPPED_SOP_DIR = DATA_DIR / "sop"
SHIPPED_CALENDAR = DATA_DIR / "calendar" / "libur_nasional.yaml"


@dataclass(frozen=True)
class SopError:
    """One problem in an SOP file, located by file, line and (when it belongs to one) step."""

    file: str
    line: int
    step: str | None
    message: str
    path: str = ""

    def __str__(self) -> str:
        where = f"step '{self.step}'" if self.step else (self.path or "sop")
        return f"{self.file}:{self.line}: {where}: {self.message}"


class SopLoadError(ValidationFailed):
    """An SOP file that cannot be used; `errors` lists every problem found."""

    code = "sop_invalid"

    def __init__(self, errors: list[SopError]) -> None:
        super().__init__("\n".join(str(e) for e in errors), errors=[str(e) for e in errors])
        self.errors = errors


# --- YAML with line numbers -------------------------------------------------------------------------


class LineDict(dict[Any, Any]):
    """A YAML mapping that remembers its own line and the line of each key (1-based)."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A YAML sequence that remembers its own line and the line of each item (1-based)."""

    line: int = 0
    item_lines: list[int]


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that builds LineDict / LineList and notes duplicate keys."""

    duplicates: list[tuple[int, str]]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in data.key_lines:
            loader.duplicates.append((key_node.start_mark.line + 1, str(key)))
        data.key_lines[key] = key_node.start_mark.line + 1
        data[key] = loader.construct_object(value_node, deep=True)


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child, deep=True) for child in node.value)


# YAML 1.2 booleans only: `yes:` / `no:` (decision branches) and `on:` stay strings, as authors mean them.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_LineLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def _line_of(root: Any, loc: Iterable[Any]) -> int:
    """The line of the deepest node that `loc` reaches in the line-annotated tree."""
    node = root
    line = getattr(root, "line", 1)
    for part in loc:
        if isinstance(node, LineDict) and part in node:
            line = node.key_lines.get(part, line)
            node = node[part]
        elif isinstance(node, LineList) and isinstance(part, int) and 0 <= part < len(node):
            line = node.item_lines[part]
            node = node[part]
        else:
            break
    return line


# --- validation -------------------------------------------------------------------------------------


def _pydantic_message(err: Mapping[str, Any]) -> str:
    kind = err["type"]
    loc = [p for p in err["loc"] if isinstance(p, str)]
    name = loc[-1] if loc else "nilai"
    if kind == "missing":
        return f"'{name}' wajib diisi; tambahkan kunci '{name}'"
    if kind == "extra_forbidden":
        return f"kunci '{name}' tidak dikenal; periksa ejaannya (lihat docs/sop.md untuk daftar kunci)"
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return f"'{name}': {msg}" if kind not in ("value_error",) else msg


class _Collector:
    """Gathers errors with their location."""

    def __init__(self, file: str, root: Any) -> None:
        self.file = file
        self.root = root
        self.errors: list[SopError] = []
        self._seen: set[tuple[int, str | None, str]] = set()

    def step_id_at(self, index: int) -> str | None:
        steps = self.root.get("steps") if isinstance(self.root, dict) else None
        if isinstance(steps, list) and 0 <= index < len(steps) and isinstance(steps[index], dict):
            sid = steps[index].get("id")
            return str(sid) if sid is not None else f"#{index + 1}"
        return None

    def add(self, loc: tuple[Any, ...], message: str) -> None:
        line = _line_of(self.root, loc)
        step = None
        path_parts = [str(p) for p in loc]
        if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
            step = self.step_id_at(loc[1])
            path_parts = path_parts[2:]
        key = (line, step, message)
        if key in self._seen:
            return
        self._seen.add(key)
        self.errors.append(SopError(self.file, line, step, message, ".".join(path_parts)))


def _selector_agency(selector: str) -> tuple[str, str] | None:
    match = SELECTOR.match(selector)
    return (match.group(1), match.group(2)) if match else None


def _check_target(target: str, known_agencies: frozenset[str]) -> str | None:
    """A problem with an escalation target (position of the task's agency, or a full selector)."""
    if "." not in target:
        return (
            None
            if target in POSITIONS
            else f"tujuan eskalasi '{target}' bukan jabatan yang dikenal ({', '.join(POSITIONS)})"
        )
    parts = _selector_agency(target)
    if parts is None or parts[1] not in POSITIONS:
        return f"tujuan eskalasi '{target}' harus berupa jabatan (supervisor, head) atau selector '<instansi>.<jabatan>'"
    if parts[0] not in known_agencies and parts[0] not in ("command_center", "{responsible_agency}"):
        return f"instansi '{parts[0]}' pada tujuan eskalasi tidak dikenal; pilih dari: {', '.join(sorted(known_agencies))}"
    return None


def _semantic(
    c: _Collector,
    raw: Mapping[str, Any],
    known_agencies: frozenset[str],
    known_services: frozenset[str],
) -> None:
    # code
    code = raw.get("code")
    if isinstance(code, str) and code not in known_services:
        c.add(
            ("code",), f"kode layanan '{code}' tidak dikenal; pilih dari: {', '.join(sorted(known_services))}"
        )

    # actors
    actors: dict[str, Actor] = {}
    raw_actors = raw.get("actors") if isinstance(raw.get("actors"), list) else []
    for i, item in enumerate(raw_actors or []):
        try:
            actor = Actor.model_validate(item)
        except ValidationError:
            continue
        if actor.id in actors:
            c.add(("actors", i, "id"), f"id pelaksana '{actor.id}' dipakai dua kali; beri id yang unik")
        actors[actor.id] = actor
        if actor.selector == CITIZEN:
            continue
        parts = _selector_agency(actor.selector)
        if (
            parts
            and parts[0] not in known_agencies
            and parts[0]
            not in (
                "command_center",
                "{responsible_agency}",
                "{informed_agencies}",
            )
        ):
            c.add(
                ("actors", i, "selector"),
                f"instansi '{parts[0]}' tidak dikenal; pilih dari: {', '.join(sorted(known_agencies))}, "
                "command_center, {responsible_agency}, {informed_agencies}",
            )

    # steps (parse each on its own so one bad step does not hide the checks of the others)
    raw_steps: list[Any] = raw["steps"] if isinstance(raw.get("steps"), list) else []
    ids: dict[str, int] = {}
    steps: dict[str, tuple[int, Step]] = {}
    for i, item in enumerate(raw_steps or []):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            if item["id"] in ids:
                c.add(("steps", i, "id"), f"id langkah '{item['id']}' dipakai dua kali; beri id yang unik")
            ids.setdefault(item["id"], i)
        try:
            step = Step.model_validate(item)
        except ValidationError:
            continue
        steps.setdefault(step.id, (i, step))

    fields: dict[str, FieldSpec] = dict(CASE_FIELDS)
    for _, step in steps.values():
        for name, decl in step.outputs.items():
            ftype = decl.type if decl.type is not FieldType.ENUM else FieldType.ENUM
            choices = frozenset(decl.choices) if decl.choices else None
            fields[f"steps.{step.id}.output.{name}"] = FieldSpec(ftype, choices)

    default_esc = None
    with contextlib.suppress(ValidationError):
        default_esc = Escalation.model_validate(raw.get("escalation", {}))
    if default_esc is not None:
        for r, rung in enumerate(default_esc.ladder):
            problem = _check_target(rung.to, known_agencies)
            if problem:
                c.add(("escalation", "ladder", r, "to"), problem)

    for sid, (i, step) in steps.items():
        loc = ("steps", i)
        if step.decision is not None and step.kind is StepKind.TASK:
            step = step.model_copy(update={"kind": StepKind.DECISION})
            steps[sid] = (i, step)
        if not step.actors:
            c.add(
                (*loc, "actors") if "actors" in raw_steps[i] else loc,
                "langkah tanpa pelaksana; isi 'actors' dengan minimal satu id dari bagian 'actors' "
                f"({', '.join(actors) or 'belum ada'})",
            )
        for a, actor_id in enumerate(step.actors):
            if actor_id not in actors:
                c.add(
                    (*loc, "actors", a),
                    f"pelaksana '{actor_id}' tidak ada di bagian 'actors'; pilih dari: {', '.join(actors)}",
                )
        task_actors = [actors[a] for a in step.actors if a in actors]
        if step.creates_tasks and task_actors and all(a.selector == CITIZEN for a in task_actors):
            c.add((*loc, "actors"), "pelapor tidak dapat menerima tugas; pilih pelaksana dari instansi")
        if step.kind is StepKind.DECISION:
            if step.decision is None:
                c.add(loc, "langkah keputusan tanpa 'decision: {if, yes, no}'")
            if step.next is not None:
                c.add(
                    (*loc, "next"),
                    "langkah keputusan tidak memakai 'next'; arah ditentukan oleh decision.yes/no",
                )
        if step.kind is StepKind.END:
            if step.next is not None or step.decision is not None:
                c.add((*loc, "next"), "langkah akhir (kind: end) tidak boleh memiliki 'next' atau 'decision'")
        elif step.kind in (StepKind.START, StepKind.TASK) and step.next is None:
            c.add(
                loc,
                "langkah tanpa 'next'; tulis id langkah berikutnya, atau jadikan langkah akhir dengan 'kind: end'",
            )
        if step.creates_tasks and step.waktu is None:
            c.add(loc, "mutu baku 'waktu' belum diisi; tulis misalnya '15 menit' atau '3 hari kerja'")
        for target in step.next_ids:
            if target not in ids:
                key = "decision" if step.decision is not None else "next"
                c.add((*loc, key), f"langkah berikutnya '{target}' tidak ada; pilih dari: {', '.join(ids)}")
        for w, target in enumerate(step.wait_for):
            if target not in ids:
                c.add((*loc, "wait_for", w), f"wait_for menyebut langkah '{target}' yang tidak ada")
        if step.decision is not None:
            for problem in check_condition(step.decision.if_, fields):
                c.add((*loc, "decision", "if"), problem)
        esc = step.escalation
        if esc is not None:
            for r, rung in enumerate(esc.ladder):
                problem = _check_target(rung.to, known_agencies)
                if problem:
                    c.add((*loc, "escalation", "ladder", r, "to"), problem)
        if step.answer and not step.creates_tasks:
            c.add((*loc, "answer"), "'answer: true' hanya untuk langkah yang memberi tugas")
        if step.unit_status is not None and (
            step.kind is not StepKind.TASK or step.outputs or step.answer or step.decision is not None
        ):
            c.add(
                (*loc, "unit_status"),
                "'unit_status' hanya untuk langkah tugas biasa (tanpa outputs, answer atau keputusan): "
                "langkah itu selesai oleh status unit",
            )

    # flow graph
    start = raw.get("start") if isinstance(raw.get("start"), str) else None
    if start is not None and start not in ids:
        c.add(("start",), f"langkah awal '{start}' tidak ada")
    if steps and not any(s.kind is StepKind.END for _, s in steps.values()):
        c.add(
            ("steps",),
            "SOP tidak punya langkah akhir; tambahkan langkah dengan 'kind: end' (terminator Selesai)",
        )
    if steps and len(steps) == len(ids):
        _check_graph(c, steps, start or next(iter(ids)))

    # notifications and templates
    templates = raw.get("templates") if isinstance(raw.get("templates"), dict) else {}
    formatter = Formatter()
    for key, texts in (templates or {}).items():
        if not isinstance(texts, dict):
            continue
        for locale in ("id", "en"):
            if locale not in texts:
                c.add(("templates", key), f"templat '{key}' belum punya teks '{locale}'")
        for locale, text in texts.items():
            if not isinstance(text, str):
                continue
            try:
                names = {f for _, f, _, _ in formatter.parse(text) if f}
            except ValueError as exc:
                c.add(("templates", key, locale), f"templat '{key}' ({locale}) rusak: {exc}")
                continue
            unknown = names - TEMPLATE_VARS
            if unknown:
                c.add(
                    ("templates", key, locale),
                    f"templat '{key}' ({locale}) memakai variabel {sorted(unknown)}; yang tersedia: {sorted(TEMPLATE_VARS)}",
                )
    raw_notes = raw.get("notifications") if isinstance(raw.get("notifications"), list) else []
    for n, note in enumerate(raw_notes or []):
        if not isinstance(note, dict):
            continue
        if note.get("template") not in (templates or {}):
            c.add(
                ("notifications", n, "template"),
                f"templat '{note.get('template')}' tidak ada di bagian 'templates'",
            )
        if note.get("step") is not None and note.get("step") not in ids:
            c.add(("notifications", n, "step"), f"langkah '{note.get('step')}' tidak ada")
        audience = note.get("audience")
        if isinstance(audience, str) and audience not in (
            "citizen",
            "command_center",
            "responsible_agency",
            "informed_agencies",
            "task_agency",
        ):
            parts = _selector_agency(audience)
            if parts is None or (
                parts[0] not in known_agencies and parts[0] not in ("command_center", "{responsible_agency}")
            ):
                c.add(
                    ("notifications", n, "audience"),
                    f"audiens '{audience}' tidak dikenal; pakai citizen, command_center, responsible_agency, "
                    "informed_agencies, task_agency atau selector '<instansi>.<jabatan>'",
                )
    closure = raw.get("closure")
    if (
        isinstance(closure, dict)
        and closure.get("reopen_step") is not None
        and closure["reopen_step"] not in ids
    ):
        c.add(
            ("closure", "reopen_step"),
            f"langkah '{closure['reopen_step']}' untuk membuka kembali kasus tidak ada",
        )


def _check_graph(c: _Collector, steps: Mapping[str, tuple[int, Step]], start: str) -> None:
    succ = {sid: [t for t in s.next_ids if t in steps] for sid, (_, s) in steps.items()}
    reach: set[str] = set()
    todo = [start]
    while todo:
        sid = todo.pop()
        if sid in reach:
            continue
        reach.add(sid)
        todo.extend(succ[sid])
    ends = {sid for sid, (_, s) in steps.items() if s.kind is StepKind.END}
    can_end: set[str] = set(ends)
    changed = True
    while changed:
        changed = False
        for sid, targets in succ.items():
            if sid not in can_end and any(t in can_end for t in targets):
                can_end.add(sid)
                changed = True
    for sid, (i, _) in steps.items():
        if sid not in reach:
            c.add(
                ("steps", i),
                f"langkah tidak pernah tercapai dari langkah awal '{start}'; hubungkan dengan 'next' atau hapus",
            )
        elif sid not in can_end:
            cycle = _find_cycle(sid, succ, can_end)
            if cycle:
                c.add(
                    ("steps", i),
                    "langkah berada dalam siklus tanpa jalan keluar ("
                    + " → ".join(cycle)
                    + "); tambahkan keputusan yang menuju langkah akhir",
                )
            else:
                c.add(("steps", i), "tidak ada jalan dari langkah ini ke langkah akhir (kind: end)")


def _find_cycle(start: str, succ: Mapping[str, list[str]], can_end: set[str]) -> list[str]:
    path: list[str] = []
    on_path: set[str] = set()
    seen: set[str] = set()

    def visit(node: str) -> list[str]:
        path.append(node)
        on_path.add(node)
        for nxt in succ[node]:
            if nxt in can_end:
                continue
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in seen:
                seen.add(nxt)
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        on_path.discard(node)
        return []

    return visit(start)


def validate_text(
    text: str,
    file: str = "<sop>",
    *,
    known_agencies: Iterable[str] = AGENCY_CODES,
    known_services: Iterable[str] = SERVICE_CODES,
) -> tuple[SopSpec | None, list[SopError]]:
    """Parse and check an SOP; returns the spec (None when there are errors) and every error found."""
    loader = _LineLoader(text)
    loader.duplicates = []
    try:
        root = loader.get_single_data()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        return None, [SopError(file, line, None, f"YAML tidak valid: {getattr(exc, 'problem', exc)}")]
    finally:
        loader.dispose()
    if not isinstance(root, dict):
        return None, [
            SopError(
                file,
                1,
                None,
                "berkas SOP harus berupa mapping YAML (code, kind, identitas, actors, steps, ...)",
            )
        ]
    c = _Collector(file, root)
    for line, key in loader.duplicates:
        c.errors.append(
            SopError(file, line, None, f"kunci '{key}' ditulis dua kali; yang terakhir menimpa yang pertama")
        )
    spec: SopSpec | None = None
    try:
        spec = SopSpec.model_validate(root)
    except ValidationError as exc:
        for err in exc.errors():
            c.add(tuple(err["loc"]), _pydantic_message(err))
    _semantic(c, root, frozenset(known_agencies), frozenset(known_services))
    errors = sorted(c.errors, key=lambda e: e.line)
    return (spec if not errors else None), errors


def validate_file(path: str | Path, **kwargs: Any) -> tuple[SopSpec | None, list[SopError]]:
    """Validate an SOP file on disk; see validate_text."""
    p = Path(path)
    return validate_text(p.read_text(encoding="utf-8"), str(path), **kwargs)


def load_sop(path: str | Path, **kwargs: Any) -> SopSpec:
    """Load a valid SOP file or raise SopLoadError listing every problem."""
    spec, errors = validate_file(path, **kwargs)
    if spec is None:
        raise SopLoadError(errors)
    return spec


def load_sop_text(text: str, file: str = "<sop>", **kwargs: Any) -> SopSpec:
    """Load a valid SOP from text or raise SopLoadError listing every problem."""
    spec, errors = validate_text(text, file, **kwargs)
    if spec is None:
        raise SopLoadError(errors)
    return spec


def shipped_sop_path(code: str) -> Path:
    """Path of the shipped SOP for a service code (NotFound when there is none)."""
    path = SHIPPED_SOP_DIR / f"{code}.yaml"
    if not path.is_file():
        raise NotFound(f"Tidak ada SOP bawaan untuk layanan '{code}'.", code="sop_not_found")
    return path


def load_shipped(code: str) -> SopSpec:
    """The shipped SOP of one service code."""
    return load_sop(shipped_sop_path(code))


def load_library(directory: str | Path = SHIPPED_SOP_DIR) -> dict[str, SopSpec]:
    """Every SOP in a directory, by code; raises SopLoadError with all errors of all files."""
    out: dict[str, SopSpec] = {}
    errors: list[SopError] = []
    for path in sorted(Path(directory).glob("*.yaml")):
        spec, errs = validate_file(path)
        errors.extend(errs)
        if spec is not None:
            out[spec.code] = spec
    if errors:
        raise SopLoadError(errors)
    return out


_DAYS = {"senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "sabtu": 5, "minggu": 6}


def calendar_from_data(data: Mapping[str, Any]) -> WorkingCalendar:
    """A WorkingCalendar from a parsed libur_nasional.yaml mapping."""
    hours: dict[int, tuple[time, time]] = {}
    for day_name, (opens, closes) in (data.get("jam_kerja") or {}).items():
        hours[_DAYS[day_name]] = (time.fromisoformat(opens), time.fromisoformat(closes))
    return WorkingCalendar.from_holidays(
        holidays_from_data(data),
        include_cuti_bersama=bool(data.get("cuti_bersama_libur", True)),
        hours=hours or None,
        zone=str(data.get("zona", "Asia/Jakarta")),
    )


def load_calendar(path: str | Path = SHIPPED_CALENDAR) -> WorkingCalendar:
    """The working calendar from a holiday file (default: the shipped national list)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return calendar_from_data(data)
