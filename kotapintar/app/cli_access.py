"""`kotapintar user disable|enable|reset-password` and `kotapintar token revoke`: ending access at once.

Heavy imports stay inside the commands so `kotapintar --help` stays fast.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import Annotated

import typer

from kotapintar.core.errors import DomainError

token_app = typer.Typer(help="Bearer tokens and browser sessions of users.", no_args_is_help=True)


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _run(command: str, username: str, password: str | None = None) -> None:
    from kotapintar.core.access import accounts
    from kotapintar.core.access.actors import system_actor
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    db = open_database(get_settings())
    actor = system_actor("cli")
    try:
        if command == "disable":
            change = accounts.disable_user(db, actor, username)
        elif command == "enable":
            change = accounts.enable_user(db, actor, username)
        elif command == "reset-password":
            change = accounts.reset_password(db, actor, username, password or "")
        else:
            change = accounts.revoke_user_tokens(db, actor, username)
    except DomainError as exc:
        _fail(str(exc))
        return
    state = "aktif / active" if change.active else "nonaktif / disabled"
    typer.echo(f"{change.username}: {state}; {change.revoked} sesi/token dicabut / sessions+tokens revoked")


def user_disable(username: str) -> None:
    """Disable a user: no more logins; every open session and bearer token ends now."""
    _run("disable", username)


def user_enable(username: str) -> None:
    """Allow a disabled user to log in again."""
    _run("enable", username)


def user_reset_password(username: str) -> None:
    """Set a new password (KOTAPINTAR_NEW_PASSWORD or a prompt); open sessions and tokens end."""
    password = os.environ.get("KOTAPINTAR_NEW_PASSWORD")
    if password is None:
        if not sys.stdin.isatty():
            _fail("no terminal to ask for a password; set KOTAPINTAR_NEW_PASSWORD")
        password = getpass.getpass("new password: ")
        if getpass.getpass("again: ") != password:
            _fail("the two passwords differ")
    _run("reset-password", username, password)


@token_app.command("revoke")
def token_revoke(
    token: Annotated[str | None, typer.Argument(help="a bearer token (kpt_…) to revoke")] = None,
    user: Annotated[
        str | None, typer.Option("--user", help="revoke every token and session of a user")
    ] = None,
) -> None:
    """Revoke one bearer token, or every token and browser session of `--user`."""
    if (token is None) == (user is None):
        _fail("give either a TOKEN or --user USERNAME")
    if user is not None:
        _run("revoke", user)
        return
    from kotapintar.core.access import auth
    from kotapintar.core.db.bootstrap import open_database
    from kotapintar.core.settings import get_settings

    if not auth.revoke_token(open_database(get_settings()), token or ""):
        _fail("token tidak dikenal atau sudah dicabut / unknown or already revoked token")
    typer.echo("token dicabut / token revoked")


def register(app: typer.Typer, user_app: typer.Typer) -> None:
    """Mount the commands on the CLI root and its `user` group."""
    user_app.command("disable")(user_disable)
    user_app.command("enable")(user_enable)
    user_app.command("reset-password")(user_reset_password)
    app.add_typer(token_app, name="token")
