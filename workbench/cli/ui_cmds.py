"""`workbench ui [PATH]` (and `workbench` with no command): open the app; `workbench serve`: in a browser."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import app, fail, state


def open_app(
    root: Path,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    read_only: bool = False,
    theme: str | None = None,
) -> None:
    """Run the app on the repository at (or above) `root` until the user quits."""
    if read_only:  # every session this process opens, the app's first among them, writes nothing
        from workbench.services.session import READ_ONLY_ENV

        os.environ[READ_ONLY_ENV] = "1"
    from workbench import start_up
    from workbench.tui.first_screen import ReadsAhead

    start_up.pause()  # resumed by the app once its first screen is drawn

    reads_ahead = ReadsAhead.start(root, read_only=read_only)  # Git reads while Textual loads
    try:
        from workbench.tui.app import make_app  # textual is imported only when the app opens

        app_ = make_app(
            root, provider_override=provider, model_override=model, base_url_override=base_url, read_only=read_only, theme=theme, reads_ahead=reads_ahead
        )
        app_.run()
    except BaseException:  # ctrl+c while Textual loads, or a failure: the thread's git ends now
        reads_ahead.stop(unclaimed=True)
        raise
    if app_.return_code:  # ended by SIGTERM: 143, as a killed process reports
        raise typer.Exit(app_.return_code)


@app.command("ui")
def ui_command(
    path: Annotated[Path | None, typer.Argument(help="Repository (default: --repo or the current directory).")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider for test runs (overrides workbench.yaml).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model for test runs.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint for test runs.")] = None,
    read_only: Annotated[bool, typer.Option("--read-only", help="Browse only: every action that writes is refused, and nothing is written into the repository.")] = False,
    theme: Annotated[
        str | None, typer.Option("--theme", help="A Textual theme, e.g. textual-light (default: $WORKBENCH_THEME or textual-dark).")
    ] = None,
) -> None:
    """Open the full-screen app."""
    open_app(path or state.repo_root(), provider=provider, model=model, base_url=base_url, read_only=read_only, theme=theme)


@app.command("serve")
def serve_command(
    path: Annotated[Path | None, typer.Argument(help="Repository (default: --repo or the current directory).")] = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (default: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")] = 8000,
    write: Annotated[bool, typer.Option("--write", help="Allow the flows that change the repository (default: read-only).")] = False,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Required to listen on an address other machines can reach.")
    ] = False,
    public_url: Annotated[
        str | None,
        typer.Option(
            "--public-url",
            help="Where browsers reach the app when a proxy (TLS) sits in front, https://HOST[:PORT][/PREFIX]: its host is accepted and the page's URLs name it.",
        ),
    ] = None,
    max_sessions: Annotated[
        int | None, typer.Option("--max-sessions", min=1, max=1000, help="Browser sessions at most at a time, each an app process (default 8).")
    ] = None,
) -> None:
    """Serve the app over HTTP (textual-serve) behind a random token; read-only unless --write."""
    from workbench.services.session import RepoSession
    from workbench.tui.web import MAX_SESSIONS, is_loopback, parse_public_url, serve

    public = None
    if public_url is not None:
        try:
            public = parse_public_url(public_url)
        except ValueError as err:
            fail(f"--public-url {public_url!r}: {err}")

    with RepoSession.open(path or state.repo_root(), read_only=True) as session:  # fail now, not in the browser
        root = session.root
    if not is_loopback(host):
        if not allow_remote:
            fail(
                f"--host {host} would let other machines reach the app",
                hint="pass --allow-remote as well if that is what you want (plain HTTP: put it behind TLS)",
            )
        sys.stderr.write(
            f"workbench: WARNING: listening on {host}: anyone who can reach this machine and has the URL can use the app; "
            "the connection is plain HTTP, so the token and the pages travel unencrypted\n"
        )
    if not 0 <= port <= 65535:
        fail(f"--port {port} is not a port number")
    try:
        serve(root, host=host, port=port, write=write, echo=lambda line: print(line, flush=True), public_url=public, max_sessions=max_sessions or MAX_SESSIONS)
    except OSError as err:
        fail(f"cannot listen on {host}:{port}: {err.strerror or err}", hint="choose another --port (0: any free port)")
