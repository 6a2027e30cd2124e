"""Prompty's mustache templates converted to Jinja, rendering as Prompty renders them.

Prompty renders `template: mustache` with chevron 0.14 (its Python runtime, 1 and 2), then
splits the text at its role markers. The import splits first (role markers are lines of the
template) and converts each message's mustache to a Jinja template of the workbench, the way
Dotprompt's Handlebars is converted (`handlebars.py`): it renders in the same bounded sandbox
as every template, and the workbench keeps one template language.

`tokenize` is a port of chevron's tokenizer (standalone lines, set delimiters, its errors), in
one pass: chevron's copies the rest of the template at every tag. The values are printed,
looked up and iterated by the filters of `core.mustache`, with chevron's rules:

| mustache | Jinja |
| --- | --- |
| `{{x}}`, `{{{x}}}`, `{{& x}}` | `{{ x | mustache }}`, `{{ x | mustache(escape=false) }}` |
| `{{a.b}}` | `{{ a | mustache_path("b") | mustache }}` |
| `{{#s}}...{{/s}}` | `{% for item in s | mustache_section %}...{% endfor %}` |
| `{{^s}}...{{/s}}` | `{% if not (s) %}...{% endif %}` |
| a name inside sections | `[item2, item] | mustache_get("name", name)` (the items, then the input) |
| `{{.}}` | the innermost section's item |
| `{{! comment }}`, `{{=<% %>=}}` | nothing (the tokenizer applies the delimiters) |

Not carried over, said at its line: partials (chevron reads `NAME.mustache` from the working
directory of the process that renders, or renders nothing: the workbench renders nothing), a
section holding a role marker (a workbench prompt has fixed messages), `{{.}}` meaning the whole
input, names that cannot be workbench inputs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from workbench.core.formats.templating import IDENTIFIER, escape_literal

MAX_DEPTH = 16  # nested sections; Python compiles at most 20 nested blocks of a Jinja template
_KINDS = {"!": "comment", "#": "section", "^": "inverted section", "/": "end", ">": "partial", "=": "set delimiter?", "{": "no escape?", "&": "no escape"}
_READS = ("variable", "no escape", "section", "inverted section")
_RANK = {"section": 0, "text": 1, "object": 2}  # how an input is used, the most telling last
_NOT_NAMES = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else", "loop", "self"})
# A line of words and tags ending in `:`; with a tag in it, it may render as a
# role marker. No two parts can match the same text: linear on a line of any length.
_DYNAMIC_ROLE = re.compile(r"\s*(?:#\s*)?(?:\w|\{\{[^{}]*\}\})+\s*:\s*")


class MustacheSyntaxError(ValueError):
    """A template chevron refuses to render (it raises on every render of the file)."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass(frozen=True)
class Token:
    kind: str  # chevron's names: literal, variable, no escape, no escape?, section, inverted section, end, partial, set delimiter
    key: str  # the name, or the text of a literal
    line: int  # of the tag (or the literal's start), 1-based


