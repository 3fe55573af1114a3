"""Accounts for the studio server: user add|ls|passwd|disable|enable, token create|ls|revoke,
role grant|revoke|ls, audit ls. The local operator runs them (their actions are audited as
``local:<os user>``); the server's own API offers the same to studio admins."""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime

import typer

from reelforge.cli.common import cell, console, emit_json, state, studio, when

user_app = typer.Typer(help="Studio accounts (who may use the server).", no_args_is_help=True)
token_app = typer.Typer(help="API tokens (shown once, stored hashed).", no_args_is_help=True)
role_app = typer.Typer(help="Roles per project: viewer, editor, admin.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit log: who did what, when.", no_args_is_help=True)

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")
    app.add_typer(role_app, name="role")
    app.add_typer(audit_app, name="audit")


def parse_duration(text: str) -> float:
    """``90s``, ``15m``, ``12h``, ``30d``, ``2w``; a bare number is days."""
    from reelforge.errors import InvalidInput

    m = _DURATION.match(text)
    if m is None or float(m.group(1)) <= 0:
        raise InvalidInput(f"invalid duration {text!r} (e.g. 90m, 12h, 30d)")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def parse_when(text: str) -> float:
    """A moment: a duration ago (``1h``, ``7d``) or an ISO date/time (``2026-11-30T12:00``)."""
    from reelforge.errors import InvalidInput

    if _DURATION.match(text):
        return time.time() - parse_duration(text)
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise InvalidInput(f"invalid time {text!r} (a duration ago like 1h or 7d, or an ISO date)") from None


def _read_password(from_stdin: bool, *, confirm: bool = True) -> str:
    from reelforge.errors import InvalidInput

    if from_stdin:
        line = sys.stdin.readline()
        return line[:-1] if line.endswith("\n") else line
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to ask for a password: pipe it in with --password-stdin")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=confirm))


def _print_user(u: object) -> None:
    if state.json_output:
        emit_json(u.to_dict())  # type: ignore[attr-defined]
    else:
        console.print(f"{u.id} {u.username}" + (" (studio admin)" if u.is_admin else "")  # type: ignore[attr-defined]
                      + (" (disabled)" if u.disabled else ""), markup=False, highlight=False)  # type: ignore[attr-defined]


# -- users ---------------------------------------------------------------------------------------
@user_app.command("add")
def user_add(
    name: str = typer.Argument(..., help="user name: a-z 0-9 . _ -"),
    admin: bool = typer.Option(False, "--admin", help="studio admin: every project, accounts, the audit log"),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    no_password: bool = typer.Option(False, "--no-password", help="token-only account (no login)"),
) -> None:
    """Create an account (its password is stored as an argon2id hash)."""
    password = None if no_password else _read_password(password_stdin)
    _print_user(studio().access.create_user(name, password, admin=admin))


@user_app.command("ls")
def user_ls() -> None:
    """List accounts."""
    users = studio().access.list_users()
    if state.json_output:
        emit_json([u.to_dict() for u in users])
        return
    from reelforge.cli.common import new_table

    table = new_table("id", "user", "admin", "disabled", "password", "created")
    for u in users:
        table.add_row(u.id, cell(u.username), "yes" if u.is_admin else "", "yes" if u.disabled else "",
                      "set" if u.has_password else "-", when(u.created_at))
    console.print(table)


@user_app.command("passwd")
def user_passwd(
    name: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
) -> None:
    """Set a new password (ends the user's browser sessions)."""
    password = _read_password(password_stdin)
    _print_user(studio().access.set_password(name, password))


@user_app.command("disable")
def user_disable(name: str = typer.Argument(...)) -> None:
    """Disable an account: its logins, sessions and tokens stop working at once."""
    _print_user(studio().access.set_disabled(name, True))


@user_app.command("enable")
def user_enable(name: str = typer.Argument(...)) -> None:
    """Enable a disabled account again."""
    _print_user(studio().access.set_disabled(name, False))


# -- tokens --------------------------------------------------------------------------------------
@token_app.command("create")
def token_create(
    user: str = typer.Option(..., "--user", "-u", help="whose token"),
    name: str = typer.Option("", "--name", help="what it is for"),
    scope: list[str] = typer.Option(["read", "write"], "--scope", help="read, write, admin (repeat)"),
    expires: str | None = typer.Option(None, "--expires", help="lifetime: 12h, 30d, 2w (default: none)"),
) -> None:
    """Create an API token. Its secret is printed once; only its hash is kept."""
    expires_in = parse_duration(expires) if expires else None
    token, secret = studio().access.create_token(user, name, scopes=scope, expires_in=expires_in)
    if state.json_output:
        emit_json({**token.to_dict(), "token": secret})
        return
    sys.stdout.write(secret + "\n")
    sys.stderr.write(f"{token.id} for {token.username}, scopes {','.join(token.scopes)}"
                     + (f", expires {when(token.expires_at)}" if token.expires_at else "")
                     + " (the secret above is shown only now)\n")


