"""A prompt's `tools`, `tool_choice` and `response_format` for the providers that are not OpenAI.

- `echo` says what it would also have sent (`describe_fields`), after the rendered prompt.
- `local` (the tiny offline demo model) honours them by constrained decoding (mistralrs's JSON
  Schema grammar): with a JSON Schema `response_format` the answer matches the schema; with tools
  (and `tool_choice` other than `none`) the model must answer `{"name": ..., "arguments": {...}}`
  for one of the allowed tools, which becomes an OpenAI-shaped tool call. A 135M model cannot
  decide *whether* to call a tool, so with tools it always calls one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def describe_fields(fields: Mapping[str, Any]) -> str:
    """What echo says it would also have sent: one line per tool, the tool choice, the format."""
    lines = ["[would also send]"]
    for tool in fields.get("tools") or ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict):
            parameters = function.get("parameters")
            properties = parameters.get("properties") if isinstance(parameters, dict) else None
            arguments = ", ".join(str(k) for k in properties) if isinstance(properties, dict) else ""
            lines.append(f"tool {function.get('name')}({arguments})")
    if "tool_choice" in fields:
        lines.append("tool_choice: " + json.dumps(fields["tool_choice"], ensure_ascii=False))
    response_format = fields.get("response_format")
    if isinstance(response_format, dict):
        spec = response_format.get("json_schema")
        name = f" {spec.get('name')}" if isinstance(spec, dict) and spec.get("name") else ""
        lines.append(f"response_format: {response_format.get('type')}{name}")
    return "\n".join(lines)


def _functions(fields: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The functions the model may call under `tool_choice` (none for `none`)."""
    choice = fields.get("tool_choice")
    if choice == "none":
        return []
    functions = [t["function"] for t in fields.get("tools") or () if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        functions = [f for f in functions if f.get("name") == choice["function"].get("name")]
    return functions


def local_grammar(fields: Mapping[str, Any]) -> str | None:
    """The JSON Schema the local model's answer is constrained to, as text (None: free text)."""
    functions = _functions(fields)
    if functions:
        options = [
            {
                "type": "object",
                "properties": {"name": {"type": "string", "enum": [f.get("name")]}, "arguments": f.get("parameters") or {"type": "object"}},
                "required": ["name", "arguments"],
                "additionalProperties": False,
            }
            for f in functions
        ]
        return json.dumps(options[0] if len(options) == 1 else {"anyOf": options})
    response_format = fields.get("response_format")
    if isinstance(response_format, dict):
        if response_format.get("type") == "json_object":
            return json.dumps({"type": "object"})
        spec = response_format.get("json_schema")
        if response_format.get("type") == "json_schema" and isinstance(spec, dict) and isinstance(spec.get("schema"), dict):
            return json.dumps(spec["schema"])
    return None


# The system message the local model gets before the tools it may call (part of its cache keys).
TOOL_INSTRUCTION = 'Call one of these tools. Answer with JSON: {"name": tool name, "arguments": {...}}.'


def local_messages(messages: list[dict[str, str]], fields: Mapping[str, Any]) -> list[dict[str, str]]:
    """The messages, with the callable tools described in a system message first."""
    functions = _functions(fields)
    if not functions:
        return messages
    lines = [TOOL_INSTRUCTION]
    for function in functions:
        lines.append(f"- {function.get('name')}: {function.get('description') or ''} arguments: {json.dumps(function.get('parameters') or {})}")
    return [{"role": "system", "content": "\n".join(lines)}, *messages]


def local_tool_calls(text: str, fields: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The local model's constrained answer as OpenAI tool calls (None when no tool was callable)."""
    if not _functions(fields):
        return None
    try:
        answer = json.loads(text)
    except ValueError:
        return None
    if not isinstance(answer, dict) or not isinstance(answer.get("name"), str):
        return None
    arguments = json.dumps(answer.get("arguments", {}), ensure_ascii=False)
    return [{"id": "call_local_1", "type": "function", "function": {"name": answer["name"], "arguments": arguments}}]
