"""`workbench import FORMAT [PATH...]`: bring prompts in from other tools.

Formats come from one registry (`workbench.core.formats.formats()`): promptfoo today; GitHub
Models, Prompty, Dotprompt and Langfuse plug into the same command. The command prints every
file it wrote and every field it could not carry over, and never commits.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from workbench.cli.common import EXIT_FINDINGS, EXIT_OK, app, emit_json, state


@app.command("import")
def import_command(
    format_name: Annotated[str, typer.Argument(metavar="FORMAT", help="Source format: promptfoo, github-models, prompty, dotprompt, langfuse.")],
    paths: Annotated[list[Path] | None, typer.Argument(metavar="PATH...", help="Files to import (default: the format's usual file here, e.g. promptfooconfig.yaml).")] = None,
    prefix: Annotated[str | None, typer.Option("--prefix", help="Folder under prompts/ for the imported prompts (default: the source's folder name).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    label_env: Annotated[str | None, typer.Option("--label-env", help="Langfuse: LABEL=ENV pairs; each label becomes a deployment event there (default production=prod).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace prompt files that have uncommitted changes.")] = False,
) -> None:
    """Convert prompts from another tool into prompt files; prints what was not carried over."""
    from rich.console import Console
    from rich.text import Text

    from workbench.core.safe_text import clean
    from workbench.services.import_history import parse_label_env
    from workbench.services.importing import import_paths
    from workbench.services.prompts import find_root

    root = find_root(state.repo_root())
    report = import_paths(root, format_name, list(paths or []), prefix=prefix, label_env=parse_label_env(label_env), force=force)
    if as_json:
        emit_json(report.to_dict())
    else:
        out = Console(highlight=False, soft_wrap=True)
        history = report.history
        if history is not None:
            for row in history.commits:
                out.print(Text("committed ") + Text(clean(f"{row['prompt']} version {row['version']} as {row['commit'][:10]}")))
            for row in history.skipped:
                out.print(Text("had       ") + Text(clean(f"{row['prompt']} version {row['version']} ({row['commit'][:10]})")))
            for row in history.events:
                note = " (override of the environment's policy, recorded in the event)" if row["override"] else ""
                out.print(Text("deployed  ") + Text(clean(f"{row['prompt']} {row['version']} to {row['env']} (label {row['label']}){note}")))
            for note_text in history.notes:
                out.print(Text("note      ") + Text(clean(note_text)))
        for path in report.written if history is None else []:
            out.print(Text("wrote     ") + Text(clean(path)))
        for path in report.unchanged:
            out.print(Text("unchanged ") + Text(clean(path)))
        for title, problems in (("not carried over", report.problems), ("workbench validate", report.validation)):
            if problems:
                out.print(Text(f"\n{title} ({len(problems)}):"))
                for problem in problems:
                    out.print(Text("  ") + Text(clean(problem.format())))
        if report.written and history is None:
            print("\nnothing was committed: review the files, run `workbench validate`, then `workbench commit PATHS -m ...`", file=sys.stderr)
    raise typer.Exit(EXIT_FINDINGS if report.errors else EXIT_OK)
