"""The prompt-file commands through the real CLI entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.cli.common import run_app

BROKEN = Path(__file__).resolve().parents[1] / "core" / "broken"


def test_validate_samples_exits_0(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["-C", str(prompt_repo), "validate"]) == 0
    assert "0 errors" in capsys.readouterr().err


def test_validate_broken_folder_prints_one_line_per_problem_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copytree(BROKEN, tmp_path / "prompts")
    code = run_app(["-C", str(tmp_path), "validate"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert len(out) >= 20
    for line in out:
        path, lineno, col, rest = line.split(":", 3)
        assert path.startswith("prompts/") and lineno.isdigit() and col.isdigit() and rest.strip()
    assert any("15_missing_tests_file.yaml:4:8: error: tests file missing.tests.yaml not found" in line for line in out)


def test_validate_json(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (prompt_repo / "prompts" / "bad.yaml").write_text("messages: [}")
    assert run_app(["-C", str(prompt_repo), "validate", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] == 1 and data["problems"][0]["path"] == "prompts/bad.yaml"


def test_validate_checks_workbench_yaml(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (prompt_repo / "workbench.yaml").write_text("enviroments: [dev]\n")
    assert run_app(["-C", str(prompt_repo), "validate"]) == 1
    assert "workbench.yaml:1:1: error: unknown field 'enviroments'" in capsys.readouterr().out


def test_strict_fails_on_warnings(prompt_repo: Path) -> None:
    (prompt_repo / "prompts" / "w.yaml").write_text("inputs:\n  unused: {type: string}\nmessages:\n  - {role: user, content: hi}\n")
    assert run_app(["-C", str(prompt_repo), "validate"]) == 0
    assert run_app(["-C", str(prompt_repo), "validate", "--strict"]) == 1


def test_list_json(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["-C", str(prompt_repo), "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {row["name"] for row in rows}
    assert "support/summarize" in names and "rag/answer_with_citations" in names
    assert not any(name.endswith(".tests") for name in names)
    assert all(row["valid"] and row["tests"] >= 6 for row in rows)


def test_render_with_vars_and_file(prompt_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    varfile = tmp_path / "v.yaml"
    varfile.write_text("tone: urgent\n")
    code = run_app(["-C", str(prompt_repo), "render", "support/summarize", "--var", "ticket=Refund [bold]now[/]", "--vars-file", str(varfile), "--json"])
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["messages"][0]["content"].startswith("You summarise support tickets for an on-call engineer in a urgent tone")
    assert data["messages"][1]["content"] == "Ticket:\nRefund [bold]now[/]"


def test_render_errors_exit_2_with_a_clear_message(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["-C", str(prompt_repo), "render", "support/summarize"]) == 2
    assert "missing required input 'ticket'" in capsys.readouterr().err
    assert run_app(["-C", str(prompt_repo), "render", "support/sumarize"]) == 2
    assert "did you mean 'support/summarize'" in capsys.readouterr().err


def test_init_creates_a_valid_committed_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "new"
    assert run_app(["init", str(target)]) == 0
    assert run_app(["-C", str(target), "validate"]) == 0
    log = subprocess.run(["git", "log", "--oneline"], cwd=target, capture_output=True, text=True, check=True).stdout
    assert "Initial prompt repository" in log
    assert ".workbench/" in (target / ".gitignore").read_text()
    assert run_app(["init", str(target)]) == 2


def test_init_without_git_identity_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "gitconfig"
    empty.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))
    monkeypatch.delenv("EMAIL", raising=False)
    assert run_app(["init", str(tmp_path / "r")]) == 2
    assert "git config --global user.name" in capsys.readouterr().err


def test_version() -> None:
    out = subprocess.run([sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True, check=True).stdout
    assert out.startswith("workbench ")


HEAVY = ("textual", "openai", "git", "workbench.evals", "workbench.tui", "jsonschema")


@pytest.mark.parametrize("args", [["--version"], ["list"], ["validate"]])
def test_fast_commands_do_not_import_heavy_modules(prompt_repo: Path, args: list[str]) -> None:
    code = (
        "import sys\nfrom workbench.cli.common import run_app\nimport workbench.cli\n"
        f"rc = run_app({args!r})\n"
        f"heavy = [m for m in {HEAVY[:5]!r} if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=prompt_repo, capture_output=True, text=True).stdout
    assert "HEAVY []" in out, out


def test_core_imports_nothing_heavy() -> None:
    code = "import sys, workbench.core.loader, workbench.core.render, workbench.core.diff\nprint([m for m in ('textual', 'openai', 'git', 'httpx') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_only_the_named_command_is_built(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Typer converts every registered command before it parses: 40-80 ms a run, spent on ~30
    commands the run never calls."""
    import typer.main

    built: list[str] = []
    real = typer.main.get_command_from_info

    def counting(command_info: Any, **kwargs: Any) -> Any:
        built.append(command_info.name)
        return real(command_info, **kwargs)

    monkeypatch.setattr(typer.main, "get_command_from_info", counting)
    assert run_app(["-C", str(prompt_repo), "--debug", "list"]) == 0
    assert built == ["list"]
    built.clear()
    assert run_app(["--repo", str(prompt_repo), "report", "--help"]) == 0
    assert "merge" in capsys.readouterr().out and "list" not in built
    built.clear()
    assert run_app(["--version"]) == 0 and built == []
    assert capsys.readouterr().out.startswith("workbench ")
    # The whole app where the whole app is shown: --help, no such command.
    assert run_app(["--help"]) == 0
    assert {"list", "test", "rollback"} <= set(built) and "rollback" in capsys.readouterr().out
    assert run_app(["-C", str(prompt_repo), "no-such-command"]) == 2
    assert "No such command" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["list"], ["list", "--json"], ["log", "support/summarize"], ["branch"]])
