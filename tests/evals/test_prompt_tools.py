"""Top-level `tools`, `tool_choice` and `response_format` against the local OpenAI-protocol server:
sent exactly, tool calls judged against the prompt's own schemas, the answer checked against the
response schema in its own row, echo saying what it would have sent, validation with positions,
field-aware diffs, and the runtime's `openai_kwargs()` equal to what a test run sends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app
from workbench.core.diff import diff_prompt_texts
from workbench.core.loader import load_prompt

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "refund_order",
            "description": "Refund an order",
            "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "reason": {"type": "string"}}, "required": ["order_id"], "additionalProperties": False},
            "strict": True,
        },
    },
    {"type": "function", "function": {"name": "lookup_order", "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}}}},
]
CHOICE = {"type": "function", "function": {"name": "refund_order"}}
SCHEMA = {"type": "object", "properties": {"category": {"type": "string", "enum": ["billing", "bug", "other"]}, "urgent": {"type": "boolean"}}, "required": ["category", "urgent"], "additionalProperties": False}
FORMAT = {"type": "json_schema", "json_schema": {"name": "triage", "schema": SCHEMA, "strict": True}}


def _repo(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "prompts" / "p.yaml").write_text(body, encoding="utf-8")
    return root


def _prompt(base_url: str, extra: str, asserts: str, provider: str = "openai") -> str:
    model = f"model:\n  provider: {provider}\n  name: gpt-4o-mini\n  base_url: {base_url}\n  api_key_env: FAKE_KEY\n  parameters: {{temperature: 0}}\n" if provider == "openai" else f"model: {{provider: {provider}}}\n"
    return (
        model + extra + "inputs: {ticket: {type: string}}\n"
        "messages:\n  - {role: user, content: 'Ticket: {{ ticket }}'}\n"
        "tests:\n  - description: refund\n    vars: {ticket: refund order 1234}\n    assert:\n" + asserts
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-fake")


def _case(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    run_app(["-C", str(root), "test", "p", "--no-cache", "--json"])
    return json.loads(capsys.readouterr().out)["suites"][0]["cases"][0]  # type: ignore[no-any-return]


def _fields() -> str:
    return f"tools: {json.dumps(TOOLS)}\ntool_choice: {json.dumps(CHOICE)}\n"


def _call(arguments: dict[str, Any], name: str = "refund_order") -> list[dict[str, Any]]:
    return [{"id": "call_1", "type": "function", "function": {"name": name, "arguments": json.dumps(arguments)}}]


def test_tools_and_tool_choice_reach_the_request_body_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(tool_calls=lambda body: _call({"order_id": "1234"})) as server:
        root = _repo(tmp_path, _prompt(server.base_url, _fields(), "      - type: is-valid-openai-tools-call\n"))
        case = _case(root, capsys)
        body = server.bodies[-1]
    assert body["tools"] == TOOLS and body["tool_choice"] == CHOICE and "response_format" not in body
    assert case["status"] == "pass", case
    assert json.loads(case["output"])[0]["function"] == {"name": "refund_order", "arguments": '{"order_id": "1234"}'}


def test_a_tool_call_with_bad_arguments_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(tool_calls=lambda body: _call({"order": 1234})) as server:
        root = _repo(tmp_path, _prompt(server.base_url, _fields(), "      - type: is-valid-openai-tools-call\n"))
        case = _case(root, capsys)
    assert case["status"] == "fail"
    assert 'Call to "refund_order" does not match schema' in case["asserts"][0]["reason"]


ARGS_ASSERTS = (
    "      - type: tool-call-f1\n        value: [refund_order]\n"
    "      - type: trajectory:tool-args-match\n        value: {name: refund_order, args: {order_id: '1234'}}\n"
    "      - type: equals\n        transform: json.loads(output[0]['function']['arguments'])['order_id']\n        value: '1234'\n"
)


@pytest.mark.parametrize(("arguments", "name", "expected"), [({"order_id": "1234", "reason": "late"}, "refund_order", ["pass", "pass", "pass"]), ({"order_id": "99"}, "refund_order", ["pass", "fail", "fail"]), ({"order_id": "1234"}, "lookup_order", ["fail", "fail", "pass"])])
def test_expecting_a_named_tool_with_given_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: dict[str, Any], name: str, expected: list[str]) -> None:
    with FakeOpenAI(tool_calls=lambda body: _call(arguments, name)) as server:
        root = _repo(tmp_path, _prompt(server.base_url, f"tools: {json.dumps(TOOLS)}\n", ARGS_ASSERTS))
        case = _case(root, capsys)
    assert ["pass" if a["pass"] else "fail" for a in case["asserts"]] == expected, case["asserts"]


def test_response_format_reaches_the_body_and_a_schema_break_is_its_own_failed_row(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    answers = iter(['{"category": "billing", "urgent": true}', '{"category": "refund", "urgent": "yes"}', "Sure! It is billing."])
    with FakeOpenAI(reply=lambda body: next(answers)) as server:
        root = _repo(tmp_path, _prompt(server.base_url, f"response_format: {json.dumps(FORMAT)}\n", "      - type: contains\n        value: billing\n"))
        good = _case(root, capsys)
        assert server.bodies[-1]["response_format"] == FORMAT and "tools" not in server.bodies[-1]
        bad = _case(root, capsys)
        prose = _case(root, capsys)
    assert good["status"] == "pass" and [a["type"] for a in good["asserts"]] == ["response_format", "contains"]
    assert bad["status"] == "fail" and bad["asserts"][0]["type"] == "response_format" and not bad["asserts"][0]["pass"]
    assert "does not conform" in bad["asserts"][0]["reason"] and bad["asserts"][1]["pass"] is False
    assert prose["asserts"][0]["type"] == "response_format" and "valid JSON" in prose["asserts"][0]["reason"]


def test_echo_says_what_it_would_have_sent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _repo(tmp_path, _prompt("", _fields() + f"response_format: {json.dumps(FORMAT)}\n", "      - type: contains\n        value: refund_order(order_id, reason)\n", provider="echo"))
    case = _case(root, capsys)
    assert case["output"].endswith(
        "[would also send]\ntool refund_order(order_id, reason)\ntool lookup_order(order_id)\n"
        'tool_choice: {"type": "function", "function": {"name": "refund_order"}}\nresponse_format: json_schema triage'
    )
    assert case["asserts"][0]["type"] == "response_format" and case["asserts"][1]["pass"]


def test_render_json_and_the_runtime_give_what_a_run_sends(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.runtime import PromptRepo

    with FakeOpenAI(tool_calls=lambda body: _call({"order_id": "1234"})) as server:
        root = _repo(tmp_path, _prompt(server.base_url, _fields(), "      - type: is-valid-openai-tools-call\n"))
        _case(root, capsys)
        body = server.bodies[-1]
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "p"], check=True)
    with PromptRepo(root) as prompts:
        kwargs = prompts.get("p", rev="HEAD").render(ticket="refund order 1234").openai_kwargs()
    assert kwargs == {key: body[key] for key in ("messages", "tools", "tool_choice")}
    assert run_app(["-C", str(root), "render", "p", "--var", "ticket=x", "--json"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert rendered["tools"] == TOOLS and rendered["tool_choice"] == CHOICE


def test_validate_checks_tools_with_positions(tmp_path: Path) -> None:
    text = (
        "tools:\n"
        "  - type: function\n    function:\n      name: refund_order\n      parameters: {type: object, properties: {id: {type: strng}}}\n"
        "  - type: function\n    function:\n      name: refund_order\n"
        "  - type: function\n    function:\n      name: bad name\n"
        "tool_choice: {type: function, function: {name: cancel}}\n"
        "response_format: {type: json_schema, json_schema: {name: t, schema: {type: object, required: yes}}}\n"
        "messages: [{role: user, content: hi}]\n"
    )
    problems = [p.format() for p in load_prompt(text, "prompts/p.yaml").problems]
    assert any(p.startswith("prompts/p.yaml:5:") and "tool refund_order: parameters is not a valid JSON Schema" in p for p in problems), problems
    assert any(p.startswith("prompts/p.yaml:8:13:") and "two tools are named 'refund_order' (first at line 4)" in p for p in problems), problems
    assert any(p.startswith("prompts/p.yaml:11:13:") and "does not match" in p for p in problems), problems
    assert any(p.startswith("prompts/p.yaml:12:") and "tool_choice names 'cancel'" in p for p in problems), problems
    assert any(p.startswith("prompts/p.yaml:13:") and "response_format: schema is not a valid JSON Schema" in p for p in problems), problems
    alone = load_prompt("tool_choice: auto\nmessages: [{role: user, content: hi}]\n", "prompts/p.yaml").problems
    assert [p.message for p in alone] == ["tool_choice is set but the prompt declares no tools"]


def test_the_diff_has_a_section_per_tool_and_for_the_formats() -> None:
    before = f"tools: {json.dumps(TOOLS)}\nresponse_format: {json.dumps(FORMAT)}\nmessages: [{{role: user, content: hi}}]\n"
    changed_tools = json.loads(json.dumps(TOOLS))
    changed_tools[0]["function"]["parameters"]["required"] = ["order_id", "reason"]
    changed_tools.append({"type": "function", "function": {"name": "escalate"}})
    after = f"tools: {json.dumps(changed_tools[1:] + changed_tools[:1])}\ntool_choice: required\nresponse_format: {{type: json_object}}\nmessages: [{{role: user, content: hi}}]\n"
    diff = diff_prompt_texts(before, after, name="p")
    titles = [s.title for s in diff.changed_sections]
    assert titles == ["tool escalate · added", "tool refund_order · parameters changed", "tool_choice", "response_format"]  # in the new file's order
    section = diff.changed_sections[1]
    assert [p.right for p in section.diff.pairs if p.kind != "equal"] == ["  - reason"]
    assert [s.title for s in diff.sections if s.status == "unchanged"] == ["metadata", "message 1 (user)", "tool lookup_order"]


def test_a_streamed_tool_call_is_graded_and_cached_like_a_plain_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--stream` dropped the tool calls (the answer was ""), and that empty answer was cached and
    served to the next plain run. Streamed tool calls are assembled; the cached answer is the same."""
    with FakeOpenAI(tool_calls=lambda body: _call({"order_id": "1234"})) as server:
        root = _repo(tmp_path, _prompt(server.base_url, f"tools: {json.dumps(TOOLS)}\n", ARGS_ASSERTS))
        assert run_app(["-C", str(root), "test", "p", "--stream", "--json"]) == 0
        streamed = json.loads(capsys.readouterr().out)["suites"][0]["cases"][0]
        assert run_app(["-C", str(root), "test", "p", "--json"]) == 0
        cached = json.loads(capsys.readouterr().out)["suites"][0]["cases"][0]
        assert server.requests == 1 and server.bodies[0]["stream"] is True
    assert streamed["tool_calls"] == cached["tool_calls"] == [{"name": "refund_order", "arguments": '{"order_id": "1234"}'}]
    assert cached["cached"] and cached["status"] == "pass"


