"""``reelforge login`` / ``logout``: keep a token for a studio server, so ``--server URL`` (and
``reelforge.connect(URL)``) need no ``REELFORGE_TOKEN``.

Login asks for the user name and password, signs in once (a browser-style session), creates an API
token through the API, ends that session, and stores the token in the user's
``~/.config/reelforge/credentials.toml`` (0600). Logout revokes that token on the server and
forgets it here.
"""

from __future__ import annotations

import typer

from reelforge.cli.common import console, emit_json, err_console, safe, state

LOCAL_ONLY = frozenset({"init", "fsck", "gc", "worker", "demo", "serve", "user", "token", "role", "audit",
                        "provenance"})


def refuse_local_only(command: str | None) -> None:
    """Commands about a studio folder, its database or its accounts do not travel to a server."""
    if state.server_url and command in LOCAL_ONLY:
        import sys

        sys.stderr.write(f"error: `reelforge {command}` works on a local studio only; drop --server "
                         "(or unset REELFORGE_SERVER)\n")
        raise typer.Exit(2)


def _url(url: str | None) -> str:
    from reelforge.errors import InvalidInput
    from reelforge.sdk.http import normalise_url

    given = url or state.server_url
    if not given:
        raise InvalidInput("which server? reelforge login URL (or --server URL)")
    return normalise_url(given)


def register(app: typer.Typer) -> None:
    @app.command()
    def login(
        url: str | None = typer.Argument(None, help="the server, e.g. http://127.0.0.1:8750 (default: --server)"),
        username: str | None = typer.Option(None, "--username", "-u", help="asked when not given"),
        name: str = typer.Option("", help="the token's name (default: reelforge-cli@HOST)"),
        expires_days: float | None = typer.Option(None, "--expires-days", min=0.001, max=3650,
                                                  help="the token's lifetime (default: never expires)"),
        scope: list[str] = typer.Option([], "--scope", help="read, write or admin (repeat; default read and write)"),
        password_stdin: bool = typer.Option(False, "--password-stdin", help="read the password from stdin"),
    ) -> None:
        """Sign in to a studio server and keep an API token for it in ~/.config/reelforge/credentials.toml."""
        import socket

        from reelforge.sdk import login as sdk_login
        from reelforge.sdk.credentials import save
        from reelforge.sdk.http import is_loopback

        server = _url(url)
        if not server.startswith("https://") and not is_loopback(server):
            err_console.print(f"warning: {safe(server)} is plain HTTP: the password and token cross the network "
                              "unencrypted", markup=False, highlight=False)
        from reelforge.cli.access import _read_password

        user = username or typer.prompt("username")
        password = _read_password(password_stdin, confirm=False)
        token = sdk_login(server, user, password, name=name or f"reelforge-cli@{socket.gethostname()}",
                          scopes=tuple(scope) or ("read", "write"), expires_in_days=expires_days)
        path = save(server, token["token"], username=user, token_id=token["id"])
        if state.json_output:
            emit_json({"server": server, "username": user, "token_id": token["id"], "saved_to": str(path)})
            return
        console.print(safe(f"logged in to {server} as {user}; token {token['id']} saved to {path}"),
                      markup=False, highlight=False)

    @app.command()
    def logout(
        url: str | None = typer.Argument(None, help="the server (default: --server)"),
    ) -> None:
        """Revoke the token `reelforge login` stored for a server, and forget it."""
        from reelforge.errors import ReelforgeError
        from reelforge.sdk.credentials import forget, lookup

        server = _url(url)
        entry = lookup(server)
        if entry is None:
            console.print(safe(f"not logged in to {server}"), markup=False, highlight=False)
            return
        revoked = False
        try:
            from reelforge.sdk import connect

            with connect(server, entry["token"]) as s:
                if entry.get("token_id"):
                    s.http.json("DELETE", f"/auth/tokens/{entry['token_id']}")
                    revoked = True
        except ReelforgeError as exc:  # unreachable, or the token already expired or was revoked
            err_console.print(f"note: the token was not revoked on the server ({safe(exc)})",
                              markup=False, highlight=False)
        forget(server)
        console.print(safe(f"logged out of {server}" + ("; token revoked" if revoked else "")),
                      markup=False, highlight=False)
