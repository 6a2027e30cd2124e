"""Output that cannot be written (stdout closed: `>&-`; a full disk: `> /dev/full`) is the one
error "cannot write the output", exit 2, for every command: commands that printed with
`print`/`sys.stdout.write` said "unexpected error: OSError", or with stdout closed
"unexpected error: AttributeError" (and `validate` lost its problem lines, exit 1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, git
from workbench.cli.common import app, run_app

NAME = "support/summarize"
PROMPT = f"prompts/{NAME}.yaml"
PROMPTFOO = PROJECT_ROOT / "tests" / "fixtures" / "promptfoo_examples" / "getting-started" / "promptfooconfig.yaml"


def _ok(*argv: str) -> None:
    assert run_app(list(argv)) == 0, argv


def _edit(root: Path) -> None:
    with (root / PROMPT).open("a") as file:
        file.write("# an edit\n")


def _feature_branch(root: Path, *, back_to_main: bool = False) -> None:
    git(root, "switch", "-q", "-c", "feat")
    _edit(root)
    git(root, "commit", "-qam", "edit")
    if back_to_main:
        git(root, "switch", "-q", "main")


def _two_deployments(root: Path) -> None:
    _edit(root)
    git(root, "commit", "-qam", "edit")
    _ok("-C", str(root), "promote", NAME, "--env", "dev", "--rev", "HEAD~1", "-m", "first")
    _ok("-C", str(root), "promote", NAME, "--env", "dev", "-m", "second")


def _origin(root: Path) -> None:
    git(root.parent, "init", "-q", "--bare", "origin.git")
    git(root, "remote", "add", "origin", str(root.parent / "origin.git"))


def _report(root: Path) -> None:
    run_app(["-C", str(root), "test", NAME, "--provider", "echo", "--json-file", str(root.parent / "report.json")])


# Each command as run for the test, with what it needs first; ui and serve print no output of
# their own before the app runs: their `--help` is checked with every other command's.
Prepare = Callable[[Path], object]
INVOCATIONS: dict[str, tuple[Callable[[Path], list[str]], Prepare | None]] = {
    "validate": (lambda r: ["validate"], lambda r: (r / "prompts" / "bad.yaml").write_text("x: 1\n")),
    "list": (lambda r: ["list", "--json"], None),
    "render": (lambda r: ["render", NAME, "--var", "ticket=x"], None),
    "diff": (lambda r: ["diff", NAME, "--unified"], _edit),
    "log": (lambda r: ["log", NAME], None),
    "status": (lambda r: ["status"], None),
    "history": (lambda r: ["history", NAME], None),
    "review": (lambda r: ["review"], _feature_branch),
    "timeline": (lambda r: ["timeline"], None),
    "branch": (lambda r: ["branch"], None),
    "switch": (lambda r: ["switch", "other"], lambda r: git(r, "branch", "other")),
    "commit": (lambda r: ["commit", PROMPT, "-m", "edit"], _edit),
    "merge": (lambda r: ["merge", "feat"], lambda r: _feature_branch(r, back_to_main=True)),
    "tag": (lambda r: ["tag", NAME], None),
    "promote": (lambda r: ["promote", NAME, "--env", "dev", "-m", "why"], None),
    "rollback": (lambda r: ["rollback", NAME, "--env", "dev", "-m", "why"], _two_deployments),
    "approve": (lambda r: ["approve", NAME, "--env", "prod", "-m", "ok"], None),
    "audit": (lambda r: ["audit"], None),
    "push": (lambda r: ["push"], _origin),
    "fetch": (lambda r: ["fetch"], _origin),
    "export": (lambda r: ["export", str(r.parent / "out"), "--env", "dev"], lambda r: _ok("-C", str(r), "promote", NAME, "--env", "dev", "-m", "x")),
    "test": (lambda r: ["test", NAME, "--provider", "echo"], None),
    "compare": (lambda r: ["compare", NAME, "--provider", "echo"], _edit),
    "monitor": (lambda r: ["monitor", "--all"], None),
    "monitor ingest": (lambda r: ["monitor", "ingest", str(r.parent / "events.jsonl")], lambda r: (r.parent / "events.jsonl").write_text("")),
    "import": (lambda r: ["import", "promptfoo", str(PROMPTFOO)], None),
    "report merge": (lambda r: ["report", "merge", str(r.parent / "report.json")], _report),
    "ci check": (lambda r: ["ci", "check", "--base", "HEAD", "--provider", "echo"], None),
    "ci promote": (lambda r: ["ci", "promote", "--base", "HEAD", "--provider", "echo"], None),
    "init": (lambda r: ["init", str(r.parent / "new")], None),
    "demo": (lambda r: ["demo", str(r.parent / "demo"), "--no-open"], None),
    "ui": (lambda r: ["ui", "--help"], None),
    "serve": (lambda r: ["serve", "--help"], None),
    "--version": (lambda r: ["--version"], None),
    "--help": (lambda r: ["--help"], None),
}


def _registered_commands() -> set[str]:
    names = {c.name for c in app.registered_commands if c.name}
    for group in app.registered_groups:
        assert group.typer_instance is not None
        names |= {f"{group.name} {c.name}" for c in group.typer_instance.registered_commands}
    return names


def test_every_command_is_checked() -> None:
    """A command added later is added here, or this fails: none can bypass the output again."""
    assert _registered_commands() <= set(INVOCATIONS)
    readme = (PROJECT_ROOT / "README.md").read_text()
    table = readme.split("<!-- section:cli -->")[1].split("<!-- /section:cli -->")[0]
    in_readme = {m.group(1) for m in re.finditer(r"^\| `workbench ((?:report |ci )?[a-z]+)", table, re.M)}
    assert in_readme and in_readme <= set(INVOCATIONS)


MODES = ["closed", "full"]


@contextmanager
def lost_stdout(mode: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """stdout as a process started with `>&-` (None) or `> /dev/full` has it; yields the reason said."""
    if mode == "closed":
        monkeypatch.setattr(sys, "stdout", None)
        yield "standard output is closed"
        return
    if not Path("/dev/full").exists():
        pytest.skip("needs /dev/full")
    full = open("/dev/full", "w")  # noqa: SIM115
    monkeypatch.setattr(sys, "stdout", full)
    try:
        yield "No space left on device"
    finally:
        monkeypatch.undo()
        with suppress(OSError):  # what could not be written is still held: the file cannot flush it
            full.close()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command", sorted(INVOCATIONS))
def test_output_that_cannot_be_written_is_said_for_every_command(
    command: str, mode: str, prompt_repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv, prepare = INVOCATIONS[command]
    monkeypatch.chdir(prompt_repo)
    if prepare is not None:
        prepare(prompt_repo)
    capsys.readouterr()
    with lost_stdout(mode, monkeypatch) as reason:
        code = run_app(["-C", str(prompt_repo), *argv(prompt_repo)])
    err = capsys.readouterr().err
    assert "unexpected error" not in err
    assert code == 2, err
    assert "workbench: error: cannot write the output: " in err and reason in err, err


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("command", sorted(_registered_commands()))
def test_help_that_cannot_be_written_is_said(command: str, mode: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    with lost_stdout(mode, monkeypatch) as reason:
        code = run_app([*command.split(), "--help"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith("workbench: error: cannot write the output: ") and reason in err, err


@pytest.mark.parametrize("args", [["list"], ["--version"], ["--help"], ["list", "--json"], ["validate"]])
def test_a_process_started_with_stdout_closed_says_so(prompt_repo: Path, args: list[str]) -> None:
    """The console script itself: `workbench list >&-` said "unexpected error: AttributeError"."""
    (prompt_repo / "prompts" / "bad.yaml").write_text("x: 1\n")
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(prompt_repo), *args],
        stderr=subprocess.PIPE, text=True, timeout=60, check=False, preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[0] == "workbench: error: cannot write the output: standard output is closed", done.stderr
