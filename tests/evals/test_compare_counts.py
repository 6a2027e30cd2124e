"""What a comparison counts: a case B breaks is a regression, and a case's repeats are one case."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from tests.conftest import SAME_DESCRIBED, build_same_described_repo, git
from workbench.cli.common import run_app
from workbench.evals.compare import compare_results
from workbench.evals.run_model import CaseResult, summarize


def _run(passed: list[bool | None], repeats: int = 1) -> list[CaseResult]:
    return [
        CaseResult(f"c{i}", f"case {i}", r, ok, 1.0 if ok else 0.0, error=None if ok is not None else "boom")
        for i, ok in enumerate(passed)
        for r in range(repeats)
    ]


def test_a_case_that_passed_on_a_and_errors_on_b_is_a_regression() -> None:
    """B broke every case (a template error): "no difference", exit 0, "regressed 0"."""
    comparison = compare_results("p", "A", _run([True, True]), "B", _run([None, None]))
    assert comparison.regressed == 2 and comparison.regression
    assert [p.change for p in comparison.pairs] == ["regressed", "regressed"]
    assert comparison.verdict.startswith("within noise: 0 fixed, 2 regressed")
    fixed = compare_results("p", "A", _run([None]), "B", _run([True]))
    assert fixed.fixed == 1 and fixed.pairs[0].change == "fixed"
    assert compare_results("p", "A", _run([False]), "B", _run([None])).pairs[0].change == "error"


def test_repeats_of_a_case_are_one_case_in_the_test_and_the_interval() -> None:
    """`--repeat 10` turned one regressed case into "10 regressed (McNemar p=0.002)", and
    narrowed the pass rate's interval from 6%–79% to 19%–51%, on identical answers."""
    once = compare_results("p", "A", _run([True, True, False]), "B", _run([True, False, False]))
    ten = compare_results("p", "A", _run([True, True, False], 10), "B", _run([True, False, False], 10))
    assert (ten.fixed, ten.regressed, ten.p_value) == (once.fixed, once.regressed, once.p_value) == (0, 1, 1.0)
    assert len(ten.pairs) == 30
    assert summarize(_run([True, False, False], 10)).interval == summarize(_run([True, False, False])).interval


def test_compare_exits_1_when_the_working_copy_breaks_what_passed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    prompt = "inputs: {x: {type: string}}\nmessages:\n  - {role: user, content: '{{ x }}'}\ntests:\n  - {vars: {x: a}, assert: [{type: contains, value: a}]}\n"
    (root / "prompts" / "t.yaml").write_text(prompt)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "t")
    (root / "prompts" / "t.yaml").write_text(prompt.replace("{{ x }}", "{{ x }}{{ 1 // 0 }}"))
    assert run_app(["-C", str(root), "compare", "t", "--provider", "echo"]) == 1
    assert "1 regressed" in capsys.readouterr().out


def test_ci_counts_cases_not_repeats_in_its_verdict() -> None:
    """`ci check` said "0 fixed, 1 regressed; 10 passed on base and error on head" with
    --repeat 10: the comparison counted the case once, the extra note each repeat."""
    from workbench.services.ci import PromptCheck

    comparison = compare_results("p", "A", _run([True, True]), "B", _run([None, True]))
    ten = compare_results("p", "A", _run([True, True], 10), "B", _run([None, True], 10))
    once = PromptCheck("p", "modified", None, (), "compare", comparison=comparison)
    repeated = PromptCheck("p", "modified", None, (), "compare", comparison=ten)
    assert (repeated.broke, repeated.regressed, repeated.verdict) == (once.broke, once.regressed, once.verdict)
    assert once.broke == 1 and "1 passed on base and error on head" in once.verdict


def test_cases_b_could_not_run_are_not_measured_and_fail() -> None:
    """Both sides errored (the endpoint down, a revoked key): "no difference", exit 0, and
    `ci promote` deployed a version no call had answered for."""
    down = compare_results("p", "A", _run([None, None]), "B", _run([None, None]))
    assert down.unmeasured == 2 and down.failed
    assert down.verdict == "not measured: every case errored on B"
    some = compare_results("p", "A", _run([False, True, True]), "B", _run([None, True, True]))
    assert some.unmeasured == 1 and some.failed and not some.regression
    assert some.verdict == "no difference: every case has the same pass/fail result; 1 case errored on B: not measured"
    broke = compare_results("p", "A", _run([True]), "B", _run([None]))
    assert broke.unmeasured == 0 and broke.regressed == 1  # counted once, as a regression
    fine = compare_results("p", "A", _run([None]), "B", _run([False]))
    assert fine.unmeasured == 0 and not fine.failed  # B ran: it fails as A did (A is not B's to measure)