@token_app.command("ls")
def token_ls(user: str | None = typer.Option(None, "--user", "-u")) -> None:
    """List tokens (never their secrets)."""
    tokens = studio().access.list_tokens(user)
    if state.json_output:
        emit_json([t.to_dict() for t in tokens])
        return
    from reelforge.cli.common import new_table

    table = new_table("id", "user", "name", "scopes", "state", "expires", "last used")
    for t in tokens:
        status = "revoked" if t.revoked_at else ("active" if t.active else "expired")
        table.add_row(t.id, cell(t.username), cell(t.name), ",".join(t.scopes), status, when(t.expires_at),
                      when(t.last_used_at))
    console.print(table)


@token_app.command("revoke")
def token_revoke(token_id: str = typer.Argument(..., help="tok_…")) -> None:
    """Revoke a token: it stops working at once."""
    t = studio().access.revoke_token(token_id)
    if state.json_output:
        emit_json(t.to_dict())
    else:
        console.print(f"revoked {t.id} ({t.username})", markup=False, highlight=False)


# -- roles ---------------------------------------------------------------------------------------
@role_app.command("grant")
def role_grant(
    user: str = typer.Argument(...),
    project: str = typer.Argument(...),
    role: str = typer.Argument(..., help="viewer, editor or admin"),
) -> None:
    """Give a user a role in a project (replacing the one they had)."""
    m = studio().access.grant(user, project, role)
    if state.json_output:
        emit_json(m.to_dict())
    else:
        console.print(f"{m.username} is {m.role} of {project}", markup=False, highlight=False)


@role_app.command("revoke")
def role_revoke(user: str = typer.Argument(...), project: str = typer.Argument(...)) -> None:
    """Take a user's role in a project away."""
    from reelforge.errors import NotFound

    if not studio().access.revoke(user, project):
        raise NotFound(f"{user!r} holds no role in {project!r}")
    console.print(f"{user} no longer has a role in {project}", markup=False, highlight=False)


@role_app.command("ls")
def role_ls(
    project: str | None = typer.Option(None, "--project", "-P"),
    user: str | None = typer.Option(None, "--user", "-u"),
) -> None:
    """Members of a project, or the roles of a user (default: every project's members)."""
    s = studio()
    rows: list[tuple[str, str, str]] = []
    if user is not None:
        rows = [(user, proj, role) for proj, role in s.access.roles_of(user).items()]
    else:
        projects = [s.projects.get(project)] if project else s.projects.list()
        rows = [(m.username, p.name, m.role) for p in projects for m in s.access.members(p.id)]
    if state.json_output:
        emit_json([{"user": u, "project": p, "role": r} for u, p, r in rows])
        return
    from reelforge.cli.common import new_table

    table = new_table("user", "project", "role", ids=())
    for u, p, r in rows:
        table.add_row(cell(u), cell(p), r)
    console.print(table)


# -- audit ---------------------------------------------------------------------------------------
@audit_app.command("ls")
def audit_ls(
    actor: str | None = typer.Option(None, "--actor", help="user:NAME, local:NAME, or a user name"),
    action: str | None = typer.Option(None, "--action", help="exact, or a prefix with * (asset.*)"),
    project: str | None = typer.Option(None, "--project", "-P"),
    target: str | None = typer.Option(None, "--target", help="an id the event is about"),
    since: str | None = typer.Option(None, "--since", help="1h, 7d, or an ISO date"),
    until: str | None = typer.Option(None, "--until", help="1h, 7d, or an ISO date"),
    limit: int = typer.Option(50, "--limit", min=1, max=10_000),
) -> None:
    """Audit events, newest first."""
    s = studio()
    events = s.access.audit_events(
        actor=actor, action=action, project_id=s.projects.get(project).id if project else None, target=target,
        since=parse_when(since) if since else None, until=parse_when(until) if until else None, limit=limit,
    )
    if state.json_output:
        emit_json([e.to_dict() for e in events])
        return
    from reelforge.cli.common import new_table

    table = new_table("when", "actor", "action", "target", "detail", ids=("target",))
    for e in events:
        detail = ", ".join(f"{k}={v}" for k, v in e.detail.items() if v not in (None, "", [], {}))
        table.add_row(when(e.ts), cell(e.actor), cell(e.action), cell(e.target_id or ""), cell(detail[:120]))
    console.print(table)
