"""Tool calls and logprobs from a real OpenAI-protocol endpoint reach the assertions: the
prompt's tool definitions (here in `model.parameters.tools`) judge `is-valid-openai-tools-call`,
and token logprobs feed `perplexity` / `perplexity-score`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _repo(tmp_path: Path, base_url: str, asserts: str, *, logprobs: bool = False) -> Path:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    parameters = {"tools": TOOLS, "temperature": 0}
    if logprobs:
        parameters = {"logprobs": True}
    (root / "prompts" / "weather.yaml").write_text(
        "model:\n"
        f"  provider: openai\n  name: gpt-4o-mini\n  base_url: {base_url}\n  api_key_env: FAKE_KEY\n"
        f"  parameters: {json.dumps(parameters)}\n"
        "inputs: {city: {type: string}}\n"
        "messages:\n  - {role: user, content: 'Weather in {{ city }}?'}\n"
        "tests:\n  - description: paris\n    vars: {city: Paris}\n    assert:\n" + asserts,
        encoding="utf-8",
    )
    return root


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake")


def _run(root: Path, capsys: pytest.CaptureFixture[str]) -> dict:  # type: ignore[type-arg]
    run_app(["-C", str(root), "test", "weather", "--no-cache", "--json"])
    return json.loads(capsys.readouterr().out)["suites"][0]["cases"][0]  # type: ignore[no-any-return]


def test_tool_calls_are_validated_against_the_prompts_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def calls(body: dict) -> list:  # type: ignore[type-arg]
        city = "Paris" if "Paris" in body["messages"][-1]["content"] else None
        args = json.dumps({"city": city} if city else {})
        return [{"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": args}}]

    with FakeOpenAI(tool_calls=calls) as server:
        root = _repo(tmp_path, server.base_url, "      - type: is-valid-openai-tools-call\n      - type: contains\n        value: get_weather\n")
        case = _run(root, capsys)
        assert server.bodies[-1]["tools"] == TOOLS
    assert case["status"] == "pass", case
    assert json.loads(case["output"])[0]["function"]["name"] == "get_weather"


def test_a_call_that_breaks_the_schema_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(tool_calls=lambda body: [{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]) as server:
        root = _repo(tmp_path, server.base_url, "      - type: is-valid-openai-tools-call\n")
        case = _run(root, capsys)
    assert case["status"] == "fail" and "does not match schema" in case["asserts"][0]["reason"]


def test_logprobs_feed_perplexity(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(reply=lambda body: "sunny and warm") as server:  # logprobs -0.1, -0.2, -0.3
        root = _repo(tmp_path, server.base_url, "      - type: perplexity\n        threshold: 1.3\n      - type: perplexity-score\n        threshold: 0.45\n", logprobs=True)
        case = _run(root, capsys)
    assert case["status"] == "pass", case
    assert case["asserts"][1]["score"] == pytest.approx(1 / (1 + 2.718281828459045 ** 0.2))


def test_no_logprobs_errors_the_case_like_promptfoo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as server:
        root = _repo(tmp_path, server.base_url, "      - type: perplexity\n        threshold: 2\n")
        case = _run(root, capsys)
    assert case["status"] == "error" and "logProbs" in case["error"]
