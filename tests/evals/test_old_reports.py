"""Reports written before `occurrence` existed: two cases described alike are two results.

The previous release wrote no `occurrence`; this one omits it when it is 0. Read as 0, the
second of two tests described `same` had the first's key, and one result replaced the other
in `compare` (a merged comparison), `ci check`'s report, `report merge` and the stored runs:
a regression of one of them was not seen. While a report's results are read, a result whose
(case id, repeat) was seen already and that says no occurrence takes the next free one, in
the order they appear (`run_model.read_results`, the one reader of them all).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from workbench.cli.common import run_app
from workbench.evals.compare import compare_results
from workbench.evals.reports import Report, merge_reports, read_json
from workbench.evals.run_model import CaseResult, read_results


def _case(status: str, description: str = "same", repeat: int = 0, **extra: Any) -> dict[str, Any]:
    """A case result as the previous release wrote it: no `occurrence`."""
    return {"case_id": description, "description": description, "repeat": repeat, "status": status, "score": float(status == "pass"), "output": description, "asserts": [], **extra}


def _old_suite(revision: str, *statuses: str) -> dict[str, Any]:
    return {"prompt": "p", "revision": revision, "provider": "echo", "cancelled": False, "cases": [_case(s) for s in statuses]}


def _write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps({"version": 1, "shard": None, "comparisons": [], **data}), encoding="utf-8")
    return path


def test_results_without_occurrence_take_the_next_free_one_in_order() -> None:
    read = read_results([_case("pass"), _case("fail"), _case("pass", "other"), _case("error"), _case("fail", repeat=1), _case("pass", repeat=1)])
    assert [(r.case_id, r.occurrence, r.repeat, r.status) for r in read] == [
        ("same", 0, 0, "pass"), ("same", 1, 0, "fail"), ("other", 0, 0, "pass"), ("same", 2, 0, "error"), ("same", 0, 1, "fail"), ("same", 1, 1, "pass"),
    ]
    # A report of this release: the first says none (0), the second says 1, in any order.
    assert [r.occurrence for r in read_results([_case("fail", occurrence=1), _case("pass")])] == [1, 0]
    assert [r.occurrence for r in read_results([_case("pass"), _case("pass"), _case("fail", occurrence=1)])] == [0, 2, 1]


def test_occurrences_are_the_same_as_the_rules_plain_reading_on_random_reports() -> None:
    """`read_occurrences` once looked for each unnumbered result's occurrence from 0: n² / 2
    look-ups for n results described alike (an old report of 20,000 repeats of one case:
    minutes). It starts where the key's last one ended now, with the same answers as that
    plain reading of the rule."""
    import random

    from workbench.evals.run_model import read_occurrences

    def plain(items: list[dict[str, Any]]) -> list[int]:
        taken = {(i["case_id"], i.get("repeat", 0), i["occurrence"]) for i in items if "occurrence" in i}
        places = []
        for item in items:
            n = item.get("occurrence")
            if n is None:
                n = 0
                while (item["case_id"], item.get("repeat", 0), n) in taken:
                    n += 1
                taken.add((item["case_id"], item.get("repeat", 0), n))
            places.append(n)
        return places

    rng = random.Random(13)
    for _ in range(400):
        items: list[dict[str, Any]] = []
        for _ in range(rng.randrange(1, 40)):
            item: dict[str, Any] = {"case_id": rng.choice("abc"), "repeat": rng.randrange(2)}
            if rng.random() < 0.3:
                item["occurrence"] = rng.randrange(5)
            items.append(item)
        assert read_occurrences(items) == plain(items), items


def test_an_old_report_keeps_both_cases_described_alike(tmp_path: Path) -> None:
    old = read_json(_write(tmp_path / "old.json", {"suites": [_old_suite("A", "pass", "pass")]}))
    assert [r.key for r in old.suites[0].results] == [("same", 0, 0), ("same", 1, 0)]
    merged = merge_reports([old, read_json(tmp_path / "old.json")])
    assert [r.key for r in merged.suites[0].results] == [("same", 0, 0), ("same", 1, 0)]


def test_a_regression_of_the_second_is_found_against_an_old_report(tmp_path: Path) -> None:
    """Base from an old report (no `occurrence`), head from this release: the second `same`
    regressed."""
    old = read_json(_write(tmp_path / "old.json", {"suites": [_old_suite("A", "pass", "pass")]}))
    head = [CaseResult("same", "same", 0, True, 1.0), CaseResult("same", "same", 0, False, 0.0, occurrence=1)]
    new = Report.from_dict(json.loads(json.dumps({"version": 1, "suites": [{"prompt": "p", "revision": "B", "provider": "echo", "cases": [r.to_dict() for r in head]}]})))
    comparison = compare_results("p", "A", old.suites[0].results, "B", new.suites[0].results)
    assert [(p.occurrence, p.change) for p in comparison.pairs] == [(1, "regressed"), (0, "unchanged-pass")]
    assert comparison.regressed == 1 and comparison.failed


def _old_comparison(a: tuple[str, str], b: tuple[str, str]) -> dict[str, Any]:
    """A comparison as the previous release wrote it: no `occurrence` in its cases either."""
    cases = [{"case_id": "same", "description": "same", "repeat": 0, "change": "x", "a": _case(x), "b": _case(y)} for x, y in zip(a, b, strict=True)]
    return {"prompt": "p", "a": "A", "b": "B", "fixed": 0, "regressed": 0, "cases": cases}


def test_report_merge_recomputes_an_old_comparison_with_both_cases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`report merge` of two parts holding the comparison (an old part and itself again): the
    second `same` regressed; read as the first's key, it was gone, and the merge exited 0."""
    data = {"suites": [_old_suite("A", "pass", "pass"), _old_suite("B", "pass", "pass")], "comparisons": [_old_comparison(("pass", "pass"), ("pass", "fail"))]}
    part = _write(tmp_path / "old.json", data)
    merged = merge_reports([read_json(part), read_json(part)])
    (comparison,) = merged.comparisons
    assert comparison["regressed"] == 1
    assert sorted((c["occurrence"], c["change"]) for c in comparison["cases"]) == [(0, "unchanged-pass"), (1, "regressed")]
    assert run_app(["report", "merge", str(part), str(part), "--json"]) == 1
    (printed,) = json.loads(capsys.readouterr().out)["comparisons"]
    assert printed["regressed"] == 1


