"""`workbench ci check` on real branches against the local OpenAI-protocol server.

One branch per kind of pull request (see `ci_repo.build`): it regresses a prompt, improves one,
only edits a partial, only edits a tests file, changes no prompt, adds an invalid file. Each is
checked through the CLI entry point: exit code, the Markdown comment (compared with the files
in `expected/`), the JUnit file (parsed back), the JSON report.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from ci_repo import git, write
from fake_openai import FakeOpenAI
from gfm import Page

from workbench.cli.common import run_app
from workbench.evals.reports import Report

EXPECTED = Path(__file__).parent / "expected"


@dataclass
class Checked:
    code: int
    markdown: str
    junit: ET.Element
    data: dict[str, Any]
    out: str
    err: str

    @property
    def ci(self) -> dict[str, Any]:
        return self.data["ci"]

    def prompt(self, name: str) -> dict[str, Any]:
        return next(p for p in self.ci["prompts"] if p["name"] == name)


def check(root: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], branch: str | None, *extra: str) -> Checked:
    if branch is not None:
        git(root, "switch", "-q", branch)
    out = root.parent / "out"
    out.mkdir(exist_ok=True)
    files = {"markdown": out / "comment.md", "junit": out / "junit.xml", "json": out / "report.json"}
    for path in files.values():
        path.unlink(missing_ok=True)
    code = run_app(["-C", str(root), "ci", "check", "--base-url", server.base_url, *[f"--{k}={v}" for k, v in files.items()], *extra])
    captured = capsys.readouterr()
    return Checked(
        code,
        files["markdown"].read_text(encoding="utf-8"),
        ET.parse(files["junit"]).getroot(),
        json.loads(files["json"].read_text(encoding="utf-8")),
        captured.out,
        captured.err,
    )


def expected(name: str, text: str) -> str:
    """The expected Markdown; WORKBENCH_UPDATE_EXPECTED=1 rewrites it (check the new file by eye)."""
    path = EXPECTED / name
    if os.environ.get("WORKBENCH_UPDATE_EXPECTED"):
        path.write_text(text, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def cases_of(junit: ET.Element, suite: str) -> list[ET.Element]:
    (found,) = [s for s in junit.iter("testsuite") if s.get("name") == suite]
    return list(found.iter("testcase"))


def test_a_branch_that_regresses_a_prompt_exits_1(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "regress")
    assert result.code == 1, result.err
    assert result.markdown == expected("regress.md", result.markdown)
    reply_check = result.prompt("support/reply")
    assert (reply_check["status"], reply_check["regressed"], reply_check["fields"]) == ("compare", 2, ["message 1 (system)"])
    assert reply_check["base"]["passed"] == 3 and reply_check["head"]["passed"] == 1
    assert [p["name"] for p in result.ci["prompts"]] == ["support/reply"]  # nothing else changed
    cases = cases_of(result.junit, "support/reply")
    assert [c.get("name") for c in cases] == ["polite", "brief", "mentions the policy"]  # one testcase per case
    failures = [c.find("failure") for c in cases]
    assert [f.get("message", "").split(";")[0] if f is not None else None for f in failures] == ["regressed: passed on base", "regressed: passed on base", None]
    assert server.requests == 6  # 3 cases on base and on head, in one run
    assert Report.from_dict(result.data).comparisons[0]["regressed"] == 2  # `workbench report merge` reads it
    assert "sk-ci-test-secret" not in result.markdown + json.dumps(result.data) + result.out


def test_a_rerun_makes_no_call(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    first = check(repo, server, capsys, "regress")
    second = check(repo, server, capsys, None)
    assert server.requests == 6
    assert (first.code, second.code) == (1, 1)
    assert second.ci["spent"]["calls"] == 0
    assert "0 model calls (every answer from the cache)" in second.markdown


def test_a_branch_that_improves_a_prompt_exits_0(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "improve")
    assert result.code == 0, result.out + result.err
    assert result.markdown == expected("improve.md", result.markdown)
    answer = result.prompt("faq/answer")
    assert (answer["fixed"], answer["regressed"], answer["failing"]) == (1, 0, False)
    assert len(cases_of(result.junit, "faq/answer")) == 2


def test_a_partial_change_checks_every_prompt_that_includes_it(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "partial")
    assert result.code == 1
    assert sorted(p["name"] for p in result.ci["prompts"]) == ["support/escalate", "support/reply"]
    for prompt in result.ci["prompts"]:
        assert prompt["fields"] == ["partial shared/policy.jinja"]
    assert result.prompt("support/reply")["regressed"] == 1  # "mentions the policy" lost the policy
    assert result.prompt("support/escalate")["failing"] is False
    assert result.ci["headline"] == "support/reply regressed (2 changed prompts)"


def test_a_tests_file_change_checks_the_prompt_that_references_it(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "tests-file")
    assert result.code == 0
    (answer,) = result.ci["prompts"]
    assert answer["name"] == "faq/answer" and answer["fields"] == ['test "answers at all"']
    assert answer["verdict"].endswith("1 new case")
    assert [c.get("name") for c in cases_of(result.junit, "faq/answer")] == ["one sentence", "cites the manual", "answers at all"]


def test_a_branch_that_changes_no_prompt_exits_0_without_calls(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "nothing")
    assert result.code == 0
    assert result.ci["headline"] == "no prompt changed"
    assert "No prompt changed: nothing to run." in result.markdown
    assert "no prompt changed" in result.out
    assert server.requests == 0
    assert list(result.junit.iter("testcase")) == []


def test_a_branch_with_an_invalid_file_exits_1(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "invalid")
    assert result.code == 1
    assert result.markdown == expected("invalid.md", result.markdown)
    assert result.prompt("broken")["status"] == "invalid"
    assert "prompts/broken.yaml:4:1: error: unknown field 'modle'" in result.out
    (case,) = cases_of(result.junit, "validate")
    assert case.get("name") == "prompts/broken.yaml" and case.find("failure") is not None
    assert server.requests == 0


def test_a_broken_workbench_yaml_is_reported_without_running(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "workbench.yaml", "environments: dev\nconcurrency: many\n")
    result = check(repo, server, capsys, None)
    assert result.code == 1
    assert any(p["path"] == "workbench.yaml" for p in result.ci["problems"])
    assert "### Invalid files" in result.markdown and "`workbench.yaml:" in result.markdown
    assert server.requests == 0


def test_max_calls_refuses_before_the_first_call(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    refused = check(repo, server, capsys, "regress", "--max-calls", "5")
    assert refused.code == 2
    assert server.requests == 0
    assert "the run would make 6 model calls (estimated cost $0.00" in refused.err
    assert "more than --max-calls 5" in refused.err
    assert "**Not started**" in refused.markdown and "calls (estimated)" in refused.markdown
    assert check(repo, server, capsys, None, "--max-calls", "6").code == 1
    assert server.requests == 6
    cached = check(repo, server, capsys, None, "--max-calls", "0")  # every answer cached: 0 calls to make
    assert cached.code == 1 and server.requests == 6


def test_max_cost_needs_known_prices(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    cheap = check(repo, server, capsys, "improve", "--max-cost", "0.000001")
    assert cheap.code == 2 and "estimated cost $0.00" in cheap.err and "more than --max-cost" in cheap.err
    unknown = check(repo, server, capsys, None, "--max-cost", "5", "--model", "my-own-model")
    assert unknown.code == 2 and "cannot be estimated" in unknown.err
    assert check(repo, server, capsys, None, "--max-cost", "5").code == 0
    assert server.requests == 4


def test_a_prompt_that_cannot_run_is_named_with_the_reason(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAKE_KEY")
    result = check(repo, server, capsys, "improve")
    assert result.code == 1
    answer = result.prompt("faq/answer")
    assert answer["status"] == "not-run" and "FAKE_KEY is not set" in answer["note"]
    assert "### Could not run" in result.markdown and "FAKE_KEY is not set" in result.markdown
    (case,) = cases_of(result.junit, "faq/answer")
    assert case.find("error") is not None
    assert server.requests == 0


def test_regressions_can_be_reported_without_failing(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    result = check(repo, server, capsys, "regress", "--no-fail-on-regression")
    assert result.code == 0
    assert "| ⚠️ | `support/reply` |" in result.markdown
    invalid = check(repo, server, capsys, "invalid", "--no-fail-on-regression")
    assert invalid.code == 1  # an invalid file always fails


def test_in_a_ci_clone_the_base_defaults_to_origins_main(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    git(clone, "switch", "-q", "--detach", "origin/regress")  # as actions/checkout leaves a pull request
    git(clone, "branch", "-q", "-D", "main")
    result = check(clone, server, capsys, None)
    assert result.code == 1
    assert result.ci["base"] == "origin/main"
    assert result.prompt("support/reply")["regressed"] == 2


def test_untrusted_text_cannot_shape_the_comment(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    hostile = "x | <img src=https://evil.example/t.png> [link](https://evil.example) @team **bold**"
    text = (repo / "prompts/faq/answer.yaml").read_text().replace("Answer in one sentence.", "Answer in one sentence; cite the manual.")
    write(repo, "prompts/faq/answer.yaml", text)
    write(repo, "prompts/faq/cases.tests.yaml", f"- description: '{hostile}'\n  vars: {{question: q}}\n  assert: [{{type: icontains, value: zzz}}]\n")
    git(repo, "switch", "-q", "-c", "hostile")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"subject {hostile}")
    result = check(repo, server, capsys, None)
    page = Page(result.markdown)  # as GitHub renders it
    assert page.links == [] and "img" not in page.tags and page.references() == []
    assert page.tables and all(len(set(rows)) == 1 for rows in page.tables)  # no extra column
    assert any(hostile in code for code in page.code)  # shown as typed
    assert result.junit.find(".//testcase").get("name") == hostile  # kept as data in the XML


def test_ci_promote_after_the_merge(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "merge", "-q", "--no-ff", "improve", "-m", "Merge branch 'improve'")
    code = run_app(["-C", str(repo), "ci", "promote", "--base", "HEAD~1", "--base-url", server.base_url])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "promoted: faq/answer: promote faq/answer in dev: nothing → v1 (new release)" in out
    (tag,) = git(repo, "tag", "--list", "deploy/dev/*").split()
    message = git(repo, "tag", "--list", "--format=%(contents)", tag)
    assert 'reason: "CI: Merge branch \'improve\'"' in message
    assert 'tests: "✓ 2/2"' in message  # the check's own run of HEAD
    assert run_app(["-C", str(repo), "ci", "promote", "--base", "HEAD~1", "--base-url", server.base_url]) == 0
    assert "unchanged: faq/answer: dev already runs faq/answer@v1" in capsys.readouterr().out


def test_ci_promote_obeys_the_policy_and_refuses_a_failed_check(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "workbench.yaml", "environments:\n  - name: dev\n    approvals: 1\n  - prod\nmain_branch: main\nmodel: {provider: openai, name: gpt-4o-mini, api_key_env: FAKE_KEY}\n")
    git(repo, "commit", "-qam", "Guard dev")
    git(repo, "merge", "-q", "--no-ff", "improve", "-m", "Merge improve")
    assert run_app(["-C", str(repo), "ci", "promote", "--base", "HEAD~1", "--base-url", server.base_url]) == 1
    assert "blocked: faq/answer" in capsys.readouterr().out
    assert git(repo, "tag", "--list", "deploy/*") == ""
    git(repo, "merge", "-q", "--no-ff", "regress", "-m", "Merge regress")
    assert run_app(["-C", str(repo), "ci", "promote", "--base", "HEAD~1", "--base-url", server.base_url]) == 1
    assert git(repo, "tag", "--list", "deploy/*") == ""


def test_a_check_whose_calls_all_fail_does_not_pass_nor_promote(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The endpoint down on base and head: every case errored on both, and the check said "no
    regression", exit 0; `ci promote` then deployed the untested head."""
    with FakeOpenAI(fault_rate=1.0, faults=("401",)) as down:
        result = check(repo, down, capsys, "improve")
        assert result.code == 1, result.out
        answer = result.prompt("faq/answer")
        assert answer["failing"] and answer["verdict"] == "not measured: every case errored on B"
        assert "no regression" not in result.markdown and "faq/answer errored at head" in result.out
        assert run_app(["-C", str(repo), "compare", "faq/answer", "main", "improve", "--base-url", down.base_url]) == 1
        git(repo, "switch", "-q", "main")
        git(repo, "merge", "-q", "--no-ff", "improve", "-m", "Merge improve")
        assert run_app(["-C", str(repo), "ci", "promote", "--base", "HEAD~1", "--base-url", down.base_url]) == 1
    assert git(repo, "tag", "--list", "deploy/*") == ""


