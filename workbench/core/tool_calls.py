"""The tool calls in a recorded output, for people to read (case screen, reports, CLI).

A run records a tool-calling answer as promptfoo does: the OpenAI `tool_calls` list as JSON text
(`CaseResult.output`). This reads it back as (tool name, arguments text) pairs.
"""

from __future__ import annotations

import json
from typing import Any


def tool_calls_in(output: str) -> list[tuple[str, str]]:
    """(name, arguments) of each OpenAI tool call (or legacy function call) an output holds; []
    when the output is an ordinary text answer."""
    if not output or output[0] not in "[{":
        return []
    try:
        value: Any = json.loads(output)
    except ValueError:
        return []
    items = value if isinstance(value, list) else [value]
    calls = []
    for item in items:
        function = item.get("function", item) if isinstance(item, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str) or "arguments" not in function:
            return []
        arguments = function["arguments"]
        calls.append((function["name"], arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)))
    return calls


def describe_tool_calls(output: str) -> str:
    """`refund_order({"order_id": "1234"})`, one call per line ("" for a text answer)."""
    return "\n".join(f"{name}({arguments})" for name, arguments in tool_calls_in(output))
