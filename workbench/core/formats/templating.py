"""Templates between formats: `{{name}}` placeholders <-> Jinja, literal text, inputs.

GitHub Models and Langfuse substitute `{{name}}` placeholders and leave everything else as
text; a workbench template is Jinja. Going in, literal text that Jinja would read (`{%`, `{#`,
`{{` that is not a placeholder) is written as a Jinja string, so it renders as itself. Going
out, a template converts only when it is text and plain variables (partials inlined); anything
else is reported, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from workbench.core.model import Message, Partial, Prompt

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DELIMITER = re.compile(r"\{[{%#]|\{\Z")
_INCLUDE = re.compile(r"""\{%(-?)\s*include\s+(["'])([^"']+)\2\s*(?:with(?:out)?\s+context\s*)?(-?)%\}""")


def escape_literal(text: str) -> str:
    """`text` as a Jinja template that renders exactly `text`.

    Only the openings Jinja reads (`{{`, `{%`, `{#`, and a final `{` that a following
    expression would complete) are rewritten, as Jinja string expressions.
    """
    return _DELIMITER.sub(lambda m: "{{ '" + m.group(0) + "' }}", text)


def placeholders_to_jinja(
    text: str, find: re.Pattern[str], accept: Callable[[str], bool] = lambda name: IDENTIFIER.match(name) is not None
) -> tuple[str, list[str], list[tuple[int, str]]]:
    """Convert `{{name}}` placeholders (as `find` matches them, name in group 1) to Jinja.

    Returns:
        (the Jinja template, the variable names in order of first use, the (offset, text) of
        placeholders whose name cannot be a workbench input: kept as literal text).
    """
    out: list[str] = []
    names: list[str] = []
    kept: list[tuple[int, str]] = []
    position = 0
    for match in find.finditer(text):
        name = match.group(1)
        if not accept(name):
            kept.append((match.start(), match.group(0)))
            continue
        out.append(escape_literal(text[position : match.start()]))
        out.append("{{ " + name + " }}")
        if name not in names:
            names.append(name)
        position = match.end()
    out.append(escape_literal(text[position:]))
    return "".join(out), names, kept


def line_col(text: str, offset: int, first_line: int = 1) -> tuple[int, int]:
    """1-based line and column of `offset` in `text` (whose first line is `first_line`)."""
    before = text[:offset]
    return first_line + before.count("\n"), offset - (before.rfind("\n") + 1) + 1


def jinja_variables(template: str) -> list[str]:
    """The variables a Jinja template reads (sorted; [] when it does not parse)."""
    from jinja2 import meta

    from workbench.core.templates import environment

    try:
        return sorted(meta.find_undeclared_variables(environment().parse(template)))
    except Exception:
        return []


def inline_partials(template: str, partials: Mapping[str, str], depth: int = 0) -> str | None:
    """`template` with every `{% include "x.jinja" %}` replaced by that partial's text.

    The partial's final newline is dropped, as the workbench does when it includes one. Returns
    None when an include names a partial that is not given (or they nest past 8 levels).
    """
    if depth > 8:
        return None
    failed = False

    def replace(match: re.Match[str]) -> str:
        nonlocal failed
        source = partials.get(match.group(3))
        if source is None:
            failed = True
            return match.group(0)
        inner = inline_partials(source.removesuffix("\n"), partials, depth + 1)
        if inner is None:
            failed = True
            return match.group(0)
        return inner

    result = _INCLUDE.sub(replace, template)
    return None if failed else result


def partial_texts(prompt: Prompt) -> dict[str, str]:
    """A prompt's partials by the name templates use (`shared/x.jinja`)."""
    return {p.path.removeprefix("prompts/"): p.source for p in prompt.partials}


def jinja_to_placeholders(template: str, partials: Mapping[str, str], render_name: Callable[[str], str] = lambda n: "{{" + n + "}}") -> tuple[str | None, str]:
    """A Jinja template as text with `{{name}}` placeholders, when it is only text and variables.

    Returns:
        (the text, "") or (None, why it cannot be expressed).
    """
    from jinja2 import nodes

    from workbench.core.templates import environment

    inlined = inline_partials(template, partials)
    if inlined is None:
        return None, "it includes a partial that could not be read"
    try:
        ast = environment().parse(inlined)
    except Exception as err:
        return None, f"it does not parse: {err}"
    out: list[str] = []
    for node in ast.body:
        if not isinstance(node, nodes.Output):
            return None, f"it uses Jinja `{type(node).__name__.lower()}` blocks, which this format has no equivalent for"
        for child in node.nodes:
            if isinstance(child, nodes.TemplateData):
                out.append(child.data)
            elif isinstance(child, nodes.Name):
                out.append(render_name(child.name))
            elif isinstance(child, nodes.Const) and isinstance(child.value, str):
                out.append(child.value)
            else:
                return None, "it uses Jinja expressions other than plain variables (filters, attributes, arithmetic)"
    return "".join(out), ""


def input_specs(names: Iterable[str], defaults: Mapping[str, Any] | None = None, types: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`inputs:` for the given variables: required strings unless a default or type is known."""
    inputs: dict[str, Any] = {}
    for name in names:
        spec: dict[str, Any] = {"type": (types or {}).get(name, "string")}
        if defaults and name in defaults:
            spec["default"] = defaults[name]
        else:
            spec["required"] = True
        inputs[name] = spec
    return inputs


def mapping(value: Any) -> dict[str, Any]:
    """`value` when it is a mapping, else {} (foreign files put anything anywhere)."""
    return value if isinstance(value, dict) else {}


def js_numbers(value: Any) -> Any:
    """`value` with each whole float as an int: JavaScript (promptfoo, Dotprompt) has one number
    type, so YAML's `2.0` is `2` there and prints `2`, where Jinja prints `2.0`."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [js_numbers(v) for v in value]
    if isinstance(value, dict):
        return {k: js_numbers(v) for k, v in value.items()}
    return value


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def messages_of(prompt: Prompt) -> tuple[Message, ...]:
    """The chat messages of a prompt (a completion prompt is one user message)."""
    if prompt.template is not None:
        return (Message("user", prompt.template),)
    return prompt.messages


def slug(text: str) -> str:
    """One path-safe name component (lower case, `-` for anything else)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-._").lower()
    return cleaned[:60] or "prompt"


def name_parts(text: str, fallback: str = "prompt") -> str:
    """A source's prompt name as a path-safe workbench name (folders kept: `a/b c` -> `a/b-c`)."""
    parts = [slug(part) for part in re.split(r"[/\\]+", text) if part.strip()]
    return "/".join(parts) or fallback


def distinct_names(names: list[str]) -> list[str]:
    """`names` in order, each repeat given the first `-2`, `-3`... that no name of the list has
    and none given before has: `greet, greet, greet-2` -> `greet, greet-3, greet-2`. Two sources
    that make one name would otherwise be one prompt (Langfuse: one history of two prompts)."""
    taken = set(names)
    given: list[str] = []
    seen: set[str] = set()
    for name in names:
        if name in seen:
            number = 2
            while f"{name}-{number}" in taken:
                number += 1
            name = f"{name}-{number}"
            taken.add(name)
        seen.add(name)
        given.append(name)
    return given


def partial_name(partial: Partial) -> str:
    return partial.path.removeprefix("prompts/")
