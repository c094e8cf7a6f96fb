"""Serving stored photos: metadata-free copies only, and never a *rahasia* report's photo to the public."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from kotapintar.core.http.deps import ActorDep, DbDep, SettingsDep
from kotapintar.intake.media import open_photo

router = APIRouter(prefix="/media", tags=["media"])


def _file(path: object, public: bool) -> FileResponse:
    response = FileResponse(str(path), media_type="image/jpeg")
    response.headers["Cache-Control"] = "public, max-age=86400" if public else "private, no-store"
    return response


@router.get("/{token}.jpg", summary="A report photo")
def photo(token: str, db: DbDep, actor: ActorDep, settings: SettingsDep) -> FileResponse:
    """The stored (re-encoded) photo, if the caller may see the report it belongs to."""
    return _file(open_photo(db, actor, token, settings), actor.kind == "public")


@router.get("/{token}/thumb.jpg", summary="A report photo's thumbnail")
def thumbnail(token: str, db: DbDep, actor: ActorDep, settings: SettingsDep) -> FileResponse:
    """The thumbnail of a stored photo, with the same access rule as the photo."""
    return _file(open_photo(db, actor, token, settings, thumb=True), actor.kind == "public")
