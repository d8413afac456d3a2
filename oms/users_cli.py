"""`oms users …`: people, their roles and scopes, and channel API keys, in the configured database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from sqlmodel import Session

users = typer.Typer(
    help="People: roles (admin, analyst, operator, channel, custom), scopes, channel keys.", no_args_is_help=True
)
keys = typer.Typer(help="Channel API keys: each bound to one channel, shown once, stored hashed.", no_args_is_help=True)
users.add_typer(keys, name="keys")

Roles = Annotated[list[str] | None, typer.Option("--role", "-r", help="a role; repeat for several")]
Channels = Annotated[list[str] | None, typer.Option("--channel", help="limit to this channel; repeat for several")]
Warehouses = Annotated[
    list[str] | None, typer.Option("--warehouse", help="limit to this warehouse code; repeat for several")
]
Email = Annotated[str, typer.Option("--email", help="where escalated tasks of the user's roles are announced")]
Password = Annotated[
    str,
    typer.Option(
        prompt=True,
        hide_input=True,
        confirmation_prompt=True,
        envvar="OMS_NEW_PASSWORD",
        help="prompted for when not given (or OMS_NEW_PASSWORD)",
    ),
]


@contextmanager
def _database() -> Iterator[Session]:
    """A transaction on the configured database, brought to this schema first; typed errors end the command."""
    from oms import migrate
    from oms.db import session_scope
    from services.errors import DomainError

    migrate.upgrade()
    try:
        with session_scope() as session:
            yield session
    except DomainError as exc:
        typer.echo(f"oms users: {exc.message}", err=True)
        raise typer.Exit(1) from None


def _show(user) -> str:
    scopes = [
        f"channels={','.join(user.channels)}" if user.channels else "",
        f"warehouses={','.join(user.warehouses)}" if user.warehouses else "",
    ]
    state = "active" if user.active else "disabled"
    return " ".join(p for p in (user.username, ",".join(user.roles), *scopes, state) if p)


def _change(message: str, change: Callable[[Session], object]) -> None:
    with _database() as session:
        change(session)
    typer.echo(message)


@users.command("add")
def add(
    username: str,
    password: Password,
    role: Roles = None,
    channel: Channels = None,
    warehouse: Warehouses = None,
    email: Email = "",
) -> None:
    """Add a person: `oms users add ann --role operator --warehouse BER --email ann@example.com`."""
    from services import people

    with _database() as session:
        user = people.add_user(session, username, password, role or [], channel or [], warehouse or [], email)
        line = _show(user)
    typer.echo(f"added {line}")


@users.command("list")
def list_() -> None:
    """Every user: name, roles, scopes, active or disabled."""
    from services import people

    with _database() as session:
        lines = [_show(u) for u in people.list_users(session)]
    typer.echo("\n".join(lines) if lines else "no users yet: oms users add NAME --role admin")


@users.command("disable")
def disable(username: str) -> None:
    """Stop a person signing in; their tokens stop working at once."""
    from services import people

    _change(f"disabled {username}", lambda s: people.set_active(s, username, False))


@users.command("enable")
def enable(username: str) -> None:
    """Let a disabled person sign in again."""
    from services import people

    _change(f"enabled {username}", lambda s: people.set_active(s, username, True))


@users.command("set-email")
def set_email(username: str, email: str) -> None:
    """The address escalated tasks of the user's roles go to ("" for none)."""
    from services import people

    _change(f"set the e-mail of {username}", lambda s: people.set_email(s, username, email))


@users.command("set-language")
def set_language(username: str, language: str) -> None:
    """The language of the user's pages: en, zh, or "" to follow the browser."""
    from services import people

    _change(f"set the language of {username}", lambda s: people.set_language(s, username, language))


@users.command("set-password")
def set_password(username: str, password: Password) -> None:
    """A new password; every token issued before stops working."""
    from services import people

    _change(f"password of {username} changed", lambda s: people.set_password(s, username, password))


@users.command("set-roles")
def set_roles(
    username: str,
    role: Roles = None,
    channel: Channels = None,
    warehouse: Warehouses = None,
    all_channels: Annotated[bool, typer.Option("--all-channels", help="remove the channel limit")] = False,
    all_warehouses: Annotated[bool, typer.Option("--all-warehouses", help="remove the warehouse limit")] = False,
) -> None:
    """Replace roles and/or scopes (what is not given stays); effective on the person's next request."""
    from services import people

    channels = [] if all_channels else channel
    warehouses = [] if all_warehouses else warehouse
    with _database() as session:
        line = _show(people.set_roles(session, username, role, channels, warehouses))
    typer.echo(line)


@keys.command("create")
def create_key(
    channel: Annotated[str, typer.Option("--channel", help="the channel the key acts for")],
    label: Annotated[str, typer.Option(help="what uses it, e.g. 'shop backend'")] = "",
) -> None:
    """A new key for a channel; printed once, only its hash is stored."""
    from services import people

    with _database() as session:
        issued = people.create_key(session, channel, "cli", label)
        key_id = issued.row.id
    typer.echo(f"key {key_id} for channel {channel} (shown once; keep it secret):\n{issued.key}")


@keys.command("list")
def list_keys(channel: Annotated[str | None, typer.Option(help="only this channel's")] = None) -> None:
    """Every key: id, channel, label, created, revoked."""
    from services import people

    with _database() as session:
        rows = people.list_keys(session, channel)
        lines = [
            f"{k.id} {k.channel} {k.label!r} created {k.created_at:%Y-%m-%d %H:%M} by {k.created_by}"
            + (f" revoked {k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else " active")
            for k in rows
        ]
    typer.echo("\n".join(lines) if lines else "no channel keys")


@keys.command("rotate")
def rotate_key(key_id: str) -> None:
    """A new key in place of KEY_ID, which stops working now; the new key is printed once."""
    from services import people

    with _database() as session:
        issued = people.rotate_key(session, key_id, "cli")
        new_id, channel = issued.row.id, issued.row.channel
    typer.echo(f"key {new_id} for channel {channel} replaces {key_id} (shown once; keep it secret):\n{issued.key}")


@keys.command("revoke")
def revoke_key(key_id: str) -> None:
    """Stop a key working, at once."""
    from services import people

    _change(f"revoked {key_id}", lambda s: people.revoke_key(s, key_id))