def test_a_streamed_tool_call_answer_is_the_same_text_as_the_plain_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plain run output `[{"id":…,"type":"function","function":…}]` and a streamed one
    `[{"id":…,"function":…,"type":"function"}]` (the SDK's field order): one cache entry for both,
    so `equals`/`contains`/`regex` on a tool-calling prompt depended on which run filled it."""
    exact = json.dumps(_call({"order_id": "1234"}), separators=(",", ":"))
    asserts = f"      - type: equals\n        value: {json.dumps(exact)}\n"
    with FakeOpenAI(tool_calls=lambda body: _call({"order_id": "1234"})) as server:
        root = _repo(tmp_path, _prompt(server.base_url, f"tools: {json.dumps(TOOLS)}\n", asserts))
        outputs = []
        for extra in ([], ["--stream"]):
            run_app(["-C", str(root), "test", "p", "--no-cache", "--json", *extra])
            outputs.append(json.loads(capsys.readouterr().out)["suites"][0]["cases"][0])
    plain, streamed = outputs
    assert plain["output"].encode() == streamed["output"].encode()
    assert plain["status"] == streamed["status"] == "pass", streamed


def test_tool_calls_are_shown_in_reports_and_the_case_screen(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.tui.screens.case import _column

    with FakeOpenAI(tool_calls=lambda body: _call({"order_id": "99"})) as server:
        root = _repo(tmp_path, _prompt(server.base_url, f"tools: {json.dumps(TOOLS)}\n", ARGS_ASSERTS))
        code = run_app(["-C", str(root), "test", "p", "--no-cache", "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "r.md"), "--json-file", str(tmp_path / "r.json")])
    assert code == 1
    assert 'called refund_order({"order_id": "99"})' in capsys.readouterr().out
    assert 'tool calls:\nrefund_order({"order_id": "99"})' in (tmp_path / "j.xml").read_text().replace("&quot;", '"')
    assert "(called `refund_order(" in (tmp_path / "r.md").read_text()
    case = json.loads((tmp_path / "r.json").read_text())["suites"][0]["cases"][0]
    assert case["tool_calls"] == [{"name": "refund_order", "arguments": '{"order_id": "99"}'}]
    from workbench.evals.runner import CaseResult

    shown = _column(CaseResult.from_dict(case)).plain
    assert 'tool calls:\nrefund_order({"order_id": "99"})' in shown


def test_changing_one_render_s_request_fields_never_reaches_another(tmp_path: Path) -> None:
    """An application that adjusts a tool or the schema for one request changed the cached
    prompt, so every later request in the process sent the change."""
    from workbench.runtime import PromptRepo

    root = _repo(tmp_path, _prompt("http://127.0.0.1:9", _fields() + f"response_format: {json.dumps(FORMAT)}\n", "      - type: is-json\n"))
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "p"], check=True)
    with PromptRepo(root) as prompts:
        rendered = prompts.get("p", rev="HEAD").render(ticket="x")
        kwargs = rendered.openai_kwargs()
        kwargs["tools"][0]["function"]["name"] = "HACKED"
        kwargs["tool_choice"]["function"]["name"] = "HACKED"
        kwargs["response_format"]["json_schema"]["schema"]["required"].append("HACKED")
        assert rendered.openai_kwargs()["tools"] == TOOLS  # a second call on the same render too
        assert rendered.tools is not None and rendered.response_format is not None
        rendered.tools[0]["function"]["name"] = "HACKED"
        rendered.response_format["json_schema"]["name"] = "HACKED"
        again = prompts.get("p", rev="HEAD").render(ticket="y")
        assert again.openai_kwargs() == {"messages": [{"role": "user", "content": "Ticket: y"}], "tools": TOOLS, "tool_choice": CHOICE, "response_format": FORMAT}
        assert prompts.get("p", rev="HEAD").prompt.tools[0]["function"]["name"] == "refund_order"  # type: ignore[index]
