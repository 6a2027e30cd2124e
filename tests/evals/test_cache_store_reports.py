"""Cache hits and corruption, the results store, shards, reports."""

from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from pathlib import Path

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
    assert store.failed_case_ids("p") == {"b", "c"}
    assert [r.status for r in store.cases(run_id)] == ["pass", "fail", "error"]


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


def test_a_provider_that_names_no_cache_scope_keeps_the_keys_it_had() -> None:
    """The scope the local model adds to its keys does not invalidate other providers' caches."""
    import hashlib
    import json

    from workbench.evals.cache import cache_key

    request = {"messages": [{"role": "user", "content": "hi"}]}
    before = hashlib.sha256(json.dumps({"p": "openai:m@x", "params": {"temperature": 0}, "req": request, "r": 0}, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    assert cache_key("openai:m@x", {"temperature": 0}, request, 0) == before
    assert cache_key("openai:m@x", {"temperature": 0}, request, 0, {"reading": 2}) != before
