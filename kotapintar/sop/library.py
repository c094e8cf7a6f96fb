"""The SOP library in the database: publish immutable versions, read them back, plug them into the CLI."""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from kotapintar.core.access.actors import Actor
from kotapintar.core.access.roles import Permission
from kotapintar.core.db.database import Database
from kotapintar.core.db.uow import UnitOfWork
from kotapintar.core.errors import NotFound
from kotapintar.core.events.types import EventType, utcnow
from kotapintar.sop.loader import SHIPPED_SOP_DIR, load_sop_text
from kotapintar.sop.models import SopVersion
from kotapintar.sop.repository import SopRepository
from kotapintar.sop.spec import SopSpec
from kotapintar.sop.versioning import content_hash

SYSTEM_STREAM = "system"

_cache_lock = threading.Lock()
_spec_cache: dict[tuple[str, int, str], SopSpec] = {}


@dataclass(frozen=True)
class PublishResult:
    """What publishing one SOP did: the version now current, and whether it is new."""

    code: str
    version: int
    content_hash: str
    created: bool


@dataclass(frozen=True)
class SopVersionView:
    """A published version as lists and the API show it."""

    code: str
    version: int
    content_hash: str
    title: str
    published_at: str
    published_by: str


def spec_of(row: SopVersion) -> SopSpec:
    """The parsed spec of a stored version (parsed once per process; versions never change)."""
    key = (row.code, row.version, row.content_hash)
    with _cache_lock:
        hit = _spec_cache.get(key)
    if hit is not None:
        return hit
    spec = load_sop_text(row.source, f"sop_versions:{row.code}:v{row.version}")
    with _cache_lock:
        _spec_cache[key] = spec
    return spec


def _read_source(path_or_text: str | Path) -> tuple[str, str]:
    if isinstance(path_or_text, Path) or (
        "\n" not in str(path_or_text) and str(path_or_text).endswith((".yaml", ".yml"))
    ):
        path = Path(path_or_text)
        return path.read_text(encoding="utf-8"), str(path)
    return str(path_or_text), "<sop>"


def publish_in(uow: UnitOfWork, actor_name: str, source: str, file: str = "<sop>") -> PublishResult:
    """Publish inside an open transaction: a new version only when the content hash changed."""
    spec = load_sop_text(source, file)
    digest = content_hash(spec)
    repo = SopRepository(uow.session)
    latest = repo.latest_version(spec.code)
    if latest is not None and latest.content_hash == digest:
        return PublishResult(spec.code, latest.version, digest, created=False)
    number = (latest.version if latest else 0) + 1
    now = utcnow()
    repo.add_version(
        SopVersion(
            code=spec.code,
            version=number,
            content_hash=digest,
            source=source,
            spec=spec.model_dump(mode="json", by_alias=True),
            published_at=now,
            published_by=actor_name,
        )
    )
    with _cache_lock:  # compiled at publish: the first case of this version does not parse it again
        _spec_cache[(spec.code, number, digest)] = spec
    uow.events.append(
        stream=SYSTEM_STREAM,
        case_id=None,
        type=EventType.SOP_PUBLISHED,
        actor=actor_name,
        at=now,
        payload={"sop": spec.code, "version": number, "content_hash": digest},
    )
    return PublishResult(spec.code, number, digest, created=True)


def publish_sop(db: Database, actor: Actor, path_or_text: str | Path) -> PublishResult:
    """Publish an SOP file (or YAML text): a new immutable version when it changed, a no-op otherwise."""
    actor.require(Permission.MANAGE_CATALOGUE)
    source, file = _read_source(path_or_text)
    with db.transaction() as uow:
        return publish_in(uow, actor.name, source, file)


def publish_shipped_sops(
    db: Database, actor: Actor, directory: Path = SHIPPED_SOP_DIR
) -> list[PublishResult]:
    """Publish every shipped SOP whose content changed (first run: all of them, as version 1)."""
    actor.require(Permission.MANAGE_CATALOGUE)
    out: list[PublishResult] = []
    with db.transaction() as uow:
        for path in sorted(directory.glob("*.yaml")):
            out.append(publish_in(uow, actor.name, path.read_text(encoding="utf-8"), str(path)))
    return out