def test_stored_runs_of_the_previous_release_keep_both_cases(tmp_path: Path) -> None:
    """A run stored by the previous release: its cases' data say no occurrence."""
    import sqlite3

    from workbench.evals.store import ResultsStore

    store = ResultsStore(tmp_path / "results.sqlite")
    run = store.record(prompt="p", revision="A", commit=None, blob=None, provider="echo", model=None, parameters={}, results=[CaseResult("same", "same", 0, True, 1.0)] * 2, started=0.0)
    store.close()
    db = sqlite3.connect(tmp_path / "results.sqlite")
    with db:
        db.execute("UPDATE cases SET data = ?", (json.dumps(_case("pass")),))
    db.close()
    store = ResultsStore(tmp_path / "results.sqlite")
    assert [r.key for r in store.cases(run)] == [("same", 0, 0), ("same", 1, 0)]
    store.close()


def test_the_comment_and_junit_of_an_old_ci_report_name_both_cases(tmp_path: Path) -> None:
    """`ci check`'s JSON of the previous release: its cases say no occurrence. The comment named
    both `same` (and the JUnit file named them by counting, not as the comment did)."""
    from xml.etree import ElementTree as ET

    from workbench.evals.ci_summary import ci_markdown, write_ci_junit

    cases = [
        {"case_id": "same", "description": "same", "repeat": 0, "change": "regressed", "base": "pass", "head": "fail", "reasons": ["contains: no"], "index": 1},
        {"case_id": "same", "description": "same", "repeat": 0, "change": "unchanged-pass", "base": "pass", "head": "pass", "reasons": [], "index": 0},
    ]
    report = {"ci": {"status": "failed", "headline": "p regressed", "prompts": [{"name": "p", "status": "compare", "regressed": 1, "failing": True, "cases": cases}]}}
    rows = [line for line in ci_markdown(report).splitlines() if line.startswith("| `same")]
    assert [row.split(" | ")[0] for row in rows] == ["| `same`", "| `same (2)`"]
    write_ci_junit(report, tmp_path / "ci.xml")
    names = [(c.get("name"), c.find("failure") is not None) for c in ET.parse(tmp_path / "ci.xml").getroot().iter("testcase")]
    assert names == [("same (2)", False), ("same", True)] or names == [("same", False), ("same (2)", True)]
