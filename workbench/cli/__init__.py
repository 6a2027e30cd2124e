"""The command line: parses, calls services, prints (rich) or --json.

Each area registers its commands from its own module; every module imports heavy
dependencies (git, openai, textual, the evaluation engine) inside the command bodies so
that `workbench --version`, `list` and `validate` start fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench import __version__
from workbench.cli.common import EXIT_OK, app, output, run_app, state
from workbench.cli.process_exit import exit_process, open_closed_streams

# Registration side effects: each module adds its commands to `app`.
from workbench.cli import prompt_cmds as _prompt_cmds  # noqa: F401  isort: skip
from workbench.cli import history_cmds as _history_cmds  # noqa: F401  isort: skip
from workbench.cli import version_cmds as _version_cmds  # noqa: F401  isort: skip
from workbench.cli import eval_cmds as _eval_cmds  # noqa: F401  isort: skip
from workbench.cli import monitor_cmds as _monitor_cmds  # noqa: F401  isort: skip
from workbench.cli import import_cmds as _import_cmds  # noqa: F401  isort: skip
from workbench.cli import policy_cmds as _policy_cmds  # noqa: F401  isort: skip
from workbench.cli import ci_cmds as _ci_cmds  # noqa: F401  isort: skip
from workbench.cli.ui_cmds import open_app  # isort: skip

__all__ = ["app", "main"]


def _version_callback(value: bool) -> None:
    if value:
        output().write(f"workbench {__version__}\n")
        raise typer.Exit(EXIT_OK)


@app.callback(invoke_without_command=True)
def _global_options(
    ctx: typer.Context,
    repo: Annotated[
        Path | None, typer.Option("--repo", "-C", help="Path of the prompt repository (default: current directory).")
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = None,
) -> None:
    state.repo = repo
    state.debug = debug
    if ctx.invoked_subcommand is None:  # `workbench` with no command opens the app
        open_app(state.repo_root())


def main() -> None:
    open_closed_streams()
    exit_process(run_app(sys.argv[1:]))
