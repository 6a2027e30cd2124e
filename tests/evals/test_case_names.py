"""How a case is named where people read it: one rule (`run_model.case_names`) for the JUnit
files, the PR comments, the CLI rows and the app.

The second of two tests described `x` is `x (2)`. A case literally described `x (2)` kept its
name in the JUnit file, where the second `x` became `x (3)`, but the comment, the CLI and the
app still called the second `x` `x (2)`: two cases under one name there, and not the same case
as in the JUnit file.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tests.conftest import SAME_DESCRIBED, build_same_described_repo
from workbench.cli.common import run_app
from workbench.evals.ci_summary import ci_markdown, write_ci_junit
from workbench.evals.compare import compare_results
from workbench.evals.reports import Report, SuiteReport, markdown
from workbench.evals.run_model import Case, CaseResult, case_names


def test_a_literal_description_keeps_its_name_and_the_second_alike_takes_the_next_number() -> None:
    cases = [("x", 0, 0), ("x", 1, 0), ("x (2)", 0, 0), ("x", 2, 0), ("y", 0, 0)]
    assert case_names(cases) == ["x", "x (3)", "x (2)", "x (4)", "y"]
    # the names depend on the cases, not their order
    assert case_names(cases[::-1]) == ["y", "x (4)", "x (2)", "x (3)", "x"]
    # no literal `x (2)`: as before
    assert case_names([("x", 0, 0), ("x", 1, 0), ("x", 0, 1), ("x", 1, 1)]) == ["x", "x (2)", "x #2", "x (2) #2"]
    # the cases shown beside them (the other version) count too: one name for one case in both
    assert case_names([("x", 0, 0), ("x", 1, 0)], among=[("x (2)", 0, 0)]) == ["x", "x (3)"]


def test_names_are_unique_whatever_the_descriptions() -> None:
    """A literal `x #2` beside the second repeat of `x`, the same result twice, a number taken
    by another's literal name: every name is different, and a literal one is never changed."""
    cases = [("x", 0, 0), ("x", 0, 1), ("x #2", 0, 0), ("x (2) (2)", 0, 0), ("x (2)", 0, 0), ("x (2)", 1, 0), ("x", 1, 0), ("x", 1, 0)]
    names = case_names(cases)
    assert len(set(names)) == len(names), names
    assert names[0] == "x" and names[2] == "x #2" and names[3] == "x (2) (2)" and names[4] == "x (2)"


def _result(description: str, passed: bool, occurrence: int = 0) -> CaseResult:
    return CaseResult(description, description, 0, passed, float(passed), occurrence=occurrence)


def test_the_comment_and_the_junit_file_of_ci_check_name_cases_alike(tmp_path: Path) -> None:
    cases = [
        {"case_id": "x", "description": "x", "repeat": 0, "occurrence": 1, "change": "regressed", "base": "pass", "head": "fail", "reasons": [], "index": 1},
        {"case_id": "x", "description": "x", "repeat": 0, "occurrence": 0, "change": "unchanged-pass", "base": "pass", "head": "pass", "reasons": [], "index": 0},
        {"case_id": "x (2)", "description": "x (2)", "repeat": 0, "occurrence": 0, "change": "unchanged-pass", "base": "pass", "head": "pass", "reasons": [], "index": 2},
    ]
    report = {"ci": {"status": "failed", "headline": "p regressed", "prompts": [{"name": "p", "status": "compare", "regressed": 1, "failing": True, "cases": cases}]}}
    rows = [line.split(" | ")[0:4] for line in ci_markdown(report).splitlines() if line.startswith("| `x")]
    assert rows == [["| `x (3)`", "✓", "✗", "regressed"], ["| `x`", "✓", "✓", "unchanged-pass"], ["| `x (2)`", "✓", "✓", "unchanged-pass"]]
    write_ci_junit(report, tmp_path / "ci.xml")
    junit = [(c.get("name"), c.find("failure") is not None) for c in ET.parse(tmp_path / "ci.xml").getroot().iter("testcase")]
    assert junit == [("x", False), ("x (3)", True), ("x (2)", False)]


def test_the_comment_of_a_comparison_names_the_regressed_case_as_its_junit_file_does(tmp_path: Path) -> None:
    a = [_result("x", True), _result("x", True, 1), _result("x (2)", True)]
    b = [_result("x", True), _result("x", False, 1), _result("x (2)", True)]
    comparison = compare_results("p", "A", a, "B", b)
    report = Report([SuiteReport("p", "A", "echo", a), SuiteReport("p", "B", "echo", b)], [comparison.to_dict()])
    text = markdown(report)
    assert "- **`x (3)`**" in text and "- **`x (2)`**" not in text, text
    assert "- **`x (3)`**: " in text.split("Failures in")[1]


