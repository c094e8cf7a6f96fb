"""FastAPI dependencies: the database, the settings and the actor behind each request."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from kotapintar.core.access import auth
from kotapintar.core.access.actors import PUBLIC, Actor
from kotapintar.core.db.database import Database
from kotapintar.core.errors import NotAuthenticated
from kotapintar.core.http.read_your_writes import machine_client, wrote_recently
from kotapintar.core.http.security import check_cookie_request
from kotapintar.core.settings import Settings

SESSION_COOKIE = "kp_session"


def get_db(request: Request) -> Database:
    """The application's database."""
    db: Database = request.app.state.db
    return db


def read_db(request: Request) -> Database:
    """The database for a read-only request that may be a moment behind: the replica's reads when one is
    configured and usable, unless the caller is a machine client or has just written (then the primary;
    the rule is in `core.http.read_your_writes`). Writes made through it still go to the primary."""
    db: Database = request.app.state.db
    if db.replica is None or machine_client(request) or wrote_recently(request):
        return db
    return db.replica_reads()


def get_settings_dep(request: Request) -> Settings:
    """The application's settings."""
    settings: Settings = request.app.state.settings
    return settings


def current_actor(request: Request, db: Annotated[Database, Depends(get_db)]) -> Actor:
    """Who is calling: bearer token, then session cookie, then API key; else the anonymous public."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return auth.actor_from_token(db, header[7:].strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        signed = request.app.state.signer.read(cookie)
        if signed is not None:
            try:
                actor = auth.actor_from_session(db, signed[0], signed[1])
                request.state.session_id = signed[1]
                if request.url.path.startswith("/api/"):
                    # The browser sends the cookie on its own: unsafe API calls must prove they come from
                    # our pages (the HTML forms check their form token in the page routers).
                    check_cookie_request(request, signed[1])
                return actor
            except NotAuthenticated:
                request.state.session_id = None  # a stale session: fall through to API key / public
    key = request.headers.get("x-api-key") or request.query_params.get("api_key")
    if key:
        client = auth.client_for_api_key(db, key)
        if client is not None:
            return client
    return PUBLIC


def logged_in(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    """The caller, who must be a logged-in user."""
    if actor.kind != "user":
        raise NotAuthenticated(
            "Masuk dulu: kirim 'Authorization: Bearer <token>' dari POST /api/v1/auth/token / log in first."
        )
    return actor


DbDep = Annotated[Database, Depends(get_db)]
ReadDbDep = Annotated[Database, Depends(read_db)]  # read-only routes that may use the read replica
ActorDep = Annotated[Actor, Depends(current_actor)]
UserDep = Annotated[Actor, Depends(logged_in)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
