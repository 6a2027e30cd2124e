"""Expecting a named tool (with given arguments): `tool-call-f1` and `trajectory:tool-args-match`.

Both follow promptfoo 0.123.1 (`src/assertions/toolCallF1.ts`, `trajectory.ts`):

- `tool-call-f1` (value: tool names, a list or `"a, b"`): F1 of the set of tools called against
  the set expected; passes at `threshold` (default 1: exactly the expected tools). Tool calls
  are read from the output as promptfoo does: OpenAI `tool_calls` (object or list), Responses
  `function_call`, Anthropic `tool_use`, Gemini `functionCall`, `{name}` items, or JSON text of
  those. Difference: in text mixing prose and JSON, every balanced `{...}` / `[...]` that parses
  is read (promptfoo reads blocks that start and end a line).
- `trajectory:tool-args-match` (value: `{name or pattern, args, mode: partial|exact, defaults,
  ignore}`): some call of that tool has those arguments (`partial`: the expected keys, recursively;
  `exact`: deep equality after removing ignored keys and arguments equal to their defaults).
  Difference: promptfoo reads the calls from a trace of an agent's spans; here they are the
  answer's tool calls, which is the whole trajectory of one request.
"""

from __future__ import annotations

import json
import re
from typing import Any

from workbench.core.jsvalues import json_parse
from workbench.evals.assert_values import AssertionConfigError