def test_compare_names_each_case_once_in_its_rows_its_junit_and_its_comment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """End to end: B adds a test literally described `same (2)`; the second `same` regressed.
    The CLI row, the JUnit file (both versions) and the comment call it `same (3)`."""
    root = tmp_path / "repo"
    path = build_same_described_repo(root)
    changed = SAME_DESCRIBED.replace("'{{ x }}'", "\"{{ x | replace('beta', 'omega') }}\"") + "  - {description: same (2), vars: {x: gamma}, assert: [{type: contains, value: gamma}]}\n"
    path.write_text(changed)
    junit, comment = tmp_path / "j.xml", tmp_path / "c.md"
    assert run_app(["-C", str(root), "compare", "t", "--provider", "echo", "--junit", str(junit), "--markdown", str(comment)]) == 1
    out = capsys.readouterr().out
    assert any(line.strip().startswith("same (3)") and "regressed" in line for line in out.splitlines()), out
    assert not any(line.strip().startswith("same (2)") and "regressed" in line for line in out.splitlines()), out
    names = [(c.get("classname"), c.get("name"), c.find("failure") is not None) for c in ET.parse(junit).getroot().iter("testcase")]
    assert names == [
        ("t@HEAD", "same", False), ("t@HEAD", "same (3)", False),
        ("t@working copy", "same", False), ("t@working copy", "same (3)", True), ("t@working copy", "same (2)", False),
    ]
    assert "- **`same (3)`**" in comment.read_text()


def _reference_case_names(cases: list[Case], among: list[Case], taken: set[str] | None) -> list[str]:
    """The rule as first written, one number after another from the first: the names
    `case_names` must give."""
    everything = [*cases, *among]
    reserved = {d for d, o, _ in everything if not o}
    numbered: dict[tuple[str, int], str] = {}
    for description, occurrence in sorted({(d, o) for d, o, _ in everything if o}):
        number = occurrence + 1
        while f"{description} ({number})" in reserved:
            number += 1
        reserved.add(numbered.setdefault((description, occurrence), f"{description} ({number})"))
    wanted = [numbered.get((d, o), d) + (f" #{r + 1}" if r else "") for d, o, r in cases]
    claimed = {numbered.get((d, o), d) + (f" #{r + 1}" if r else "") for d, o, r in everything}
    used = taken if taken is not None else set()
    names = [""] * len(cases)
    for index in sorted(range(len(cases)), key=lambda i: (bool(cases[i][1] or cases[i][2]), cases[i][2], cases[i][0], cases[i][1], i)):
        name, number = wanted[index], 1
        while name in used or (number > 1 and name in claimed):
            number += 1
            name = f"{wanted[index]} ({number})"
        used.add(name)
        names[index] = name
    return names


def _random_cases(rng: random.Random, count: int) -> list[Case]:
    """Few descriptions, so that they meet: literal `x (k)`, `x #k`, `x (k) (j)` and `x (k) #j`
    beside the occurrences and repeats of `x`, the same case twice."""
    stems = ["x", "y", "x (2)", "x #2", ""]
    cases = []
    for _ in range(count):
        description = rng.choice(stems)
        if rng.random() < 0.4:
            description += f" ({rng.randint(1, 8)})" if rng.random() < 0.7 else f" #{rng.randint(1, 4)}"
        occurrence = rng.choice([0, 0, 0, rng.randint(1, 8)])
        repeat = rng.choice([0, 0, rng.randint(1, 3)])
        cases.append((description, occurrence if rng.random() < 0.9 else 0, repeat))
    return cases


def test_the_names_are_those_of_the_rule_as_first_written_on_random_cases() -> None:
    rng = random.Random(20261204)
    for _ in range(400):
        cases = _random_cases(rng, rng.randint(0, 40))
        among = _random_cases(rng, rng.randint(0, 10)) if rng.random() < 0.5 else []
        taken = {rng.choice(["x", "x (2)", "x (3)", "x #2", "y (2)", "x (2) (2)"]) for _ in range(rng.randint(0, 3))} if rng.random() < 0.5 else None
        expected_taken = None if taken is None else set(taken)
        expected = _reference_case_names(cases, among, expected_taken)
        assert case_names(cases, among, taken) == expected, (cases, among, taken)
        assert taken == expected_taken


class _Counted(str):
    """A description that counts the names made from it (`f"{description} (3)"`)."""

    made = 0

    def __format__(self, spec: str) -> str:
        _Counted.made += 1
        return str.__format__(self, spec)


class _CountedSet(set[str]):
    """Names given already, that count how often a name is looked up among them."""

    looked_up = 0

    def __contains__(self, name: object) -> bool:
        _CountedSet.looked_up += 1
        return super().__contains__(name)


@pytest.mark.parametrize(
    "cases",
    [
        # many literal `x (k)` beside as many tests described `x`: each numbered `x` went past
        # every number the literal ones hold
        pytest.param(lambda n: [(_Counted(f"x ({k})"), 0, 0) for k in range(2, n + 2)] + [(_Counted("x"), o, 0) for o in range(n)], id="literal-numbers"),
        # the same case many times: each went past the names of all the ones before
        pytest.param(lambda n: [("x", 0, 0)] * n, id="same-case"),
        pytest.param(lambda n: [("x", 1, 2)] * n, id="same-repeat"),
    ],
)
def test_naming_many_alike_cases_tries_a_few_names_per_case(cases: Callable[[int], list[Case]]) -> None:
    """No time measured: the names made and looked up, a few per case (quadratic: millions)."""
    made = cases(2000)
    _Counted.made = _CountedSet.looked_up = 0
    names = case_names(made, taken=_CountedSet())
    assert len(set(names)) == len(names) == len(made)
    assert _Counted.made <= 4 * len(made), _Counted.made
    assert _CountedSet.looked_up <= 4 * len(made), _CountedSet.looked_up
