"""Report files that cannot be written (`--junit`, `--markdown`, `--json-file`) are an error that
names the file, exit 2, never "unexpected error".

`test --junit /nonexistent/dir/junit.xml` ran every case, then said "unexpected error:
FileNotFoundError"; `--json-file /dev/full` said "unexpected error: OSError: [Errno 28] No space
left on device" without naming the file, and the reports after it were never written. A path
that cannot be a file (no such folder, a folder) is now refused before any model call; one that
fails while written (a full disk) is named, and every other report is still written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from tests.conftest import git
from workbench.cli.common import run_app

PROMPT = """\
model: {provider: openai, name: gpt-4o-mini, api_key_env: FAKE_KEY}
inputs:
  q: {type: string, required: true}
messages:
  - {role: user, content: "{{ q }}"}
tests:
  - {description: alpha, vars: {q: alpha}, assert: [{type: icontains, value: alpha}]}
  - {description: beta, vars: {q: beta}, assert: [{type: icontains, value: beta}]}
"""
FULL = Path("/dev/full")  # every write to it fails with ENOSPC, as a full disk does


@pytest.fixture
def repo(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_KEY", "sk-test-secret-value")
    (prompt_repo / "prompts" / "q.yaml").write_text(PROMPT)
    git(prompt_repo, "add", "-A")
    git(prompt_repo, "commit", "-qm", "Add q")
    return prompt_repo


def _bad_paths(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Report paths that cannot be files, each with what the error says about it."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    return {
        "no such folder": (tmp_path / "missing" / "junit.xml", f"the folder {tmp_path / 'missing'} does not exist"),
        "a folder": (tmp_path / "a-folder", f"{tmp_path / 'a-folder'} is a folder, not a file"),
        "under a file": (tmp_path / "a-file" / "r.md", f"{tmp_path / 'a-file'} is a file, not a folder"),
    }


@pytest.mark.parametrize("kind", ["no such folder", "a folder", "under a file"])
@pytest.mark.parametrize("option", ["--junit", "--markdown", "--json-file"])
def test_a_report_path_that_cannot_be_a_file_is_refused_before_any_call(repo: Path, tmp_path: Path, option: str, kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    path, reason = _bad_paths(tmp_path)[kind]
    with FakeOpenAI() as server:
        code = run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, option, str(path)])
    captured = capsys.readouterr()
    assert (code, server.requests, captured.out) == (2, 0, ""), captured.err
    first, hint, end = captured.err.split("\n")
    assert (first, end) == (f"workbench: error: cannot write {path}: {reason}", ""), captured.err
    assert hint.startswith("  hint: "), captured.err


def test_compare_and_report_merge_refuse_the_path_before_they_start(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "missing" / "out.md"
    with FakeOpenAI() as server:
        code = run_app(["-C", str(repo), "compare", "q", "HEAD", "HEAD", "--base-url", server.base_url, "--markdown", str(missing)])
    assert (code, server.requests) == (2, 0)
    assert capsys.readouterr().err.startswith(f"workbench: error: cannot write {missing}: the folder {missing.parent} does not exist\n")
    assert run_app(["report", "merge", str(tmp_path / "no-report.json"), "--junit", str(missing)]) == 2
    assert capsys.readouterr().err.startswith(f"workbench: error: cannot write {missing}: the folder")  # before reading the reports


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
@pytest.mark.parametrize("full", ["--json-file", "--junit", "--markdown"])
def test_a_report_that_fails_to_write_is_named_and_the_others_are_written(repo: Path, tmp_path: Path, full: str, capsys: pytest.CaptureFixture[str]) -> None:
    paths = {"--json-file": tmp_path / "r.json", "--junit": tmp_path / "j.xml", "--markdown": tmp_path / "r.md"}
    paths[full] = FULL
    with FakeOpenAI() as server:
        code = run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, *[str(a) for option, path in paths.items() for a in (option, path)]])
    captured = capsys.readouterr()
    assert code == 2, captured.err
    assert "✓ 2/2" in captured.out  # the run's result is still shown
    first, hint, end = captured.err.split("\n")
    assert (first, end) == ("workbench: error: cannot write /dev/full: no space left on the disk", ""), captured.err
    written = [path for path in paths.values() if path != FULL]
    assert hint == f"  hint: give a path that can be written; the other reports were written ({', '.join(str(p) for p in written)})"
    for path in written:
        assert path.stat().st_size > 0, path
    if full != "--json-file":
        assert json.loads(paths["--json-file"].read_text())["suites"][0]["summary"]["passed"] == 2


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
def test_json_on_stdout_is_printed_when_a_report_file_fails(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as server:
        code = run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--json", "--junit", str(FULL), "--markdown", str(FULL)])
    captured = capsys.readouterr()
    assert code == 2
    assert json.loads(captured.out)["suites"][0]["summary"]["passed"] == 2
    assert captured.err.split("\n")[0] == "workbench: error: cannot write /dev/full: no space left on the disk; cannot write /dev/full: no space left on the disk"
