"""SOP versions: a content hash of a spec, a readable diff between two specs, and pluggable version sources."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, Protocol

from kotapintar.core.errors import NotFound
from kotapintar.core.events.types import canonical_json
from kotapintar.sop.spec import SopSpec


def content_hash(spec: SopSpec) -> str:
    """SHA-256 of the canonical JSON of a spec: equal content, equal hash (the published version id)."""
    data = spec.model_dump(mode="json", by_alias=True, exclude_defaults=False)
    return hashlib.sha256(canonical_json(data).encode("utf-8")).hexdigest()


def _flatten(value: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            _flatten(item, f"{prefix}[{i}]", out)
    else:
        out[prefix] = value


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    return canonical_json(value)


def diff(a: SopSpec, b: SopSpec) -> list[str]:
    """What changed from spec a to spec b, one readable line per change (Indonesian)."""
    lines: list[str] = []
    da = a.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    db = b.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    steps_a = {s["id"]: s for s in da.pop("steps", [])}
    steps_b = {s["id"]: s for s in db.pop("steps", [])}
    actors_a = {x["id"]: x for x in da.pop("actors", [])}
    actors_b = {x["id"]: x for x in db.pop("actors", [])}
    for aid in actors_a.keys() - actors_b.keys():
        lines.append(f"pelaksana dihapus: {aid} ({actors_a[aid]['selector']})")
    for aid in actors_b.keys() - actors_a.keys():
        lines.append(f"pelaksana ditambah: {aid} ({actors_b[aid]['selector']})")
    for aid in sorted(actors_a.keys() & actors_b.keys()):
        lines += _changes(actors_a[aid], actors_b[aid], f"pelaksana '{aid}'")
    order_a, order_b = list(steps_a), list(steps_b)
    for sid in order_a:
        if sid not in steps_b:
            lines.append(f"langkah dihapus: {sid} ({steps_a[sid].get('kegiatan', '')})")
    for sid in order_b:
        if sid not in steps_a:
            lines.append(f"langkah ditambah: {sid} ({steps_b[sid].get('kegiatan', '')})")
    for sid in order_b:
        if sid in steps_a:
            lines += _changes(steps_a[sid], steps_b[sid], f"langkah '{sid}'")
    common = [s for s in order_a if s in steps_b]
    if common != [s for s in order_b if s in steps_a]:
        lines.append("urutan langkah berubah: " + " → ".join(s for s in order_b if s in steps_a))
    lines += _changes(da, db, "")
    return lines


def _changes(a: dict[str, Any], b: dict[str, Any], label: str) -> list[str]:
    fa: dict[str, Any] = {}
    fb: dict[str, Any] = {}
    _flatten(a, "", fa)
    _flatten(b, "", fb)
    out = []
    for key in sorted(fa.keys() | fb.keys()):
        where = f"{label}: {key}" if label else key
        if key not in fb:
            out.append(f"{where}: dihapus (dulu {_show(fa[key])})")
        elif key not in fa:
            out.append(f"{where}: ditambah {_show(fb[key])}")
        elif fa[key] != fb[key]:
            out.append(f"{where}: {_show(fa[key])} → {_show(fb[key])}")
    return out


class VersionSource(Protocol):
    """Where published SOP versions come from: files now, the database later (the lead's store)."""

    def versions(self, code: str) -> list[str]:
        """Known version labels of an SOP code, oldest first."""
        ...

    def get(self, code: str, version: str) -> SopSpec:
        """One published version (NotFound when absent)."""
        ...


class DirectoryVersionSource:
    """Versions kept as files `<dir>/<code>/v<N>.yaml` (or `<dir>/<code>.v<N>.yaml`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _paths(self, code: str) -> dict[str, Path]:
        found: dict[str, Path] = {}
        for path in sorted((self.root / code).glob("v*.yaml")):
            found[path.stem[1:]] = path
        for path in sorted(self.root.glob(f"{code}.v*.yaml")):
            found[path.name[len(code) + 2 : -len(".yaml")]] = path
        return found

    def versions(self, code: str) -> list[str]:
        """Version labels found on disk, numerically sorted where possible."""
        return sorted(
            self._paths(code), key=lambda v: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", v)]
        )

    def get(self, code: str, version: str) -> SopSpec:
        """Load one version file."""
        from kotapintar.sop.loader import load_sop

        label = version[1:] if version.startswith("v") else version
        path = self._paths(code).get(label)
        if path is None:
            raise NotFound(
                f"SOP '{code}' versi '{version}' tidak ditemukan di {self.root}.",
                code="sop_version_not_found",
            )
        return load_sop(path)
