"""Prompt-file commands: init, validate, list, render, demo.

`validate` and `list` read only the file system (no Git, no evaluation engine) so that they
start fast enough for a pre-commit hook.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli.common import (
    EXIT_FINDINGS,
    EXIT_OK,
    app,
    console,
    emit_data,
    emit_json,
    fail,
    interrupt_after,
    prompt_name,
    state,
)
from workbench.core.safe_text import clean


def _root() -> Path:
    from workbench.services.prompts import find_root

    return find_root(state.repo_root())


@app.command("validate")
def validate_command(
    paths: Annotated[list[Path] | None, typer.Argument(help="Prompt files or folders (default: prompts/ and workbench.yaml).")] = None,
    strict: Annotated[bool, typer.Option("--strict", help="Warnings fail too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Check prompt files: one `path:line:col: message` per problem; exit 1 on errors."""
    from workbench.core.config import CONFIG_FILE
    from workbench.core.model import Severity
    from workbench.services.prompts import config_file_problems, validate_paths, validate_workspace

    root = _root()
    if not paths:
        results, problems = validate_workspace(root)
    else:
        paths = [p if p.is_absolute() else state.repo_root() / p for p in paths]  # as `git -C` does
        given = [p for p in paths if p.name != CONFIG_FILE]
        results = validate_paths(root, given) if given else []
        problems = [p for r in results for p in r.problems]
        for target in (p for p in paths if p.name == CONFIG_FILE):
            problems.extend(config_file_problems(target))
    errors = [p for p in problems if p.severity is Severity.ERROR]
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    if as_json:
        emit_json({"files": len(results), "errors": len(errors), "warnings": len(warnings), "problems": [p.to_dict() for p in problems]})
    else:
        for problem in problems:
            print(clean(problem.format()))
        verdict = "ok" if not errors else "failed"
        print(f"{len(results)} prompt files: {len(errors)} errors, {len(warnings)} warnings — {verdict}", file=sys.stderr)
    failed = bool(errors) or (strict and bool(warnings))
    raise typer.Exit(EXIT_FINDINGS if failed else EXIT_OK)


@app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """List the prompts of the working copy."""
    from workbench.core.model import prompt_name_from_path
    from workbench.services.prompts import discover_prompt_files, load_file, partials_in_text, relative

    root = _root()
    rows: list[dict[str, Any]] = []
    for path in discover_prompt_files(root):
        result = load_file(root, path)
        prompt = result.prompt
        rows.append(
            {
                "name": prompt_name_from_path(relative(root, path)),
                "path": result.path,
                "valid": result.ok,
                "description": prompt.description if prompt else None,
                "provider": prompt.model.provider if prompt else None,
                "model": prompt.model.name if prompt else None,
                "tests": len(prompt.tests) if prompt else None,
                "errors": len(result.errors),
                "tools": list(prompt.tool_names) if prompt else None,
                "response_format": (prompt.response_format or {}).get("type") if prompt else None,
                # the partials it includes, by the name templates use (`shared/policy.jinja`)
                "partials": [p.name for p in prompt.partials] if prompt else [p.removeprefix("prompts/") for p in partials_in_text(root, _text_of(root, path))],
            }
        )
    if as_json:
        emit_json(rows)
        return
    if not rows:
        print("no prompts under prompts/ (create prompts/<name>.yaml or run `workbench init`)", file=sys.stderr)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("name", "tests", "description"):
        table.add_column(column)
    for row in rows:
        name = Text(clean(row["name"])) if row["valid"] else Text(f"✗ {clean(row['name'])} ({row['errors']} errors)")
        table.add_row(name, Text(str(row["tests"] if row["tests"] is not None else "-")), Text(clean(row["description"] or "")))
    console().print(table)
    users: dict[str, list[str]] = {}
    for row in rows:
        for partial in row["partials"]:
            users.setdefault(partial, []).append(row["name"])
    for partial, names in sorted(users.items()):
        console().print(Text(f"partial {clean(partial)}: used by {', '.join(clean(n) for n in names)}"))


def _text_of(root: Path, path: Path) -> str | None:
    from workbench.services.prompts import read_text_file

    try:
        return read_text_file(path).decode("utf-8")
    except (OSError, ValueError):  # ValueError: too large, or not UTF-8
        return None


