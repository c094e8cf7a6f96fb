"""Branch guards as data: typed conditions over case fields and step outputs, checked on load, never eval'd.

A condition is `{field, op, value}`, or `{all: [...]}`, `{any: [...]}`, `{not: ...}`; a one-line string such
as `severity >= 3`, `service in [banjir, kebakaran]` or `exists steps.verifikasi.output.valid` is shorthand
for the first form (its value is read as a YAML literal, never executed).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from kotapintar.catalog import codes as catalogue

SERVICE_CODES: frozenset[str] = frozenset(catalogue.SERVICE_CODES)
AGENCY_CODES: frozenset[str] = frozenset(catalogue.AGENCY_CODES)
CHANNELS: frozenset[str] = frozenset(
    {"web", "open311", "sms", "whatsapp", "telegram", "email", "call112", "sensor", "lapor", "walk_in", "app"}
)


class Op(StrEnum):
    """Comparison operators of a condition."""

    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NOT_IN = "not_in"
    EXISTS = "exists"


ORDERED_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})


class FieldType(StrEnum):
    """The type of a case field or step output a condition may test."""

    BOOL = "bool"
    INT = "int"
    NUMBER = "number"
    STRING = "string"
    ENUM = "enum"
    PRIORITY = "priority"


@dataclass(frozen=True)
class FieldSpec:
    """A field a condition may name: its type and, for enums, the allowed values."""

    type: FieldType
    choices: frozenset[str] | None = None
    description: str = ""


CASE_FIELDS: dict[str, FieldSpec] = {
    "service": FieldSpec(FieldType.ENUM, SERVICE_CODES, "kode layanan"),
    "priority": FieldSpec(
        FieldType.PRIORITY, frozenset({"P1", "P2", "P3", "P4"}), "prioritas (P1 paling mendesak)"
    ),
    "severity": FieldSpec(FieldType.INT, None, "tingkat keparahan 1–5"),
    "region": FieldSpec(FieldType.STRING, None, "kode wilayah Kemendagri"),
    "channel": FieldSpec(FieldType.ENUM, CHANNELS, "kanal laporan"),
    "hour": FieldSpec(FieldType.INT, None, "jam lokal saat kasus dibuka (0–23)"),
    "weekday": FieldSpec(FieldType.INT, None, "hari lokal saat kasus dibuka (0 = Senin)"),
    "is_emergency": FieldSpec(FieldType.BOOL, None, "kasus darurat"),
    "is_anonymous": FieldSpec(FieldType.BOOL, None, "pelapor anonim"),
    "is_confidential": FieldSpec(FieldType.BOOL, None, "laporan rahasia"),
    "responsible_agency": FieldSpec(FieldType.ENUM, AGENCY_CODES, "instansi penanggung jawab"),
    "kind": FieldSpec(
        FieldType.ENUM, frozenset({"aspirasi", "pengaduan", "permintaan_informasi"}), "jenis laporan"
    ),
    "victims": FieldSpec(FieldType.INT, None, "jumlah korban"),
    "people_trapped": FieldSpec(FieldType.BOOL, None, "ada orang terjebak"),
    "water_level_cm": FieldSpec(FieldType.NUMBER, None, "tinggi muka air (cm)"),
    "area_ha": FieldSpec(FieldType.NUMBER, None, "luas terdampak (hektare)"),
    "reopen_count": FieldSpec(FieldType.INT, None, "berapa kali kasus dibuka kembali"),
}

_STEP_FIELD = re.compile(r"^steps\.([A-Za-z_][\w]*)\.output\.([A-Za-z_][\w]*)$")
_SHORTHAND = re.compile(r"^\s*([A-Za-z_][\w.]*)\s+(==|!=|<=|>=|<|>|not_in|not\s+in|in)\s+(.+?)\s*$")
_SHORTHAND_EXISTS = re.compile(r"^\s*exists\s+([A-Za-z_][\w.]*)\s*$")


class Condition(BaseModel):
    """One guard: a comparison `{field, op, value}` or a combinator `all` / `any` / `not`."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    field: str | None = None
    op: Op | None = None
    value: Any = None
    all: tuple[Condition, ...] | None = None
    any: tuple[Condition, ...] | None = None
    not_: Condition | None = Field(default=None, alias="not")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            return parse_shorthand(data)
        return data

    @model_validator(mode="after")
    def _one_form(self) -> Condition:
        forms = [self.field is not None, self.all is not None, self.any is not None, self.not_ is not None]
        if sum(forms) != 1:
            raise ValueError(
                "kondisi harus berisi tepat satu bentuk: {field, op, value}, {all: [...]}, {any: [...]} "
                "atau {not: ...}, atau teks seperti 'severity >= 3'"
            )
        if self.field is not None and self.op is None:
            raise ValueError(
                f"kondisi atas '{self.field}' tidak memiliki 'op' (==, !=, <, <=, >, >=, in, not_in, exists)"
            )
        if self.op in (Op.IN, Op.NOT_IN) and not isinstance(self.value, list | tuple):
            raise ValueError(f"operator '{self.op}' butuh daftar nilai, misalnya [banjir, kebakaran]")
        return self