def _json_blocks(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    while index < len(text):
        start = min((i for i in (text.find("{", index), text.find("[", index)) if i >= 0), default=-1)
        if start < 0:
            break
        try:
            value, end = decoder.raw_decode(text, start)
        except ValueError:
            index = start + 1
            continue
        found.append(value)
        index = end
    return found


def tool_calls(output: Any) -> list[tuple[str, Any]]:
    """(name, arguments) of every tool call in an output (arguments parsed from JSON when they are text)."""
    if isinstance(output, str):
        try:
            parsed = json_parse(output)
        except ValueError:
            return [call for block in _json_blocks(output) for call in tool_calls(block)]
        return tool_calls(parsed) if not isinstance(parsed, str) else []
    if isinstance(output, list):
        return [call for item in output if isinstance(item, dict) for call in _listed(item)]
    if not isinstance(output, dict):
        return []
    if isinstance(output.get("tool_calls"), list):
        found: list[tuple[str, Any]] = []
        for call in output["tool_calls"]:
            if isinstance(call, dict):
                function = call.get("function")
                if isinstance(function, dict) and isinstance(function.get("name"), str):
                    found.append((function["name"], _arguments(function.get("arguments"))))
                if isinstance(call.get("name"), str):
                    found.append((call["name"], _arguments(call.get("arguments"))))
        return found
    if output.get("type") in ("tool_use", "function_call") and isinstance(output.get("name"), str):
        return [(output["name"], _arguments(output.get("input", output.get("arguments"))))]
    if isinstance(output.get("functionCall"), dict):
        call = output["functionCall"]
        return [(call["name"], call.get("args"))] if isinstance(call.get("name"), str) else []
    if isinstance(output.get("toolCall"), dict):
        calls = output["toolCall"].get("functionCalls")
        return [(c["name"], c.get("args")) for c in calls or () if isinstance(c, dict) and isinstance(c.get("name"), str)]
    return []


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _listed(item: dict[str, Any]) -> list[tuple[str, Any]]:
    """One item of a list of calls: Anthropic, Gemini, OpenAI or a plain `{name}`."""
    if item.get("type") == "tool_use" and isinstance(item.get("name"), str):
        return [(item["name"], item.get("input"))]
    if isinstance(item.get("functionCall"), dict):
        call = item["functionCall"]
        return [(call["name"], call.get("args"))] if isinstance(call.get("name"), str) else []
    if isinstance(item.get("function"), dict):
        function = item["function"]
        return [(function["name"], _arguments(function.get("arguments")))] if isinstance(function.get("name"), str) else []
    if isinstance(item.get("name"), str):
        return [(item["name"], _arguments(item.get("arguments")))]
    return []


def tool_call_f1(value: Any, output: Any, threshold: float | None, inverse: bool) -> tuple[bool, float, str]:
    if isinstance(value, list):
        expected_list = [str(v).strip() for v in value]
    elif isinstance(value, str):
        expected_list = [v.strip() for v in value.split(",")]
    else:
        raise AssertionConfigError('"tool-call-f1" assertion requires a value: array of tool names or comma-separated string')
    expected = {name for name in expected_list if name}
    if not expected:
        raise AssertionConfigError('"tool-call-f1" assertion requires at least one expected tool name')
    actual = {name for name, _ in tool_calls(output)}
    hits = len(expected & actual)
    precision = hits / len(actual) if actual else 0.0
    recall = hits / len(expected)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    limit = 1.0 if threshold is None else threshold
    passed = (f1 >= limit) != inverse
    wanted, called = ", ".join(sorted(expected)), ", ".join(sorted(actual)) or "(none)"
    if passed:
        return True, f1, f"Tool Call F1: {f1:.3f} (precision={precision:.3f}, recall={recall:.3f}). Expected: [{wanted}], Called: [{called}]"
    return False, f1, f"Tool Call F1 score {f1:.3f} is {'above' if inverse else 'below'} threshold {limit:g}. Expected: [{wanted}], Called: [{called}]. Precision={precision:.3f}, Recall={recall:.3f}"


def _glob(pattern: str, name: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", ".*").replace(r"\?", ".")
    return re.fullmatch(regex, name, re.IGNORECASE) is not None


def _partial(actual: Any, expected: Any) -> bool:
    if isinstance(expected, list):
        return isinstance(actual, list) and len(actual) == len(expected) and all(_partial(a, e) for a, e in zip(actual, expected, strict=True))
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and _partial(actual[k], v) for k, v in expected.items())
    return _same(actual, expected)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _strip(value: Any, drop: Any) -> Any:
    return {k: v for k, v in value.items() if not drop(k, v)} if isinstance(value, dict) else value


def tool_args_match(value: Any, output: Any, inverse: bool) -> tuple[bool, float, str]:
    name = "trajectory:tool-args-match"
    if not isinstance(value, dict):
        raise AssertionConfigError(f"{name} assertion must have an object value")
    pattern = value.get("pattern") or value.get("name")
    if not pattern:
        raise AssertionConfigError(f"{name} assertion object must include a name or pattern property")
    expected = value["args"] if "args" in value else value.get("arguments")
    if expected is None and "args" not in value and "arguments" not in value:
        raise AssertionConfigError(f"{name} assertion must include an args or arguments property")
    mode = value.get("mode", "partial")
    if mode not in ("partial", "exact"):
        raise AssertionConfigError(f'{name} assertion mode must be "partial" or "exact"')
    defaults = value.get("defaults")
    if defaults is not None and not isinstance(defaults, dict):
        raise AssertionConfigError(f"{name} assertion defaults must be an object mapping argument names to default values")
    ignore = value.get("ignore", [])
    ignore = ignore if isinstance(ignore, list) else [ignore]
    if any(not isinstance(i, str) or not i.strip() for i in ignore):
        raise AssertionConfigError(f"{name} assertion ignore must be a non-empty string or an array of non-empty strings")

    def ignored(key: str, _value: Any) -> bool:
        return any(entry == key or (re.search(r"[*?]", entry) and _glob(entry, key)) for entry in ignore)

    def matches(actual: Any) -> bool:
        cleaned = _strip(_strip(actual, ignored), lambda k, v: defaults is not None and k in defaults and _same(v, defaults[k]))
        wanted = _strip(expected, ignored)
        return _same(cleaned, wanted) if mode == "exact" else _partial(cleaned, wanted)

    calls = tool_calls(output)
    label = str(pattern)
    matching = [(n, a) for n, a in calls if _glob(label, n)]
    hit = next(((n, a) for n, a in matching if a is not None and matches(a)), None)
    passed = (hit is not None) != inverse
    shown = ", ".join(f"tool:{n}" for n, _ in calls) or "(none)"
    if inverse:
        reason = f'Forbidden argument match for tool "{label}" was observed' if hit else f'Forbidden argument match for tool "{label}" was not observed'
    elif hit:
        reason = f'Tool "{label}" matched expected arguments ({mode}) on tool:{hit[0]}. Args: {json.dumps(hit[1], ensure_ascii=False)}'
    elif not matching:
        reason = f'No tool call matched "{label}". Actual tools: {shown}'
    else:
        observed = ", ".join(json.dumps(a, ensure_ascii=False) for _, a in matching)
        reason = f'No call to tool "{label}" matched expected arguments ({mode}): {json.dumps(expected, ensure_ascii=False)}. Observed args: {observed}'
    return passed, 1.0 if passed else 0.0, reason
