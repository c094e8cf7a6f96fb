"""Photos sent with reports: checked by content, re-encoded without metadata, thumbnailed, stored on disk.

The original upload is never kept: what is stored is a fresh JPEG with no EXIF (no GPS, no device),
so nobody, not even an operator, can read the reporter's device or home position from a photo.
Photos of *rahasia* reports are never served to the public.
"""

from __future__ import annotations

import hashlib
import io
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import filetype
from PIL import Image, ImageOps, UnidentifiedImageError

from kotapintar.cases.repository import CaseRepository
from kotapintar.core.access.actors import Actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotFound, ValidationFailed
from kotapintar.core.events.types import utcnow
from kotapintar.core.settings import Settings
from kotapintar.intake.models import MediaFile
from kotapintar.intake.repository import IntakeRepository

ACCEPTED_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
MAX_PIXELS = 40_000_000  # refuse decompression bombs well before Pillow's own warning
JPEG_QUALITY = 82


@dataclass(frozen=True)
class Upload:
    """One file as received: its bytes and what the sender called it (the name is never trusted)."""

    data: bytes
    filename: str = ""


@dataclass(frozen=True)
class StoredPhoto:
    """A photo stored by an earlier attempt of the same form, not yet attached to a report: its media entry."""

    entry: dict[str, Any]


@dataclass(frozen=True)
class _Encoded:
    original_type: str
    image: bytes
    thumb: bytes
    width: int
    height: int


def sniff_type(data: bytes) -> str | None:
    """The image type read from the bytes themselves (magic numbers), or None when it is no accepted image."""
    kind = filetype.guess(data[:8192])
    mime = kind.mime if kind is not None else None
    return mime if mime in ACCEPTED_TYPES else None


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    # No exif=, no icc_profile=: the new file carries pixels only.
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue()


def encode_photo(data: bytes, settings: Settings, *, index: int = 0) -> _Encoded:
    """Check one photo by content and size, and re-encode it (oriented, resized, metadata-free) with a thumbnail."""
    label = f"Foto ke-{index + 1}"
    if len(data) > settings.max_photo_bytes:
        mb = settings.max_photo_bytes / 1024 / 1024
        raise ValidationFailed(
            f"{label} terlalu besar (maksimum {mb:.0f} MB) / photo too large.",
            code="photo_too_large",
            field="photos",
        )
    mime = sniff_type(data)
    if mime is None:
        raise ValidationFailed(
            f"{label} bukan gambar JPEG, PNG atau WebP / only JPEG, PNG or WebP photos are accepted.",
            code="photo_type",
            field="photos",
        )
    try:
        with Image.open(io.BytesIO(data)) as probe:
            if probe.width * probe.height > MAX_PIXELS:
                raise ValidationFailed(
                    f"{label} beresolusi terlalu tinggi / photo resolution too high.",
                    code="photo_too_large",
                    field="photos",
                )
            probe.load()
            oriented = ImageOps.exif_transpose(probe) or probe
            image = oriented.convert("RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValidationFailed(
            f"{label} rusak atau tidak dapat dibaca / the photo cannot be read.",
            code="photo_broken",
            field="photos",
        ) from exc
    image.thumbnail((settings.photo_max_px, settings.photo_max_px))
    stored = _jpeg(image)
    thumb_image = image.copy()
    thumb_image.thumbnail((settings.thumb_max_px, settings.thumb_max_px))
    return _Encoded(mime, stored, _jpeg(thumb_image), image.width, image.height)


def media_paths(settings: Settings, token: str) -> tuple[Path, Path]:
    """Where a stored photo and its thumbnail live on disk."""
    folder = Path(settings.media_dir) / token[:2]
    return folder / f"{token}.jpg", folder / f"{token}.thumb.jpg"


def media_entry(row: MediaFile) -> dict[str, Any]:
    """The JSON kept on the report for one photo: URLs and sizes, nothing about the sender."""
    return {
        "token": row.token,
        "url": f"/media/{row.token}.jpg",
        "thumb_url": f"/media/{row.token}/thumb.jpg",
        "content_type": row.content_type,
        "width": row.width,
        "height": row.height,
        "bytes": row.bytes,
        "sha256": row.sha256,
    }


