"""Recording, ingest (torn and garbage lines, idempotence, OTLP), verdicts, OpenTelemetry, splits."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.cli.common import run_app
from workbench.core.split import choose_arm
from workbench.monitor.metrics import compare_versions, version_metrics
from workbench.monitor.recorder import Recorder
from workbench.monitor.store import MonitorStore
from workbench.services import deployment_events, deployments

PROMPT = SimpleNamespace(name="support/summarize", version="support/summarize@v2", commit="abc", env="prod", arm=None)


def _events(version: str, n: int, error_rate: float, latency: float, score: float, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        failed = rng.random() < error_rate
        out.append(
            {"call_id": f"{version}-{seed}-{i}", "ts": 1_700_000_000 + i, "name": "p", "version": version, "env": "prod", "arm": None,
             "latency_ms": rng.gauss(latency, latency * 0.2), "input_tokens": 100, "output_tokens": 50, "cost": 0.0001,
             "error": "timeout" if failed else None, "score": None if failed else min(1, max(0, rng.gauss(score, 0.1)))}
        )
    return out


def _write(path: Path, events: list[dict]) -> Path:
    path.write_text("".join(json.dumps(e) + "\n" for e in events))
    return path


def test_record_writes_whole_lines_from_many_threads(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "events.jsonl", otel=False)
    ids: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(500):
            call = recorder.record(PROMPT, latency_ms=12.5, input_tokens=10, output_tokens=5)
            with lock:
                ids.append(call)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    recorder.record_feedback(ids[0], feedback="up", score=1.0)
    recorder.flush()
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    assert len(events) == 4001
    assert {e["call_id"] for e in events if e.get("type") != "feedback"} == set(ids)
    assert events[0]["name"] == "support/summarize" and events[0]["version"] == "support/summarize@v2"


def test_ingest_skips_torn_and_garbage_lines_and_keeps_the_rest(tmp_path: Path) -> None:
    log = _write(tmp_path / "e.jsonl", _events("v1", 50, 0.0, 100, 0.9))
    with log.open("a") as handle:
        handle.write("not json at all\n")
        handle.write('{"no": "call id"}\n')
        handle.write('{"call_id": "torn", "name": "p", "ts": 1')  # crash mid-write
    store = MonitorStore(tmp_path / "m.sqlite")
    report = store.ingest([log])
    assert report.added == 50
    assert any(":51: not JSON" in p and p.endswith("skipped") for p in report.problems)
    assert any(":52: not a workbench event" in p for p in report.problems)
    assert any(":53: torn last line" in p for p in report.problems)
    again = store.ingest([log])
    assert again.added == 0 and store.count() == 50


def test_ingest_otlp_json_export(tmp_path: Path) -> None:
    def attr(key: str, value: object) -> dict:
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: value}}

    spans = [
        {"spanId": f"s{i}", "startTimeUnixNano": str(10**18 + i * 10**9), "endTimeUnixNano": str(10**18 + i * 10**9 + 250_000_000),
         "attributes": [attr("prompt.name", "p"), attr("prompt.version", "p@v1"), attr("gen_ai.usage.input_tokens", 12)]}
        for i in range(3)
    ]
    path = tmp_path / "traces.json"
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}))
    store = MonitorStore(tmp_path / "m.sqlite")
    assert store.ingest([path]).added == 3
    (row,) = version_metrics(store.db, "p")
    assert row.calls == 3 and row.latency_p50 == pytest.approx(250.0)


def test_verdict_flags_a_large_effect_and_not_noise(tmp_path: Path) -> None:
    store = MonitorStore(tmp_path / "m.sqlite")
    store.ingest([_write(tmp_path / "a.jsonl", _events("v1", 2000, 0.02, 800, 0.85, 1) + _events("v2", 2000, 0.10, 1600, 0.6, 2))])
    v1, v2 = version_metrics(store.db, "p")
    verdict = compare_versions(v1, v2)
    assert verdict.status == "regressed" and any("error rate" in r for r in verdict.reasons)
    store2 = MonitorStore(tmp_path / "n.sqlite")
    store2.ingest([_write(tmp_path / "b.jsonl", _events("v1", 2000, 0.02, 800, 0.85, 3) + _events("v2", 2000, 0.02, 800, 0.85, 4))])
    w1, w2 = version_metrics(store2.db, "p")
    assert compare_versions(w1, w2).status == "within noise"
    assert compare_versions(w2, w1).status == "within noise"


def test_otel_spans_use_gen_ai_conventions(tmp_path: Path) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    recorder = Recorder(tmp_path / "e.jsonl", otel=False, model="gpt-4o-mini")
    recorder._tracer = provider.get_tracer("test")
    recorder.record(PROMPT, latency_ms=120, input_tokens=30, output_tokens=7, error="timeout")
    recorder.flush()
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 30 and attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["prompt.name"] == "support/summarize" and attributes["prompt.version"] == "support/summarize@v2"
    assert attributes["error.type"] == "timeout"
    del trace


def test_split_proportions_within_chi_square_tolerance() -> None:
    n = 100_000
    canary = sum(choose_arm(f"user-{i}", 10, "deploy/prod/p/1") for i in range(n))
    expected = n * 0.10
    chi2 = (canary - expected) ** 2 / expected + ((n - canary) - (n - expected)) ** 2 / (n - expected)
    assert chi2 < 10.83  # p > 0.001 with one degree of freedom


def test_split_assignment_is_sticky_across_processes() -> None:
    keys = [f"user-{i}" for i in range(200)]
    here = [choose_arm(k, 25, "salt") for k in keys]
    code = f"from workbench.core.split import choose_arm; print([choose_arm(k, 25, 'salt') for k in {keys!r}])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123", "PATH": ""}).stdout
    assert str(here) == there.strip()


def test_monitor_cli_on_the_demo(demo_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = demo_repo
    assert run_app(["-C", str(root), "monitor", "--all", "--json"]) == 1
    reports = json.loads(capsys.readouterr().out)
    regressed = [r["prompt"] for r in reports if r["regressed"]]
    assert regressed == ["support/classify_intent"]
    assert run_app(["-C", str(root), "monitor", "support/summarize", "--since", "100w"]) == 0
    assert "improved" in capsys.readouterr().out
    assert run_app(["-C", str(root), "monitor", "support/summarize", "--since", "soon"]) == 2


def test_canary_split_end_to_end(prompt_repo: Path, tmp_path: Path) -> None:
    from workbench import PromptRepo
    from workbench.services import monitor as service
    from workbench.services.session import RepoSession

    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("three short", "two short"))
    subprocess.run(["git", "commit", "-qam", "v2"], cwd=prompt_repo, check=True)
    with RepoSession.open(prompt_repo) as ws:
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="v1")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="try v2 on 10%", split_percent=10)
    repo = PromptRepo(prompt_repo)
    recorder = Recorder(tmp_path / "e.jsonl", otel=False)
    arms = {"stable": 0, "canary": 0}
    for i in range(3000):
        prompt = repo.get("support/summarize", env="prod", key=f"user-{i}")
        arms[prompt.arm] += 1
        canary = prompt.arm == "canary"
        recorder.record(prompt.render(ticket="x"), latency_ms=900 if canary else 800, error="boom" if canary and i % 5 == 0 else None, score=0.8)
    recorder.flush()
    assert 200 < arms["canary"] < 400
    again = repo.get("support/summarize", env="prod", key="user-7")
    assert again.arm == repo.get("support/summarize", env="prod", key="user-7").arm
    service.ingest(prompt_repo, [tmp_path / "e.jsonl"])
    with RepoSession.open(prompt_repo) as ws:
        report = service.report(ws, "support/summarize", "prod")
        assert {v.arm for v in report.versions} == {"stable", "canary"}
        assert report.canary is not None and report.canary.regressed
        deployments.finish(ws, "support/summarize", "prod", reason="canary failed? no: finish for the test")
        assert deployment_events.current_event(ws, "support/summarize", "prod").canary is None  # type: ignore[union-attr]