def test_a_reader_that_goes_away_ends_the_command_with_141_as_git_does(prompt_repo: Path, args: list[str]) -> None:
    """`workbench list | head -1` exited 1 ("findings or failures"), breaking `set -o pipefail`
    scripts that only wanted the first line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "-C", str(prompt_repo), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # gone before the command writes its first line
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, error
    assert error == ""  # no traceback, no "Exception ignored"


@pytest.mark.parametrize("args", [["list"], ["list", "--json"]])
def test_a_reader_that_goes_away_mid_output_ends_the_command_with_141(tmp_path: Path, args: list[str]) -> None:
    """Output bigger than the pipe, and a reader that takes a little and leaves (`| head -1`):
    the kernel cuts the write short, CPython's buffered stdout reports the part written, and its
    text layer drops the rest without a word: exit 0 where git says 141."""
    (tmp_path / "prompts").mkdir()
    for index in range(1500):
        (tmp_path / "prompts" / f"p{index}.yaml").write_text(f"description: prompt {index} {'with a long description ' * 4}\nmessages:\n  - {{role: user, content: hi}}\n")
    process = subprocess.Popen([sys.executable, "-m", "workbench", "-C", str(tmp_path), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(10)  # the command is writing: more than the pipe holds
    process.stdout.close()
    error = process.stderr.read().decode()
    assert process.wait(timeout=60) == 141, error
    assert error == ""


@pytest.mark.parametrize(
    "args",
    [
        ["log", "support/summarize", "--limit", "-1"],
        ["log", "support/summarize", "--limit", "0"],
        ["log", "support/summarize", "--skip", "-1"],
        ["timeline", "--limit", "0"],
        ["diff", "support/summarize", "HEAD", "--context", "-1"],
    ],
)
def test_counts_out_of_range_are_usage_errors(prompt_repo: Path, args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`log --limit -1` said "no history" and `--skip -1` showed the oldest commit, exit 0."""
    assert run_app(["-C", str(prompt_repo), *args]) == 2
    assert "not in the range" in capsys.readouterr().err


def test_ingest_of_a_missing_file_is_an_input_error(prompt_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """It printed "cannot read (No such file or directory)" and exited 0."""
    assert run_app(["-C", str(prompt_repo), "monitor", "ingest", str(tmp_path / "nope.jsonl")]) == 2
    assert "nope.jsonl" in capsys.readouterr().err