def test_the_comment_marks_a_comparison_not_measured_as_failed() -> None:
    """`compare --markdown` put ✅ beside "not measured: every case errored on B", exit 1."""
    from workbench.evals.reports import Report, markdown

    down = compare_results("p", "A", _run([None]), "B", _run([None]))
    row = next(line for line in markdown(Report([], [down.to_dict()])).splitlines() if "`p`" in line)
    assert row.startswith("| ❌ ") and "not measured" in row


def _same(*passed: bool | None, repeats: int = 1) -> list[CaseResult]:
    """Cases all described `same` (the loader warns, the run goes on), in the file's order."""
    return [CaseResult("same", "same", r, ok, 1.0 if ok else 0.0, error=None if ok is not None else "boom") for ok in passed for r in range(repeats)]


def test_cases_sharing_a_description_are_compared_one_by_one() -> None:
    """Results were paired by (case id, repeat), and the case id is the description: two cases
    described `same`, the first regressed, compared as one ('unchanged-pass', regressed 0) and
    passed CI. Each is compared with the case at the same place among those so described."""
    comparison = compare_results("p", "A", _same(True, True), "B", _same(False, True))
    assert [(p.case_id, p.occurrence, p.repeat, p.change) for p in comparison.pairs] == [("same", 0, 0, "regressed"), ("same", 1, 0, "unchanged-pass")]
    assert (comparison.regressed, comparison.fixed, comparison.failed) == (1, 0, True)
    cases = comparison.to_dict()["cases"]
    assert [(c["description"], c["occurrence"], c["change"]) for c in cases] == [("same", 0, "regressed"), ("same", 1, "unchanged-pass")]
    # Repeats of each are still one case each; a case B errors on counts once.
    ten = compare_results("p", "A", _same(True, True, False, repeats=10), "B", _same(False, True, None, repeats=10))
    assert (len(ten.pairs), ten.regressed, ten.unmeasured, ten.broken) == (30, 1, 1, 0)
    broke = compare_results("p", "A", _same(True, True), "B", _same(True, None))
    assert (broke.regressed, broke.broken, broke.unmeasured) == (1, 1, 0)
    # One more `same` on B: the new one is the second, not a replacement of the first.
    added = compare_results("p", "A", _same(True), "B", _same(False, True))
    assert sorted((p.occurrence, p.change) for p in added.pairs) == [(0, "regressed"), (1, "missing")]
    # A result's own occurrence decides, whatever order the results come in.
    b = [replace(r, occurrence=n) for n, r in enumerate(_same(False, True))]
    assert compare_results("p", "A", _same(True, True), "B", b[::-1]).regressed == 1


def test_a_merged_comparison_keeps_every_case_sharing_a_description(tmp_path: Path) -> None:
    """`report merge` computes a comparison found in several reports again from their cases,
    keyed by (case id, repeat): the two `same` cases became one, and the regression was gone."""
    from workbench.evals.reports import Report, SuiteReport, merge_reports, read_json, write_json

    a, b = _same(True, True), _same(False, True)
    report = Report([SuiteReport("p", "A", "echo", a), SuiteReport("p", "B", "echo", b)], [compare_results("p", "A", a, "B", b).to_dict()])
    write_json(report, tmp_path / "r.json")
    merged = merge_reports([read_json(tmp_path / "r.json"), read_json(tmp_path / "r.json")])
    (comparison,) = merged.comparisons
    assert comparison["regressed"] == 1 and [(c["occurrence"], c["change"]) for c in comparison["cases"]] == [(0, "regressed"), (1, "unchanged-pass")]
    assert [len(s.results) for s in merged.suites] == [2, 2]


def test_compare_finds_a_regression_in_a_case_sharing_its_description(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end on a Git repository: `compare` said "no difference" and exited 0."""
    import json
    from xml.etree import ElementTree as ET

    root = tmp_path / "repo"
    path = build_same_described_repo(root)
    path.write_text(SAME_DESCRIBED.replace("'{{ x }}'", "\"{{ x | replace('alpha', 'omega') }}\""))
    report, junit = tmp_path / "r.json", tmp_path / "j.xml"
    assert run_app(["-C", str(root), "compare", "t", "--provider", "echo", "--json-file", str(report), "--junit", str(junit)]) == 1
    assert "1 regressed" in capsys.readouterr().out
    (comparison,) = json.loads(report.read_text())["comparisons"]
    assert [(c["occurrence"], c["change"]) for c in comparison["cases"]] == [(0, "regressed"), (1, "unchanged-pass")]
    names = [(c.get("classname"), c.get("name"), c.find("failure") is not None) for c in ET.parse(junit).getroot().iter("testcase")]
    assert names == [("t@HEAD", "same", False), ("t@HEAD", "same (2)", False), ("t@working copy", "same", True), ("t@working copy", "same (2)", False)]
