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
- GitLab (`Gitlab::Ci::Reports::TestSuite`): counts the cases it finds, keyed by suite name,
  classname and name.
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

SUREFIRE_TIME = re.compile(r"(([0-9]{0,3},)*[0-9]{3}|[0-9]{0,3})*(\.[0-9]*)?")


def consumer_problems(path: Path) -> list[str]:
    """What Jenkins' schema refuses, or dorny/test-reporter shows as NaN, in a JUnit file."""
    root = ET.parse(path).getroot()
    problems: list[str] = []
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
