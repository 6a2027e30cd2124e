"""Cache hits and corruption, the results store, shards, reports."""

from __future__ import annotations

import asyncio
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.core.loader import load_prompt
from workbench.core.model import ModelSpec
from workbench.evals.cache import ResponseCache
from workbench.evals.compare import compare_results
from workbench.evals.providers import OpenAIProvider
from workbench.evals.reports import (
    Report,
    SuiteReport,
    markdown,
    merge_reports,
    read_json,
    write_json,
    write_junit,
)
from workbench.evals.runner import CaseResult, RunOptions, SuiteRun, shard_of
from workbench.evals.store import ResultsStore

PROMPT = load_prompt(
    "model: {provider: openai, name: m}\ninputs:\n  q: {type: string}\nmessages:\n  - {role: user, content: '{{ q }}'}\n"
    "tests:\n" + "".join(f"  - description: c{i}\n    vars: {{q: q{i}}}\n    assert: [{{type: contains, value: q{i}}}]\n" for i in range(5)),
    "prompts/q.yaml",
).prompt
assert PROMPT is not None


def _run(server: FakeOpenAI, cache: ResponseCache | None) -> list[CaseResult]:
    provider = OpenAIProvider(ModelSpec("openai", "m", server.base_url, None))
    return asyncio.run(SuiteRun(PROMPT, provider, PROMPT.tests, RunOptions(), cache=cache).run())


