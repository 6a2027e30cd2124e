"""Shared helpers of the format tests (a module with its own name, not a conftest: several
test folders run together, and a second conftest.py would shadow tests/conftest.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from workbench.core.model import Prompt
from workbench.core.render import render_prompt
from workbench.services.importing import ImportReport, import_paths
from workbench.services.prompts import load_workspace_prompt

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "formats"


def new_repo(root: Path) -> Path:
    """A real Git repository with an empty prompts/ folder (and one commit, so history works)."""
    (root / "prompts").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / ".gitignore").write_text(".workbench/\n", encoding="utf-8")
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "start"], cwd=root, check=True)
    return root


def import_into(root: Path, fmt: str, *paths: Path, prefix: str | None = "x", **kwargs: Any) -> ImportReport:
    return import_paths(root, fmt, list(paths), prefix=prefix, **kwargs)


def load(root: Path, name: str) -> Prompt:
    result = load_workspace_prompt(root, name)
    assert result.prompt is not None, [p.format() for p in result.problems]
    assert [p for p in result.problems if p.severity.value == "error"] == [], [p.format() for p in result.problems]
    return result.prompt


def messages(root: Path, name: str, variables: dict[str, Any]) -> list[dict[str, str]]:
    """What the workbench would send for `name` with `variables` (role and content only)."""
    rendered = render_prompt(load(root, name), variables)
    if rendered.messages is None:
        return [{"role": "user", "content": rendered.text or ""}]
    return [{"role": m["role"], "content": m["content"]} for m in rendered.messages]


def prompty_file_sends(path: Path, variables: dict[str, Any]) -> list[dict[str, str]]:
    """What Prompty 2.1.0 sends for a `.prompty` file: `load` (its front matter, its template
    kind, its ${env:...}) + `prepare`."""
    import prompty

    agent = prompty.load(str(path))
    return [{"role": m.role, "content": m.text} for m in prompty.prepare(agent, variables)]


def errors(report: ImportReport) -> list[str]:
    return [p.format() for p in report.validation if p.severity.value == "error"]


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    """`workbench -C root ARGS...` in process, as tests/cli does: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from workbench.cli import run_app

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = run_app(["-C", str(root), *args])
    return code, out.getvalue(), err.getvalue()


def commit_all(root: Path, message: str = "import") -> None:
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "-m", message], cwd=root, check=True)


def round_trip(root: Path, fmt: str, names: list[str], tmp: Path, *, source: str = "x", again: str = "y") -> tuple[dict[str, str], dict[str, str], Any]:
    """Import (done by the caller, under prompts/SOURCE) -> commit -> promote each to dev ->
    `export --format` -> import the export under prompts/AGAIN.

    Returns:
        ({file: text} under prompts/SOURCE, the same under prompts/AGAIN with AGAIN/ read as
        SOURCE/, the export's JSON report).
    """
    import json

    commit_all(root)
    for name in names:
        code, out, err = cli(root, "promote", f"{source}/{name}", "--env", "dev", "-m", "round trip")
        assert code == 0, out + err
    dest = tmp / f"export-{fmt}"
    code, out, err = cli(root, "export", str(dest), "--env", "dev", "--format", fmt, "--json")
    assert code == 0, out + err
    report = json.loads(out)
    exported = dest / source
    paths = [exported] if fmt != "langfuse" else [dest / "langfuse-prompts.json"]
    imported = import_into(root, fmt, *paths, prefix=again)
    assert errors(imported) == []

    def files(folder: str) -> dict[str, str]:
        base = root / "prompts" / folder
        return {p.relative_to(base).as_posix(): p.read_text(encoding="utf-8").replace(f'"{folder}/', '"PREFIX/') for p in sorted(base.rglob("*")) if p.is_file()}

    return files(source), files(again), report
