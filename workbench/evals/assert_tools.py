"""`is-valid-openai-tools-call` / `is-valid-openai-function-call` with promptfoo's rules.

The tool (function) definitions come from, in order: the assertion's `value` (a list of OpenAI
tools, or `{tools: [...]}` / `{functions: [...]}`), then the prompt's own definitions that the
runner passes in `GradingContext.tools` / `.functions` (a prompt's `tools:` field; issue 14 plugs
prompt-level tools in there). Arguments are JSON-parsed and validated against the function's
`parameters` with ajv's rules (`jsonschema_js`).
"""

from __future__ import annotations

import re
from typing import Any

from workbench.core.jsvalues import json_parse, stringify
from workbench.evals.jsonschema_js import SchemaCompileError, compile_schema


def _json_error(text: str) -> str:
    try:
        json_parse(text)
    except ValueError as err:
        return f"{err}"
    return ""


def _validate_call(call: Any, functions: list[dict[str, Any]]) -> None:
    name = call.get("name")
    arguments_text = call.get("arguments")
    try:
        arguments = json_parse(arguments_text)
    except ValueError:
        raise ValueError(f"{arguments_text!r} is not valid JSON ({_json_error(arguments_text)})") from None
    schema = next((f.get("parameters") for f in functions if isinstance(f, dict) and f.get("name") == name), None)
    if not schema:
        raise ValueError(f'Called "{name}", but there is no function with that name')
    try:
        validator = compile_schema(schema)
    except SchemaCompileError as err:
        raise ValueError(f"the parameters schema of {name} does not compile: {err}") from None
    errors = [e.message for e in validator.iter_errors(arguments)]
    if errors:
        raise ValueError(f'Call to "{name}" does not match schema: {"; ".join(errors[:3])}')


def check_tools_call(output: Any, tools: list[Any] | None) -> tuple[bool, str]:
    text = output if isinstance(output, str) else stringify(output)
    if "MCP Tool Result" in text or "MCP Tool Error" in text:
        if "MCP Tool Error" in text:
            match = re.search(r"MCP Tool Error \(([^)]+)\): (.+)", text)
            return False, f"MCP tool call failed for {match[1] if match else 'unknown'}: {match[2] if match else 'unknown error'}"
        match = re.search(r"MCP Tool Result \(([^)]+)\):", text)
        return True, f"MCP tool call succeeded for {match[1] if match else 'unknown'}"
    if isinstance(output, dict) and "tool_calls" in output:
        output = output["tool_calls"]
    if (
        not isinstance(output, list)
        or not output
        or any(not isinstance(c, dict) or not isinstance(c.get("function"), dict) or not isinstance(c["function"].get("name"), str) or not isinstance(c["function"].get("arguments"), str) for c in output)
    ):
        return False, f"OpenAI did not return a valid-looking tools response: {stringify(output)[:200]}"
    if tools is None:
        return False, "No tools configured in provider, but output contains tool calls"
    functions = [t["function"] for t in tools if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)]
    try:
        for call in output:
            _validate_call(call["function"], functions)
    except ValueError as err:
        return False, str(err)
    return True, "valid tool calls"


def check_function_call(output: Any, functions: list[Any] | None) -> tuple[bool, str]:
    if isinstance(output, dict) and "function_call" in output:
        output = output["function_call"]
    if not isinstance(output, dict) or not isinstance(output.get("name"), str) or not isinstance(output.get("arguments"), str):
        return False, f"OpenAI did not return a valid-looking function call: {stringify(output)[:200]}"
    try:
        _validate_call(output, list(functions or []))
    except ValueError as err:
        return False, str(err)
    return True, "valid function call"


def definitions_from_value(value: Any, key: str) -> list[Any] | None:
    """Tool or function definitions given on the assertion itself."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get(key), list):
        return list(value[key])
    return None