def current_version(uow: UnitOfWork, code: str) -> SopVersion:
    """The newest version of an SOP; the shipped file is published first when the database has none.

    Used while a case opens: the publishing runs in a savepoint, so a concurrent first publish by another
    transaction makes this one read the winner's row instead of failing the intake.
    """
    repo = SopRepository(uow.session)
    row = repo.latest_version(code)
    if row is not None:
        return row
    path = SHIPPED_SOP_DIR / f"{code}.yaml"
    if not path.is_file():
        raise NotFound(f"Tidak ada SOP untuk layanan '{code}'.", code="sop_not_found")
    source = path.read_text(encoding="utf-8")
    spec = load_sop_text(source, str(path))
    # Another process may publish the same version first: then it is there, which is all we wanted.
    with contextlib.suppress(IntegrityError), uow.session.begin_nested():
        repo.add_version(
            SopVersion(
                code=code,
                version=1,
                content_hash=content_hash(spec),
                source=source,
                spec=spec.model_dump(mode="json", by_alias=True),
                published_at=utcnow(),
                published_by="system:sop-library",
            )
        )
    row = repo.latest_version(code)
    assert row is not None
    return row


def current_spec(uow: UnitOfWork, code: str) -> tuple[int, str, SopSpec]:
    """(version, content hash, parsed spec) of the newest version of an SOP, for opening a case.

    Reads only the version number and hash (not the stored source and spec JSON); the spec comes from this
    process's cache of published versions, parsed once per (code, version, hash) since versions are
    immutable. A new version published by any process is seen at once (its number is newer).
    """
    head = uow.session.execute(
        select(SopVersion.version, SopVersion.content_hash)
        .where(SopVersion.code == code)
        .order_by(SopVersion.version.desc())
        .limit(1)
    ).first()
    if head is not None:
        with _cache_lock:
            hit = _spec_cache.get((code, int(head.version), str(head.content_hash)))
        if hit is not None:
            return int(head.version), str(head.content_hash), hit
    row = current_version(uow, code)
    return row.version, row.content_hash, spec_of(row)


def _view(row: SopVersion) -> SopVersionView:
    return SopVersionView(
        code=row.code,
        version=row.version,
        content_hash=row.content_hash,
        title=str((row.spec.get("identitas") or {}).get("judul", row.code)),
        published_at=row.published_at.isoformat(),
        published_by=row.published_by,
    )


def list_sops(db: Database) -> list[SopVersionView]:
    """The newest version of every published SOP."""
    with db.reading() as uow:
        return [_view(r) for r in SopRepository(uow.session).latest_all()]


def list_versions(db: Database, code: str) -> list[SopVersionView]:
    """Every published version of one SOP, oldest first."""
    with db.reading() as uow:
        return [_view(r) for r in SopRepository(uow.session).versions(code)]


def get_spec(db: Database, code: str, version: int | None = None) -> tuple[SopVersionView, SopSpec]:
    """One published version (newest when `version` is None) with its parsed spec."""
    with db.reading() as uow:
        repo = SopRepository(uow.session)
        row = repo.latest_version(code) if version is None else repo.version(code, version)
        if row is None:
            raise NotFound(
                f"SOP '{code}'"
                + (f" versi {version}" if version is not None else "")
                + " belum diterbitkan.",
                code="sop_version_not_found",
            )
        return _view(row), spec_of(row)


class DatabaseVersionSource:
    """Published versions read from the database, for `kotapintar sop diff CODE V1 V2` and `sop render`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def versions(self, code: str) -> list[str]:
        """Version numbers of an SOP code as labels, oldest first."""
        return [str(v.version) for v in list_versions(self.db, code)]

    def get(self, code: str, version: str) -> SopSpec:
        """One published version; accepts `3` or `v3`."""
        label = version[1:] if version.startswith("v") else version
        if not label.isdigit():
            raise NotFound(f"Versi SOP '{version}' tidak dikenal; pakai nomor, mis. 1 atau v1.")
        return get_spec(self.db, code, int(label))[1]
