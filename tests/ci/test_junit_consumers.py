"""The JUnit files of `ci check`, `test`, `compare` and `report merge`, read as their consumers
read them.

The rules are those of the consumers, not of what looks reasonable:

- Jenkins (xunit plugin, `junit-10.xsd`): `testsuite` needs `name`, `tests`, `failures` and
  `errors`; its `time` (and that of `testsuites`) is a SUREFIRE_TIME,
  `(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\\.[0-9]*)?`: no sign, no exponent, no `nan`.
- dorny/test-reporter (`java-junit-parser.ts`): the time of a suite is
  `parseFloat(testsuite.$.time) * 1000`, and of a case `parseFloat(testcase.$.time) * 1000`,
  with no default: a missing attribute is NaN, shown as "NaNms" in the check run, and NaN for
  the whole run once summed.
- GitLab (`Gitlab::Ci::Reports::TestSuite#add_test_case`): keeps the cases of a job's report
  in a hash per status keyed by `TestCase#key`, the SHA-256 of "suite name_classname_name": a
  second case with the same key and status replaces the first (one result fewer in the merge
  request widget). Jenkins (`ClassResult`) files cases under their classname and finds a case's
  history by its name. So no two cases of a report share a (classname, name).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
from ci_repo import git
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app
from workbench.evals.ci_summary import write_ci_junit
from workbench.evals.reports import Report, SuiteReport, write_junit
from workbench.evals.run_model import CaseResult
from workbench.services.ci import PromptCheck
from workbench.services.evals import SuiteOutcome

SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def consumer_problems(path: Path) -> list[str]:
    """What Jenkins' schema refuses, or dorny/test-reporter shows as NaN, in a JUnit file."""
    root = ET.parse(path).getroot()
    problems: list[str] = []
    keys: set[tuple[str | None, str | None]] = set()
    for case in root.iter("testcase"):
        key = (case.get("classname"), case.get("name"))
        if key in keys:
            problems.append(f"testcase {key} twice: GitLab and Jenkins keep one")
        keys.add(key)
    if "time" in root.attrib and not SUREFIRE_TIME.fullmatch(root.get("time", "")):
        problems.append(f"testsuites time={root.get('time')!r}")
    for suite in root.iter("testsuite"):
        name = suite.get("name")
        for attribute in ("name", "tests", "failures", "errors"):
            if attribute not in suite.attrib:
                problems.append(f"testsuite {name!r} has no {attribute}")
        time = suite.get("time")
        if time is None or not SUREFIRE_TIME.fullmatch(time) or time in ("", "."):
            problems.append(f"testsuite {name!r} time={time!r}")
        cases = suite.findall("testcase")
        counted = (len(cases), sum(c.find("failure") is not None for c in cases), sum(c.find("error") is not None for c in cases))
        said = (int(suite.get("tests", -1)), int(suite.get("failures", -1)), int(suite.get("errors", -1)))
        if said != counted:
            problems.append(f"testsuite {name!r} says {said}, holds {counted}")
        for case in cases:
            case_time = case.get("time")
            if case_time is None or not SUREFIRE_TIME.fullmatch(case_time) or case_time in ("", "."):
                problems.append(f"testcase {case.get('name')!r} time={case_time!r}")
    return problems