def test_rerun_of_unchanged_suite_makes_zero_calls(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with FakeOpenAI() as server:
        first = _run(server, cache)
        calls = server.requests
        second = _run(server, cache)
        assert server.requests == calls == 5
    assert all(r.cached for r in second) and not any(r.cached for r in first)
    assert [r.output for r in first] == [r.output for r in sorted(second, key=lambda r: r.case_id)] or {r.output for r in first} == {r.output for r in second}


def test_errors_are_not_cached(tmp_path: Path) -> None:
    cache = ResponseCache(tmp_path / "cache.sqlite")
    with FakeOpenAI(script=["401"]) as server:
        results = _run(server, cache)
        assert sum(r.status == "error" for r in results) == 1
        again = _run(server, cache)
        assert server.requests == 6  # 5, then only the one that errored is asked again
    assert all(r.passed for r in again)


def test_corrupt_cache_is_reported_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    cache = ResponseCache(path)
    assert cache.warnings and "moved to" in cache.warnings[0]
    with FakeOpenAI() as server:
        assert all(r.passed for r in _run(server, cache))
    assert list(tmp_path.glob("cache.sqlite.corrupt-*"))


def test_results_store_round_trip_and_failed_ids(tmp_path: Path) -> None:
    store = ResultsStore(tmp_path / "results.sqlite")
    results = [CaseResult("a", "a", 0, True, 1.0), CaseResult("b", "b", 0, False, 0.0), CaseResult("c", "c", 0, None, 0.0, error="boom")]
    run_id = store.record(prompt="p", revision="HEAD", commit="abc", blob="blob1", provider="echo", model=None, parameters={}, results=results, started=1.0)
    assert store.latest("p", blob="blob1").summary.short == "✗ 1/3"  # type: ignore[union-attr]
    assert store.failed_cases("p") == {("b", 0), ("c", 0)}
    assert [r.status for r in store.cases(run_id)] == ["pass", "fail", "error"]


def test_rerun_failed_runs_only_the_failed_one_of_two_cases_described_alike(tmp_path: Path) -> None:
    """The second of two tests described `same` failed: `--rerun-failed` ran both (the failed
    ones were known by description), and a run stored before `occurrence` existed reads the
    same way."""
    from workbench.services.evals import EvalSettings, select_cases

    twins = load_prompt(
        "model: {provider: openai, name: m}\ninputs:\n  q: {type: string}\nmessages:\n  - {role: user, content: '{{ q }}'}\n"
        "tests:\n  - {description: same, vars: {q: a}}\n  - {description: same, vars: {q: b}}\n  - {description: other, vars: {q: c}}\n",
        "prompts/twins.yaml",
    ).prompt
    assert twins is not None
    store = ResultsStore(tmp_path / "results.sqlite")
    results = [CaseResult("same", "same", 0, True, 1.0), CaseResult("same", "same", 0, False, 0.0, occurrence=1), CaseResult("other", "other", 0, True, 1.0)]
    store.record(prompt="twins", revision="HEAD", commit=None, blob=None, provider="echo", model=None, parameters={}, results=results, started=1.0)
    assert store.failed_cases("twins") == {("same", 1)}
    assert select_cases(twins, EvalSettings(rerun_failed=True), store.failed_cases("twins")) == [twins.tests[1]]
    store.close()


def test_shards_partition_the_cases() -> None:
    ids = [f"case {i}" for i in range(200)]
    shards = [{c for c in ids if shard_of("p", c, 4) == k} for k in range(4)]
    assert set().union(*shards) == set(ids) and sum(map(len, shards)) == 200
    assert all(len(s) > 20 for s in shards)


def test_reports_merge_and_render(tmp_path: Path) -> None:
    r1 = Report([SuiteReport("p", "HEAD", "echo", [CaseResult("a", "a", 0, True, 1.0)])], shard="1/2")
    r2 = Report([SuiteReport("p", "HEAD", "echo", [CaseResult("b", "b <x>", 0, False, 0.0, output="out")])], shard="2/2")
    write_json(r1, tmp_path / "1.json")
    write_json(r2, tmp_path / "2.json")
    merged = merge_reports([read_json(tmp_path / "1.json"), read_json(tmp_path / "2.json")])
    assert len(merged.suites) == 1 and len(merged.suites[0].results) == 2 and merged.failed
    write_junit(merged, tmp_path / "junit.xml")
    root = ET.parse(tmp_path / "junit.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None and suite.get("tests") == "2" and suite.get("failures") == "1"
    text = markdown(merged)
    assert "❌ `p`" in text and "<details>" in text
    comparison = compare_results("p", "A", [CaseResult("a", "a", 0, True, 1.0)], "B", [CaseResult("a", "a", 0, False, 0.0)])
    assert comparison.regressed == 1 and "regressed" in json.dumps(comparison.to_dict())
    assert "Regressions in" in markdown(Report([], [comparison.to_dict()]))


def test_merged_comparisons_are_computed_again_from_their_cases(tmp_path: Path) -> None:
    """Merging summed `cases`, `fixed` and `regressed` and kept the first report's summaries,
    p-value and verdict: the same report merged twice said 12 cases and 2 regressed for 6 cases
    and 1, while its suites (merged by case) said 6; two halves kept the first half's verdict."""
    a = [CaseResult(f"c{i}", f"c{i}", 0, i != 0, 1.0 if i != 0 else 0.0) for i in range(6)]
    b = [CaseResult(f"c{i}", f"c{i}", 0, i not in (1, 2), 0.0 if i in (1, 2) else 1.0) for i in range(6)]
    whole = compare_results("p", "A", a, "B", b)
    assert (len(whole.pairs), whole.fixed, whole.regressed) == (6, 1, 2)

    def report(cases: range) -> Report:
        part = compare_results("p", "A", [a[i] for i in cases], "B", [b[i] for i in cases]).to_dict()
        return Report([SuiteReport("p", "A", "echo", [a[i] for i in cases]), SuiteReport("p", "B", "echo", [b[i] for i in cases])], [part])

    paths = []
    for index, cases in enumerate((range(6), range(3), range(3, 6))):
        paths.append(tmp_path / f"{index}.json")
        write_json(report(cases), paths[-1])
    expected = {key: value for key, value in whole.to_dict().items() if key != "cases"}
    for merged_paths in ([paths[0], paths[0]], [paths[1], paths[2]], [paths[1], paths[0], paths[2]]):
        merged = merge_reports([read_json(path) for path in merged_paths])
        (comparison,) = merged.comparisons
        assert {key: value for key, value in comparison.items() if key != "cases"} == expected, merged_paths
        assert sorted(case["case_id"] for case in comparison["cases"]) == [f"c{i}" for i in range(6)]
        assert [case["change"] for case in comparison["cases"]].count("regressed") == 2
    assert merge_reports([read_json(paths[0])]).comparisons == [json.loads(paths[0].read_text())["comparisons"][0]]
    # Cases are read back to be compared again, so a malformed one is refused when read.
    for bad, said in (({"foo": 1}, "cases[0].a: 'case_id' is a required property"), ("x", "cases[0].a: 'x' is not of type 'object', 'null'")):
        data = json.loads(paths[0].read_text())
        data["comparisons"][0]["cases"][0]["a"] = bad
        paths[1].write_text(json.dumps(data))
        with pytest.raises(ValueError, match=re.escape(said)):
            read_json(paths[1])


def test_a_provider_that_names_no_cache_scope_keeps_the_keys_it_had() -> None:
    """The scope the local model adds to its keys does not invalidate other providers' caches."""
    import hashlib
    import json

    from workbench.evals.cache import cache_key

    request = {"messages": [{"role": "user", "content": "hi"}]}
    before = hashlib.sha256(json.dumps({"p": "openai:m@x", "params": {"temperature": 0}, "req": request, "r": 0}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert cache_key("openai:m@x", {"temperature": 0}, request, 0) == before
    assert cache_key("openai:m@x", {"temperature": 0}, request, 0, {"reading": 2}) != before