def store_photos(
    db: Database,
    actor: Actor,
    uploads: list[Upload],
    *,
    channel: str,
    confidential: bool,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Check, re-encode and store the photos of one report; all are refused if one is bad.

    Anyone who may submit a report may attach photos, so no permission is required beyond that.
    Returns the media entries for `submit_report(..., media=...)`.
    """
    uploads = [u for u in uploads if u.data]
    if len(uploads) > settings.max_photos:
        raise ValidationFailed(
            f"Paling banyak {settings.max_photos} foto per laporan / at most {settings.max_photos} photos.",
            code="too_many_photos",
            field="photos",
        )
    encoded = [encode_photo(u.data, settings, index=i) for i, u in enumerate(uploads)]
    if not encoded:
        return []
    written: list[Path] = []
    try:
        with db.transaction() as uow:
            repo = IntakeRepository(uow.session)
            entries = []
            for upload, enc in zip(uploads, encoded, strict=True):
                token = secrets.token_urlsafe(18)
                image_path, thumb_path = media_paths(settings, token)
                image_path.parent.mkdir(parents=True, exist_ok=True)
                image_path.write_bytes(enc.image)
                written.append(image_path)
                thumb_path.write_bytes(enc.thumb)
                written.append(thumb_path)
                row = repo.add_media(
                    MediaFile(
                        token=token,
                        sha256=hashlib.sha256(enc.image).hexdigest(),
                        content_type="image/jpeg",
                        original_type=enc.original_type,
                        original_bytes=len(upload.data),
                        bytes=len(enc.image),
                        width=enc.width,
                        height=enc.height,
                        thumb_bytes=len(enc.thumb),
                        confidential=confidential,
                        channel=channel,
                        created_at=utcnow(),
                    )
                )
                entries.append(media_entry(row))
            return entries
    except BaseException:
        discard_files(written)
        raise


def discard_files(paths: list[Path]) -> None:
    """Remove files written for a report that was then refused (no half-created report stays behind)."""
    for path in paths:
        path.unlink(missing_ok=True)


def discard_photos(db: Database, settings: Settings, media: list[dict[str, Any]]) -> None:
    """Delete stored photos that belong to no report (the report was refused after they were stored):
    their files and their rows, so a refused report leaves nothing behind."""
    if not media:
        return
    for entry in media:
        discard_files(list(media_paths(settings, str(entry["token"]))))
    with db.transaction() as uow:
        IntakeRepository(uow.session).delete_unlinked_media([str(m["token"]) for m in media])


def link_photos(
    db: Database,
    media: list[dict[str, Any]],
    case_id: int,
    report_id: int,
    *,
    confidential: bool | None = None,
) -> None:
    """Record which report (and case) stored photos belong to; decides who may see them."""
    if not media:
        return
    with db.transaction() as uow:
        IntakeRepository(uow.session).link_media(
            [str(m["token"]) for m in media], case_id, report_id, confidential=confidential
        )


def open_photo(db: Database, actor: Actor, token: str, settings: Settings, *, thumb: bool = False) -> Path:
    """The file of a stored photo if `actor` may see it; NotFound otherwise (also for *rahasia* to the public)."""
    gone = NotFound("Foto tidak ditemukan / photo not found.")
    with db.reading() as uow:
        row = IntakeRepository(uow.session).media_by_token(token)
        if row is None or row.case_id is None:
            raise gone
        if row.confidential and actor.kind in ("public", "client"):
            raise gone
        if uow.repo(CaseRepository).visible(row.case_id, actor.case_scope()) is None:
            raise gone
    image_path, thumb_path = media_paths(settings, token)
    path = thumb_path if thumb else image_path
    if not path.is_file():
        raise gone
    return path


def unlinked_photos(db: Database, tokens: list[str]) -> list[dict[str, Any]]:
    """Stored photos that belong to no report yet (kept across a form that came back with errors), in the
    order given; tokens of photos already attached to a report, or unknown, are left out."""
    entries: list[dict[str, Any]] = []
    with db.reading() as uow:
        repo = IntakeRepository(uow.session)
        for token in dict.fromkeys(tokens):
            row = repo.media_by_token(token)
            if row is not None and row.report_id is None and row.case_id is None:
                entries.append(media_entry(row))
    return entries


def thumb_data_uri(settings: Settings, token: str) -> str | None:
    """A stored photo's thumbnail as a `data:` URI, so the form can show a photo not yet linked to a report
    (the /media routes serve only photos of reports the reader may see)."""
    import base64

    path = media_paths(settings, token)[1]
    if not path.is_file():
        return None
    return "data:image/jpeg;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


ABANDONED_AFTER = timedelta(hours=24)


def discard_abandoned_photos(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Delete photos kept for a form that was never sent (unlinked for a day): files and rows. Returns how many."""
    cutoff = (now or utcnow()) - ABANDONED_AFTER
    with db.reading() as uow:
        tokens = IntakeRepository(uow.session).unlinked_media_before(cutoff)
    discard_photos(db, settings, [{"token": t} for t in tokens])
    return len(tokens)