def tokenize(template: str) -> Iterator[Token]:
    """chevron 0.14's `tokenize`, token for token (comments dropped), in linear time.

    Raises:
        MustacheSyntaxError: an unclosed tag or set-delimiter tag, an empty tag `{{}}`, a section
            closed by another name, closing nothing or never closed.
    """
    pos, length, line, counted = 0, len(template), 1, 0
    standalone = True
    opened: list[tuple[str, int]] = []
    left, right = "{{", "}}"

    def line_at(index: int) -> int:
        nonlocal line, counted
        line += template.count("\n", counted, index)
        counted = index
        return line

    while pos < length:
        start = template.find(left, pos) if left else -1  # chevron: an empty delimiter ends the tags
        literal_line = line_at(pos)
        if start < 0:
            yield Token("literal", template[pos:], literal_line)
            break
        literal, pos = template[pos:start], start + len(left)
        if pos >= length:
            yield Token("literal", literal, literal_line)
            break
        if "\n" in literal or standalone:
            padding = literal.rsplit("\n", 1)[-1]
            standalone = padding.isspace() or not padding
        else:
            standalone = False
        tag_line = line_at(start)
        end = template.find(right, pos) if right else -1
        if end < 0:
            raise MustacheSyntaxError("unclosed tag (no closing delimiter)", tag_line)
        tag, pos = template[pos:end], end + len(right)
        if not tag:
            raise MustacheSyntaxError("empty tag {{}}: Prompty's renderer fails on it", tag_line)
        kind = _KINDS.get(tag[0], "variable")
        if kind != "variable":
            tag = tag[1:]
        if kind == "set delimiter?":
            if not tag.endswith("="):
                raise MustacheSyntaxError("unclosed set delimiter tag (it ends with =)", tag_line)
            kind, tag = "set delimiter", tag[:-1]
        elif kind == "no escape?" and left == "{{" and right == "}}" and template.startswith("}", pos):
            kind, pos = "no escape", pos + 1
        key = tag.strip()
        if kind == "set delimiter":
            delimiters = key.split(" ")
            left, right = delimiters[0], delimiters[-1]
        elif kind in ("section", "inverted section"):
            opened.append((key, tag_line))
        elif kind == "end":
            if not opened:
                raise MustacheSyntaxError(f"{{{{/{key}}}}} closes no section", tag_line)
            last, _ = opened.pop()
            if key != last:
                raise MustacheSyntaxError(f"{{{{/{key}}}}} closes section {last!r}", tag_line)
        if standalone and kind not in ("variable", "no escape"):
            newline = template.find("\n", pos)
            rest = template[pos : newline if newline >= 0 else length]
            standalone = rest.isspace() or not rest
        else:
            standalone = False
        if standalone:
            if newline >= 0:
                pos = newline + 1
            if kind != "partial":
                literal = literal.rstrip(" ")
        if literal:
            yield Token("literal", literal, literal_line)
        if kind != "comment":
            yield Token(kind, key, tag_line)
    if opened:
        key, at = opened[-1]
        raise MustacheSyntaxError(f"section {key!r} is never closed", at)


@dataclass
class _Frame:
    kind: str  # "section" | "inverted section"
    var: str  # the Jinja loop variable of a section ("" for an inverted one)


@dataclass
class BodyResult:
    """The Jinja of each message, the inputs the templates read, and what was met on the way."""

    templates: list[str] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)  # input -> "text" | "section" | "object": how it is used
    problems: list[tuple[int, str, bool]] = field(default_factory=list)  # (line in the body, message, is an error)

    @property
    def failed(self) -> bool:
        return any(error for _, _, error in self.problems)


def jinja_name(name: str) -> bool:
    """Whether `name` can be a workbench input that Jinja reads as a plain variable."""
    return IDENTIFIER.match(name) is not None and name not in _NOT_NAMES


def top_names(messages: list[tuple[str, int]]) -> set[str]:
    """The names read outside every section (an inverted section opens no scope): the inputs
    the templates read, declared or not."""
    names: set[str] = set()
    for text, _ in messages:
        stack: list[str] = []
        try:
            for token in tokenize(text):
                if token.kind in _READS and token.key != "." and "section" not in stack:
                    names.add(token.key.split(".")[0])
                if token.kind in ("section", "inverted section"):
                    stack.append(token.kind)
                elif token.kind == "end":
                    stack.pop()
        except MustacheSyntaxError:
            continue
    return names


def convert_body(messages: list[tuple[str, int]], declared: set[str]) -> BodyResult:
    """Each message's mustache (its text and first line in the body) as a Jinja template.

    A name inside sections falls back to the input of that name when `declared` (the file's
    inputs) has it or a template reads it outside sections; else it is its items' only.
    """
    result = BodyResult()
    tops = {name for name in declared | top_names(messages) if jinja_name(name)}
    for index, (text, first) in enumerate(messages):
        try:
            result.templates.append(_convert(text, first, tops, result))
        except MustacheSyntaxError as err:
            line = first + err.line - 1
            if "never closed" in err.message and index + 1 < len(messages):
                marker = messages[index + 1][1] - 1
                result.problems.append((line, f"section opened here is not closed before the role marker on line {marker}: the workbench splits the messages at their role markers before rendering, so a section cannot hold one: not imported", True))
            else:
                result.problems.append((line, f"mustache: {err.message}: not imported", True))
            return result
        if result.failed:
            return result
        for number, source_line in enumerate(text.split("\n"), first):
            if "{{" in source_line and _DYNAMIC_ROLE.fullmatch(source_line):
                result.problems.append((number, f"`{source_line.strip()}` may render as a role marker: Prompty 1 (and Prompty 2 with strict: false) starts a message there, Prompty 2 refuses the render; a workbench prompt has fixed messages, so the line stays text of this one", False))
    return result


