"""`workbench ui [PATH]` (and `workbench` with no command): open the app."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import app, state


def open_app(
    root: Path,
    *,
    provider: str | None = None,
    model: str | None = None,
    base_url: str | None = None,
    theme: str | None = None,
) -> None:
    """Run the app on the repository at (or above) `root` until the user quits."""
    from workbench.tui.app import make_app  # textual is imported only when the app opens

    make_app(root, provider_override=provider, model_override=model, base_url_override=base_url, theme=theme).run()


@app.command("ui")
def ui_command(
    path: Annotated[Path | None, typer.Argument(help="Repository (default: --repo or the current directory).")] = None,
    provider: Annotated[str | None, typer.Option("--provider", help="Provider for test runs (overrides workbench.yaml).")] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model for test runs.")] = None,
    base_url: Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint for test runs.")] = None,
    theme: Annotated[
        str | None, typer.Option("--theme", help="A Textual theme, e.g. textual-light (default: $WORKBENCH_THEME or textual-dark).")
    ] = None,
) -> None:
    """Open the full-screen app."""
    open_app(path or state.repo_root(), provider=provider, model=model, base_url=base_url, theme=theme)