def test_a_new_prompt_whose_cases_all_error_fails_even_without_failing_on_regressions(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A new prompt has no base: its errored cases were counted as regressions only, so
    `--no-fail-on-regression` passed a prompt no call had answered for."""
    git(repo, "switch", "-q", "-c", "new-prompt")
    write(repo, "prompts/faq/again.yaml", (repo / "prompts/faq/answer.yaml").read_text())
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Add faq/again")
    with FakeOpenAI(fault_rate=1.0, faults=("401",)) as down:
        result = check(repo, down, capsys, None, "--no-fail-on-regression")
    assert result.code == 1, result.out
    again = result.prompt("faq/again")
    assert again["status"] == "head-only" and again["failing"] and again["unmeasured"] > 0


TWINS = """\
description: Two tests described alike (the loader warns, the run goes on)
inputs:
  ticket: {type: string, required: true}
messages:
  - role: system
    content: Say hello.
  - role: user
    content: "{{ ticket }}"
tests:
  - description: same
    vars: {ticket: alpha}
    assert: [{type: icontains, value: hello}]
  - description: same
    vars: {ticket: beta}
    assert: [{type: icontains, value: beta}]
"""


def test_a_regression_in_a_case_sharing_its_description_fails_the_check(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str]) -> None:
    """The first of two tests described `same` regressed: results were paired by description
    and repeat, the second's result stood for both, and the check passed with "no difference".
    Each is compared with the same place among those so described, and the JUnit names agree
    (the first is `same`, the second `same (2)`, in the file's order)."""
    write(repo, "prompts/twins.yaml", TWINS)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "Twins")
    git(repo, "switch", "-q", "-c", "twins")
    write(repo, "prompts/twins.yaml", TWINS.replace("Say hello.", "Say hi."))
    git(repo, "commit", "-q", "-am", "Shorter greeting")
    result = check(repo, server, capsys, None, "--base", "main")
    assert result.code == 1, result.out
    twins = result.prompt("twins")
    assert (twins["regressed"], twins["failing"]) == (1, True), twins["verdict"]
    assert [(c["description"], c["occurrence"], c["change"], c["index"]) for c in twins["cases"]] == [("same", 0, "regressed", 0), ("same", 1, "unchanged-pass", 1)]
    cases = cases_of(result.junit, "twins")
    assert [(c.get("name"), c.find("failure") is not None) for c in cases] == [("same", True), ("same (2)", False)]
    assert Report.from_dict(result.data).comparisons[0]["regressed"] == 1