def _convert(text: str, first: int, tops: set[str], result: BodyResult) -> str:
    out: list[str] = []
    frames: list[_Frame] = []

    def problem(token: Token, message: str, error: bool = False) -> None:
        result.problems.append((first + token.line - 1, message, error))

    def use(name: str, kind: str) -> None:
        if _RANK[kind] >= _RANK.get(result.kinds.get(name, ""), -1):
            result.kinds[name] = kind

    def value(token: Token, kind: str) -> str:
        """The Jinja expression of a tag's value (`''`, missing, when it cannot be read)."""
        if token.key == ".":
            if frames and frames[-1].kind == "section":
                return frames[-1].var
            if frames:
                return "true"  # an inverted section's scope is True in chevron
            problem(token, f"{{{{{'#' if kind == 'section' else ''}.}}}} at the top is the whole input: no workbench equivalent: renders nothing here")
            return "''"
        parts = token.key.split(".")
        scopes = [frame.var for frame in reversed(frames) if frame.kind == "section"]
        name = parts[0]
        if not scopes:
            if name not in tops:
                problem(token, f"the name {name!r} cannot be a workbench input (letters, digits and _, not a Jinja word): renders nothing here")
                return "''"
            use(name, "object" if len(parts) > 1 else kind)
            return name if len(parts) == 1 else f"{name} | mustache_path({json.dumps('.'.join(parts[1:]))})"
        top = f", {name}" if name in tops else ""
        if top:
            use(name, "object" if len(parts) > 1 else kind)
        return f"[{', '.join(scopes)}] | mustache_get({json.dumps(token.key)}{top})"

    for token in tokenize(text):
        if token.kind == "literal":
            out.append(escape_literal(token.key))
        elif token.kind in ("variable", "no escape"):
            escaped = token.kind == "variable"
            if token.key == "." and frames and frames[-1].kind != "section":
                # chevron prints an inverted section's `True` scope, or for {{.}} the scope below it
                below = frames[-2] if len(frames) > 1 else None
                if not escaped or (below is not None and below.kind != "section"):
                    out.append("True")
                    continue
                if below is None:
                    problem(token, "{{.}} here is the whole input: no workbench equivalent: renders nothing here")
                    continue
                out.append("{{ " + below.var + " | mustache }}")
                continue
            expression = value(token, "text")
            out.append("{{ " + expression + (" | mustache }}" if escaped else " | mustache(escape=false) }}"))
        elif token.kind in ("section", "inverted section"):
            if len(frames) >= MAX_DEPTH:
                problem(token, f"sections nested more than {MAX_DEPTH} deep: not imported", error=True)
                return ""
            expression = value(token, "section")
            if token.kind == "section":
                var = _loop_var(len([f for f in frames if f.kind == "section"]) + 1, tops)
                frames.append(_Frame("section", var))
                out.append("{% for " + var + " in " + expression + " | mustache_section %}")
            else:
                frames.append(_Frame("inverted section", ""))
                out.append("{% if not (" + expression + ") %}")
        elif token.kind == "end":
            out.append("{% endfor %}" if frames.pop().kind == "section" else "{% endif %}")
        elif token.kind == "partial":
            problem(token, f"partial {token.key!r}: Prompty's renderer reads {token.key}.mustache from the working directory of the process that renders, or renders nothing; the workbench reads no file: renders nothing here")
        elif token.kind == "no escape?":
            problem(token, f"{{{{{{{token.key}}}}} has no third closing brace: Prompty's renderer renders nothing for it, nor does the workbench")
    return "".join(out)


def _loop_var(depth: int, taken: set[str]) -> str:
    name = "item" if depth == 1 else f"item{depth}"
    while name in taken:
        name += "_"
    return name


def uses_mustache(template: str) -> bool:
    """Whether a Jinja template calls the mustache filters (a converted mustache template)."""
    from jinja2 import nodes

    from workbench.core.mustache import MUSTACHE_FILTERS
    from workbench.core.templates import environment

    try:
        return any(node.name in MUSTACHE_FILTERS for node in environment().parse(template).find_all(nodes.Filter))
    except Exception:
        return False


__all__ = ["MAX_DEPTH", "BodyResult", "MustacheSyntaxError", "Token", "convert_body", "jinja_name", "tokenize", "top_names", "uses_mustache"]
