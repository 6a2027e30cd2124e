"""Which sections the field-aware diff shows for tools, tool_choice, response_format, partials and
the other files a suite reads, and how a `tests: file://` file's cases become its test sections.

Each `*_sections` function returns section specs (key, title, left value, right value, present
on the left, present on the right); `core.diff` turns them into text diffs. Tools are paired by
name, so a reviewer reads `tool refund_order · parameters changed` with the diff of that tool's
schema, never a reshuffled list.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from workbench.core.yamlpos import YamlSyntaxError, load_plain

SectionSpec = tuple[str, str, Any, Any, bool, bool]

TOOL_KEYS = ("tools", "tool_choice", "response_format")


def _tool_name(tool: Any, index: int) -> str:
    function = tool.get("function") if isinstance(tool, dict) else None
    name = function.get("name") if isinstance(function, dict) else None
    return str(name) if isinstance(name, str) and name else f"#{index + 1}"


def _function(tool: Any) -> Any:
    """What a tool section shows: the function (description, parameters, strict), or the whole
    item when it is not OpenAI's function shape."""
    if isinstance(tool, dict) and set(tool) <= {"type", "function"} and tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        return {k: v for k, v in tool["function"].items() if k != "name"}
    return tool


def _what_changed(left: Any, right: Any) -> str:
    if isinstance(left, dict) and isinstance(right, dict):
        fields = [key for key in dict.fromkeys([*left, *right]) if left.get(key) != right.get(key)]
        if fields:
            return ", ".join(fields) + " changed"
    return "changed"


def tool_sections(left: Mapping[str, Any], right: Mapping[str, Any]) -> list[SectionSpec]:
    """One section per tool (by name), then tool_choice and response_format when present."""
    specs: list[SectionSpec] = []
    left_tools, right_tools = left.get("tools"), right.get("tools")
    if "tools" in left or "tools" in right:
        if (left_tools is not None and not isinstance(left_tools, list)) or (right_tools is not None and not isinstance(right_tools, list)):
            specs.append(("tools", "tools", left_tools, right_tools, "tools" in left, "tools" in right))
        else:
            left_by = {_tool_name(t, i): t for i, t in enumerate(left_tools or [])}
            right_by = {_tool_name(t, i): t for i, t in enumerate(right_tools or [])}
            for name in dict.fromkeys([*right_by, *left_by]):
                in_left, in_right = name in left_by, name in right_by
                old, new = _function(left_by.get(name)), _function(right_by.get(name))
                if in_left and in_right:
                    state = "unchanged" if old == new else _what_changed(old, new)
                else:
                    state = "added" if in_right else "removed"
                title = f"tool {name}" if state == "unchanged" else f"tool {name} · {state}"
                specs.append((f"tool:{name}", title, old, new, in_left, in_right))
    for key in ("tool_choice", "response_format"):
        if key in left or key in right:
            specs.append((key, key, left.get(key), right.get(key), key in left, key in right))
    return specs


def partial_sections(left: Mapping[str, str | None] | None, right: Mapping[str, str | None] | None) -> list[SectionSpec]:
    """One section per partial either side includes: `partial shared/policy.jinja`."""
    left = left or {}
    right = right or {}
    specs: list[SectionSpec] = []
    for path in sorted({*left, *right}):
        name = path.removeprefix("prompts/")
        old, new = left.get(path), right.get(path)
        title = f"partial {name}"
        if path in left and path in right and (old is None) != (new is None):
            title += " · missing" if new is None else " · restored"
        elif path not in left:
            title += " · now included"
        elif path not in right:
            title += " · no longer included"
        specs.append((f"partial:{path}", title, old or "", new or "", path in left, path in right))
    return specs


FILE_KEY = "file:"  # the key of a file section is this and the file's repository path


def file_sections(left: Mapping[str, str | None], right: Mapping[str, str | None], cases_shown: Collection[str | None] = ()) -> list[SectionSpec]:
    """One section per other file the suite reads that differs (`file checks/grade.py`), but the
    tests file whose cases are the test sections already (`cases_shown`)."""
    specs: list[SectionSpec] = []
    for path in sorted({*left, *right} - set(cases_shown)):
        old, new = left.get(path), right.get(path)
        title = f"file {path}" + (" · new" if old is None else " · deleted" if new is None else "")
        specs.append((f"{FILE_KEY}{path}", title, old or "", new or "", old is not None, new is not None))
    return specs


def inline_tests(doc: dict[str, Any] | None, tests_text: str | None) -> dict[str, Any] | None:
    """Replace a `tests: file://...` reference by the cases of the referenced file (a new dict:
    the caller tells by identity whether they were)."""
    if doc is None or tests_text is None or not str(doc.get("tests", "")).startswith("file://"):
        return doc
    try:
        cases = load_plain(tests_text)
    except YamlSyntaxError:
        return doc
    return {**doc, "tests": cases} if isinstance(cases, list) else doc