def _parse_var(item: str) -> tuple[str, Any]:
    from workbench.core.yamlpos import YamlLimitError, YamlSyntaxError, load_plain

    if "=" not in item:
        fail(f"--var {item!r} is not NAME=VALUE")
    key, raw = item.split("=", 1)
    try:
        value = load_plain(raw) if raw.strip() else ""
    except YamlLimitError as err:
        fail(f"--var {key.strip()}: {err.message}")
    except YamlSyntaxError:
        value = raw  # not YAML: the text as typed
    # Keep text that merely looks like a date or null as the user typed it.
    if value is None or not isinstance(value, (str, int, float, bool, list, dict)):
        value = raw
    return key.strip(), value


@app.command("render")
def render_command(
    name: Annotated[str, typer.Argument(help="Prompt name, e.g. support/summarize.", parser=prompt_name)],
    var: Annotated[list[str] | None, typer.Option("--var", "-v", help="NAME=VALUE (YAML scalars: numbers and booleans are typed).")] = None,
    vars_file: Annotated[Path | None, typer.Option("--vars-file", help="YAML or JSON file with variables.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Render a prompt with variables: exactly what would be sent to the model."""
    from workbench.core.limited_read import TooLarge, mib, read_limited
    from workbench.core.render import render_prompt
    from workbench.core.yamlpos import DATA_LIMITS, YamlSyntaxError, load_plain
    from workbench.services.prompts import load_workspace_prompt

    root = _root()
    variables: dict[str, Any] = {}
    if vars_file is not None:
        limit = DATA_LIMITS.max_chars  # 16 MiB, read no further: a FIFO or /dev/zero never ends
        try:
            loaded = load_plain(read_limited(vars_file, limit, f"a vars file may hold at most {mib(limit)}").decode("utf-8"), DATA_LIMITS)
        except OSError as err:
            fail(f"cannot read {vars_file}: {err.strerror or err}", hint="give a YAML or JSON file of variables")
        except TooLarge as err:
            fail(f"{vars_file}: {err}", hint="give only the variables the prompt uses")
        except UnicodeDecodeError:
            fail(f"{vars_file} is not UTF-8 text")
        except YamlSyntaxError as err:
            fail(f"{vars_file}:{err.line}:{err.col}: {err.message}")
        if not isinstance(loaded, dict):
            fail(f"{vars_file} must hold a mapping of variable names to values")
        variables.update(loaded)
    variables.update(dict(_parse_var(item) for item in var or []))
    result = load_workspace_prompt(root, name)
    if result.prompt is None or not result.ok:
        for problem in result.errors:
            print(clean(problem.format()), file=sys.stderr)
        fail(f"{name} is invalid", hint=f"workbench validate {result.path}")
    rendered = render_prompt(result.prompt, variables)
    if as_json:
        emit_json(rendered.to_dict())
    else:
        text = rendered.as_text()
        if sys.stdout.isatty():
            print(clean(text))
        else:  # piped: the exact text, for other tools: UTF-8 under any locale
            emit_data(text + "\n")
        fields = rendered.request_fields()
        if fields:  # on stderr, so piped stdout stays the exact text
            shown = []
            if rendered.tools:
                shown.append("tools " + ", ".join(result.prompt.tool_names))
            if "tool_choice" in fields:
                shown.append(f"tool_choice {json.dumps(fields['tool_choice'])}")
            if rendered.response_format:
                shown.append(f"response_format {rendered.response_format.get('type')}")
            print(clean("also sent: " + " · ".join(shown) + " (all of it: --json)"), file=sys.stderr)


@app.command("init")
def init_command(directory: Annotated[Path, typer.Argument(help="Where to create the repository.")] = Path(".")) -> None:
    """Create a new prompt repository: prompts/, workbench.yaml, .gitignore, one example, a first commit."""
    from workbench.services.setup import init_repository

    with interrupt_after():  # Ctrl+C: the files and their first commit are made whole, then said
        created = init_repository(directory)
        print(f"created a prompt repository in {created}")
    print("next: edit prompts/example/greeting.yaml, then `workbench validate` and `workbench`")


@app.command("demo")
def demo_command(
    directory: Annotated[Path | None, typer.Argument(help="Where to create the demo repository (default: a new temporary folder).")] = None,
    no_open: Annotated[bool, typer.Option("--no-open", help="Create it and print where; do not open the app.")] = False,
) -> None:
    """Create a sample repository with history, releases, deployments and results, and open the app."""
    from workbench.services.demo import create_demo_repo

    root = create_demo_repo(directory)
    quoted = shlex.quote(str(root))  # the commands below are for pasting into a shell
    print(f"demo repository: {root}")
    print(f"  workbench -C {quoted}            # open the app")
    print(f"  workbench -C {quoted} status     # what runs where")
    print(f"  workbench -C {quoted} test support/summarize")
    if not no_open and sys.stdout.isatty():
        from workbench.cli.ui_cmds import open_app

        open_app(root)
