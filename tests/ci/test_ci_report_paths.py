"""`ci check` / `ci promote` with a report path that cannot be written.

`ci check --markdown /nonexistent/comment.md --junit junit.xml --json report.json` ran every
test on base and head, then said "unexpected error: FileNotFoundError" and wrote neither
junit.xml nor report.json. A path that cannot be a file is now refused before any model call
(and before any promotion); one that fails while written is named, exit 2, and the other
reports are written.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from ci_repo import git
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app

FULL = Path("/dev/full")


@pytest.mark.parametrize(("branch", "command"), [("regress", ["ci", "check"]), ("improve", ["ci", "promote", "--base", "main"])])
def test_a_comment_path_in_no_folder_is_refused_before_the_run(
    repo: Path, server: FakeOpenAI, tmp_path: Path, branch: str, command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    git(repo, "switch", "-q", branch)
    refs = git(repo, "for-each-ref")
    missing = tmp_path / "nonexistent" / "comment.md"
    files = ["--markdown", str(missing), "--junit", str(tmp_path / "junit.xml"), "--json", str(tmp_path / "report.json")]
    code = run_app(["-C", str(repo), *command, "--base-url", server.base_url, *files])
    captured = capsys.readouterr()
    assert (code, server.requests) == (2, 0), captured.err
    assert captured.err.startswith(f"workbench: error: cannot write {missing}: the folder {missing.parent} does not exist\n  hint: "), captured.err
    assert "unexpected" not in captured.err
    assert git(repo, "for-each-ref") == refs  # nothing promoted either (`improve` passes its check)


@pytest.mark.skipif(not FULL.exists(), reason="needs /dev/full")
def test_a_comment_that_fails_to_write_leaves_the_junit_and_json_written(repo: Path, server: FakeOpenAI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "switch", "-q", "regress")
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    code = run_app(["-C", str(repo), "ci", "check", "--base-url", server.base_url, "--markdown", str(FULL), "--junit", str(junit), "--json", str(report)])
    captured = capsys.readouterr()
    assert code == 2, captured.err  # the write failed: not 1 (a regression), not 0
    assert captured.err.split("\n")[0] == "workbench: error: cannot write /dev/full: no space left on the disk", captured.err
    assert "support/reply" in captured.out  # the verdicts are still printed
    assert json.loads(report.read_text())["ci"]["prompts"][0]["name"] == "support/reply"
    assert [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")] == ["polite", "brief", "mentions the policy"]