def test_ci_check_junit_has_the_times_every_consumer_reads(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    git(repo, "switch", "-q", "regress")
    junit = tmp_path / "junit.xml"
    code = run_app(["-C", str(repo), "ci", "check", "--base-url", server.base_url, "--junit", str(junit)])
    capsys.readouterr()
    assert code == 1
    assert len(ET.parse(junit).getroot().findall(".//testcase")) == 3
    assert consumer_problems(junit) == []


def test_test_and_compare_junit_have_the_times_every_consumer_reads(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    for name, args in {
        "test": ["test", "--all"],
        "compare": ["compare", "support/reply", "main", "regress"],
    }.items():
        junit = tmp_path / f"{name}.xml"
        code = run_app(["-C", str(repo), *args, "--base-url", server.base_url, "--junit", str(junit)])
        capsys.readouterr()
        assert code in (0, 1)
        assert ET.parse(junit).getroot().findall(".//testcase")
        assert consumer_problems(junit) == [], name


def test_a_merged_shard_with_negative_latencies_still_gives_valid_times(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A shard file is data from another job: a negative latency passes the schema, and must not
    reach a `time` attribute (Jenkins' SUREFIRE_TIME has no sign). `NaN` and `Infinity` are
    refused by `report merge` itself (`test_report_merge_shards.py`)."""
    shard = tmp_path / "shard.json"
    code = run_app(["-C", str(repo), "test", "support/reply", "--base-url", server.base_url, "--json-file", str(shard)])
    capsys.readouterr()
    assert code in (0, 1)
    data = json.loads(shard.read_text(encoding="utf-8"))
    for case, latency in zip(data["suites"][0]["cases"], [-12.5, -0.0004, -1e300], strict=False):
        case["latency_ms"] = latency
    shard.write_text(json.dumps(data), encoding="utf-8")
    junit = tmp_path / "merged.xml"
    code = run_app(["report", "merge", str(shard), "--junit", str(junit)])
    capsys.readouterr()
    assert code in (0, 1)
    assert consumer_problems(junit) == []


def _result(description: str, passed: bool | None, repeat: int = 0, output: str = "") -> CaseResult:
    return CaseResult(description, description, repeat, passed, 1.0 if passed else 0.0, output=output, error=None if passed is not None else "boom")


def _names(path: Path) -> list[tuple[str | None, str | None, str]]:
    status = {True: "pass", False: "fail"}
    return [
        (c.get("classname"), c.get("name"), "error" if c.find("error") is not None else status[c.find("failure") is None])
        for c in ET.parse(path).getroot().iter("testcase")
    ]


def test_cases_with_the_same_description_each_keep_their_result(tmp_path: Path) -> None:
    """Two tests described alike (the loader warns, the run goes on) were two testcases with one
    (classname, name): GitLab showed one of them. The later ones get ` (2)`, ` (3)` in the
    file's order, repeats keep their ` #N`, and a description that already reads `x (2)` is
    not taken twice; the same report gives the same names every time."""
    results = [_result("same", False), _result("same", True), _result("same (2)", True), _result("same", None), _result("other", True)]
    repeated = [_result("same", True), _result("same", False, repeat=1), _result("same", True), _result("same", True, repeat=1)]
    report = Report([SuiteReport("p", "working copy", "openai:x", results), SuiteReport("q", "working copy", "openai:x", repeated)])
    path = tmp_path / "junit.xml"
    write_junit(report, path)
    assert consumer_problems(path) == []
    assert _names(path) == [
        ("p", "same", "fail"), ("p", "same (3)", "pass"), ("p", "same (2)", "pass"), ("p", "same (4)", "error"), ("p", "other", "pass"),
        ("q", "same", "pass"), ("q", "same #2", "fail"), ("q", "same (2)", "pass"), ("q", "same (2) #2", "pass"),
    ]
    again = tmp_path / "again.xml"
    write_junit(report, again)
    assert again.read_bytes() == path.read_bytes()


def test_the_two_versions_of_a_compared_prompt_are_two_classes(tmp_path: Path) -> None:
    """`compare` writes one testsuite per version, with the same case names: Jenkins files cases
    by classname alone, so each version is its own class (`prompt@revision`); a prompt run once
    keeps its plain name, which is the one its history is under."""
    a = [_result("one", True), _result("two", True)]
    b = [_result("one", True), _result("two", False)]
    report = Report([SuiteReport("p", "main", "openai:x", a), SuiteReport("p", "feature", "openai:x", b), SuiteReport("r", "main", "openai:x", a)])
    path = tmp_path / "junit.xml"
    write_junit(report, path)
    assert consumer_problems(path) == []
    assert [c for c, _, _ in _names(path)] == ["p@main", "p@main", "p@feature", "p@feature", "r", "r"]


def test_ci_check_junit_keeps_every_case_with_a_repeated_description(tmp_path: Path) -> None:
    """A new prompt (head only) with two tests described alike: the first in the file keeps the
    plain name whichever of them errored (results are sorted by change first, errors on top, so
    the order the JUnit file was written in followed the outcome), and both are in the file."""
    for outcomes in ([True, None], [None, True]):
        head = SuiteOutcome("p", "feature", None, None, "openai:x", "openai:x", [_result("same", outcomes[0], output="first"), _result("same", outcomes[1], output="second")])
        check = PromptCheck("p", "added", None, (), "head-only", head=head, order={"same": (0, 1)})
        path = tmp_path / "ci.xml"
        write_ci_junit({"ci": {"prompts": [check.to_dict()]}}, path)
        assert consumer_problems(path) == []
        status = {True: "pass", None: "error"}
        assert [(n, s) for _, n, s in _names(path)] == [("same", status[outcomes[0]]), ("same (2)", status[outcomes[1]])]