def parse_shorthand(text: str) -> dict[str, Any]:
    """Turn 'severity >= 3' into {field, op, value}; the value is a YAML literal (safe_load, no code)."""
    match = _SHORTHAND_EXISTS.match(text)
    if match:
        return {"field": match.group(1), "op": "exists"}
    match = _SHORTHAND.match(text)
    if match is None:
        raise ValueError(
            f"kondisi '{text}' tidak dapat dibaca; tulis 'kolom operator nilai', misalnya 'severity >= 3' "
            "atau 'service in [banjir, kebakaran]'"
        )
    op = "not_in" if match.group(2).replace(" ", "") in ("notin", "not_in") else match.group(2)
    try:
        value = yaml.safe_load(match.group(3))
    except yaml.YAMLError as exc:
        raise ValueError(f"nilai pada kondisi '{text}' tidak dapat dibaca: {exc}") from None
    return {"field": match.group(1), "op": op, "value": value}


def _type_ok(spec: FieldSpec, value: Any) -> bool:
    if spec.type is FieldType.BOOL:
        return isinstance(value, bool)
    if spec.type is FieldType.INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if spec.type is FieldType.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if spec.type in (FieldType.ENUM, FieldType.PRIORITY):
        return isinstance(value, str) and (spec.choices is None or value in spec.choices)
    return isinstance(value, str)


def check_condition(cond: Condition, fields: Mapping[str, FieldSpec]) -> list[str]:
    """Every problem of a condition against the declared fields (empty list = valid)."""
    if cond.all is not None or cond.any is not None:
        parts = cond.all if cond.all is not None else cond.any
        assert parts is not None
        if not parts:
            return ["kombinator all/any tidak boleh kosong"]
        return [msg for part in parts for msg in check_condition(part, fields)]
    if cond.not_ is not None:
        return check_condition(cond.not_, fields)
    assert cond.field is not None and cond.op is not None
    spec = fields.get(cond.field)
    if spec is None:
        match = _STEP_FIELD.match(cond.field)
        if match:
            return [
                f"kondisi memakai '{cond.field}', tetapi langkah '{match.group(1)}' tidak mendeklarasikan "
                f"output '{match.group(2)}'; tambahkan di 'outputs' langkah itu atau perbaiki namanya"
            ]
        known = ", ".join(sorted(f for f in fields if not f.startswith("steps.")))
        return [
            f"kondisi memakai kolom '{cond.field}' yang tidak dikenal; gunakan salah satu dari: {known}, "
            "atau steps.<id>.output.<nama> yang dideklarasikan"
        ]
    if cond.op is Op.EXISTS:
        return []
    if cond.op in ORDERED_OPS and spec.type not in (FieldType.INT, FieldType.NUMBER, FieldType.PRIORITY):
        return [f"operator '{cond.op}' hanya untuk angka atau prioritas; '{cond.field}' bertipe {spec.type}"]
    values = list(cond.value) if cond.op in (Op.IN, Op.NOT_IN) else [cond.value]
    bad = [v for v in values if not _type_ok(spec, v)]
    if bad:
        allowed = f" (pilihan: {', '.join(sorted(spec.choices))})" if spec.choices else ""
        return [f"nilai {bad[0]!r} tidak cocok dengan '{cond.field}' bertipe {spec.type}{allowed}"]
    return []


def referenced_fields(cond: Condition) -> set[str]:
    """All field names a condition reads."""
    if cond.field is not None:
        return {cond.field}
    parts: tuple[Condition, ...] = cond.all or cond.any or ((cond.not_,) if cond.not_ else ())
    out: set[str] = set()
    for part in parts:
        out |= referenced_fields(part)
    return out


_MISSING = object()


def _rank(value: Any) -> Any:
    if isinstance(value, str) and len(value) == 2 and value[0] == "P" and value[1].isdigit():
        return int(value[1])
    return value


def evaluate(cond: Condition, lookup: Callable[[str], Any]) -> bool:
    """Evaluate a checked condition; `lookup(field)` returns the value or raises KeyError when absent.

    A comparison on an absent field is false (so `not` of it is true); `priority` compares by rank,
    so `priority <= P2` means P1 or P2.
    """
    if cond.all is not None:
        return all(evaluate(c, lookup) for c in cond.all)
    if cond.any is not None:
        return any(evaluate(c, lookup) for c in cond.any)
    if cond.not_ is not None:
        return not evaluate(cond.not_, lookup)
    assert cond.field is not None
    try:
        actual = lookup(cond.field)
    except KeyError:
        actual = _MISSING
    op = cond.op
    if op is Op.EXISTS:
        return actual is not _MISSING and actual is not None
    if actual is _MISSING or actual is None:
        return False
    expected = cond.value
    if op is Op.EQ:
        return bool(actual == expected)
    if op is Op.NE:
        return bool(actual != expected)
    if op is Op.IN:
        return actual in expected
    if op is Op.NOT_IN:
        return actual not in expected
    a, b = _rank(actual), _rank(expected)
    try:
        if op is Op.LT:
            return bool(a < b)
        if op is Op.LE:
            return bool(a <= b)
        if op is Op.GT:
            return bool(a > b)
        return bool(a >= b)
    except TypeError:
        return False
