"""Jinja2 templates of a prompt: one sandboxed, strict environment for checking and rendering.

Strict (`StrictUndefined`): a variable the caller forgot is an error, never an empty
string silently sent to a model. Sandboxed and bounded (`core.sandbox.BoundedEnvironment`):
prompt files come from many hands, and a render ends in bounded time and memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta

from workbench.core.model import InputSpec, Problem, Severity
from workbench.core.render_guards import guard_filter
from workbench.core.sandbox import BoundedEnvironment
from workbench.core.yamlpos import Path, YamlDocument


@cache
def environment() -> BoundedEnvironment:
    env = BoundedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )
    # promptfoo's Nunjucks filters, so imported prompts render the same: `load` parses JSON,
    # `dump` prints JSON as JavaScript's JSON.stringify does.
    env.filters["load"] = guard_filter("load", _load_json)
    env.filters["dump"] = guard_filter("dump", _dump_json)
    return env


def _load_json(value: Any) -> Any:
    import json

    return json.loads(value) if isinstance(value, str) else value


def _dump_json(value: Any, indent: int | None = None) -> str:
    import json

    from workbench.core.jsvalues import stringify

    return stringify(value) if not indent else json.dumps(value, indent=indent, ensure_ascii=False)


def template_sources(data: Mapping[str, Any]) -> list[tuple[Path, str, str]]:
    """(document path, label, source) of every template in a prompt document."""
    out: list[tuple[Path, str, str]] = []
    messages = data.get("messages")
    if isinstance(messages, list):
        for index, message in enumerate(messages):
            if isinstance(message, dict) and isinstance(message.get("content"), str):
                role = message.get("role", "?")
                out.append((("messages", index, "content"), f"message {index + 1} ({role})", message["content"]))
    if isinstance(data.get("template"), str):
        out.append((("template",), "template", data["template"]))
    return out


def _line_in_file(doc: YamlDocument, where: Path, template_line: int) -> tuple[int, int]:
    pos = doc.where(where)
    # Block scalars (| and >) start on the line after their indicator.
    first = pos.line + 1 if pos.style in ("|", ">") else pos.line
    return first + max(0, template_line - 1), pos.col if template_line <= 1 else 1


def template_problems(data: Mapping[str, Any], doc: YamlDocument, path: str, inputs: Mapping[str, InputSpec]) -> list[Problem]:
    """Syntax errors, variables used but not declared (error), declared but unused (warning)."""
    env = environment()
    problems: list[Problem] = []
    used: set[str] = set()
    sources = template_sources(data)
    parsed_all = True
    for where, label, source in sources:
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as err:
            line, col = _line_in_file(doc, where, err.lineno or 1)
            problems.append(Problem(path, line, col, f"{label}: template error: {err.message}", Severity.ERROR, "check the {{ }} and {% %} pairs"))
            parsed_all = False
            continue
        except RecursionError:
            line, col = _line_in_file(doc, where, 1)
            problems.append(Problem(path, line, col, f"{label}: template error: expressions nested too deeply"))
            parsed_all = False
            continue
        names = meta.find_undeclared_variables(ast) - set(env.globals)
        used |= names
        if isinstance(data.get("inputs"), dict) or names:
            for name in sorted(names - set(inputs)):
                line, col = _line_in_file(doc, where, _first_line_of(source, name))
                problems.append(
                    Problem(path, line, col, f"{label} uses '{name}', which is not declared in inputs", Severity.ERROR, f"add `{name}: {{type: string, required: true}}` under inputs:")
                )
    if sources and parsed_all:
        for name in inputs:
            if name not in used:
                pos = doc.where(("inputs", name), key=True)
                problems.append(Problem(path, pos.line, pos.col, f"input '{name}' is declared but no template uses it", Severity.WARNING))
    return problems


def _first_line_of(source: str, name: str) -> int:
    for number, line in enumerate(source.splitlines(), 1):
        if name in line:
            return number
    return 1
