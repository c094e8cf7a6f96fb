"""Reading a city's set-up files (YAML or CSV) row by row, each row keeping its file and line for errors.

A city keeps its agencies, services, units and users in version control as YAML or CSV; every problem the
set-up finds names the file, the line and the field, so a clerk can fix the file without reading code.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kotapintar.core.errors import ValidationFailed

LIST_SEPARATOR = ";"  # list cells in CSV: "62.71;62.71.01"


@dataclass(frozen=True)
class Row:
    """One record of a set-up file and where it stands."""

    file: str
    line: int
    data: dict[str, Any]

    def where(self, field: str | None = None) -> str:
        """`file:line` (and the field) for an error message."""
        return f"{self.file}:{self.line}" + (f": {field}" if field else "")


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a set-up file."""

    where: str
    message: str

    def line(self) -> str:
        """The problem as one line of the report."""
        return f"{self.where}: {self.message}"


class SetupRefused(ValidationFailed):
    """The set-up files have problems; nothing was changed. Carries every problem found."""

    code = "setup_refused"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        head = "Pengaturan ditolak, tidak ada yang diubah / set-up refused, nothing changed:"
        super().__init__("\n".join([head, *(f"  {p.line()}" for p in problems)]))


class _LineLoader(yaml.SafeLoader):
    """A safe YAML loader that records the line of every mapping under the key `__line__`."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _yaml_rows(name: str, text: str, key: str) -> list[Row]:
    try:
        data = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise SetupRefused([Problem(f"{name}:{line}", f"YAML tidak sah / invalid YAML: {exc}")]) from exc
    if isinstance(data, dict):
        data = data.get(key)
    if not isinstance(data, list):
        raise SetupRefused([Problem(f"{name}:1", f"harus berisi daftar '{key}:' / expected a list '{key}'")])
    rows = []
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise SetupRefused([Problem(f"{name}: item {i + 1}", "harus berupa mapping / must be a mapping")])
        line = int(item.pop("__line__", 0))
        rows.append(Row(name, line, _strip_lines(item)))
    return rows


def _strip_lines(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_lines(v) for k, v in value.items() if k != "__line__"}
    if isinstance(value, list):
        return [_strip_lines(v) for v in value]
    return value


def _csv_rows(name: str, text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text))
    rows = []
    for record in reader:
        data = {
            (k or "").strip(): (v.strip() if isinstance(v, str) else v)
            for k, v in record.items()
            if k and v not in (None, "")
        }
        rows.append(Row(name, reader.line_num, data))
    return rows


def read_rows(path: Path, key: str) -> list[Row]:
    """The records of a YAML (`key:` list, or a bare list) or CSV (header row) file, with their lines."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SetupRefused([Problem(str(path), f"tidak dapat dibaca / unreadable: {exc}")]) from exc
    if path.suffix.lower() == ".csv":
        return _csv_rows(path.name, text)
    return _yaml_rows(path.name, text, key)


def as_list(value: Any) -> list[Any]:
    """A list field from YAML (a list) or CSV (`a;b;c`)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    return [part.strip() for part in str(value).split(LIST_SEPARATOR) if part.strip()]


def as_bool(value: Any) -> bool:
    """A yes/no field from YAML (true) or CSV (true, ya, 1)."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "ya", "y")


def write_rows(path: Path, key: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Write records back in the format the reader takes (by the file's suffix)."""
    if path.suffix.lower() == ".csv":
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow(
                    {
                        c: LIST_SEPARATOR.join(map(str, row[c]))
                        if isinstance(row.get(c), list)
                        else row.get(c)
                        for c in columns
                    }
                )
        return
    path.write_text(
        yaml.safe_dump({key: rows}, allow_unicode=True, sort_keys=False, width=120), encoding="utf-8"
    )
