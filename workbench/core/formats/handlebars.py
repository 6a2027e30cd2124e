"""The common subset of Handlebars (as Dotprompt uses it) converted to Jinja, and back.

In: `{{var}}`, `{{a.b}}`, `{{{var}}}`, `{{#if}}` / `{{else}}` / `{{else if}}` / `{{#unless}}`,
`{{#each}}` (with `this`, `@index`, `@first`, `@last`, `../x`), Dotprompt's `{{#ifEquals}}` /
`{{#unlessEquals}}` / `{{json}}` / `{{role}}` helpers, `{{> partial}}` (with `key=value`
arguments), comments, `~` whitespace control and Handlebars' standalone-line rule (a line
holding only a block tag, a comment or a partial disappears). Anything else (`{{#with}}`,
`{{media}}`, `{{history}}`, `{{section}}`, unknown helpers, sub-expressions) is reported at its
line, never guessed.

Out: a Jinja template made of text, variables, `if` / `else`, `for` and partial includes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.core.formats.templating import escape_literal

ROLE_SENTINEL = "\x00role:"
_TAG = re.compile(r"\\?\{\{(~?)(\{?)(!--.*?--|!.*?|[^{}]*?)(\}?)(~?)\}\}", re.S)
_PATH = re.compile(r"^(?:@root\.|(?:\.\./)+|this\.|\./)?[@A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*$|^this$|^\.$")
_DICT_METHODS = {"items", "keys", "values", "get", "pop", "update", "copy", "clear", "setdefault", "popitem"}
_STANDALONE_KINDS = ("#", "/", "^", "!", ">", "else")


@dataclass
class _Tag:
    start: int
    end: int
    inner: str
    strip_left: bool
    strip_right: bool
    line: int

    @property
    def kind(self) -> str:
        text = self.inner.strip()
        if text.startswith("!"):
            return "!"
        if text.startswith(("#", "/", "^", ">")):
            return text[0]
        if text == "else" or text.startswith("else "):
            return "else"
        return "expr"


@dataclass
class HandlebarsResult:
    template: str  # Jinja, with ROLE_SENTINEL + role + "\x00" where `{{role}}` was
    variables: list[str] = field(default_factory=list)  # top-level names read
    partials: list[str] = field(default_factory=list)  # partial names included
    # partial name -> the names every include of it binds (`{{> p who=name}}` binds `who`)
    bound: dict[str, frozenset[str]] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def _tags(source: str) -> list[_Tag | str]:
    """Text and tags, with `~` and Handlebars' standalone-line rule applied to the text."""
    pieces: list[_Tag | str] = []
    position = 0
    for match in _TAG.finditer(source):
        if match.group(0).startswith("\\"):
            continue  # an escaped mustache is text
        pieces.append(source[position : match.start()])
        line = source.count("\n", 0, match.start()) + 1
        pieces.append(_Tag(match.start(), match.end(), match.group(3), bool(match.group(1)), bool(match.group(5)), line))
        position = match.end()
    pieces.append(source[position:])
    # Standalone lines: text before the tag on its line and after it are only whitespace
    # (judged on the original text, as Handlebars does, then cut).
    cut_end = [0] * len(pieces)  # characters to drop at the end of each text piece
    cut_start = [0] * len(pieces)
    for index in range(1, len(pieces), 2):
        tag = pieces[index]
        assert isinstance(tag, _Tag)
        if tag.kind not in _STANDALONE_KINDS:
            continue
        before, after = pieces[index - 1], pieces[index + 1]
        assert isinstance(before, str) and isinstance(after, str)
        head = before.rsplit("\n", 1)
        line_start = len(head) == 2 or index == 1
        if not line_start or head[-1].strip(" \t"):
            continue
        tail = re.match(r"[ \t]*(\r?\n|$)", after)
        if tail is None or (not tail.group(1) and index + 1 != len(pieces) - 1):
            continue
        indent = head[-1]
        cut_end[index - 1] = len(indent)
        cut_start[index + 1] = tail.end()
        if tag.kind == ">" and indent:
            tag.inner = tag.inner + f" \x00indent={len(indent)}"
    for index in range(0, len(pieces), 2):
        text = str(pieces[index])
        pieces[index] = text[cut_start[index] : len(text) - cut_end[index]] if cut_start[index] + cut_end[index] <= len(text) else ""
    for index in range(1, len(pieces), 2):
        tag = pieces[index]
        assert isinstance(tag, _Tag)
        if tag.strip_left:
            pieces[index - 1] = str(pieces[index - 1]).rstrip()
        if tag.strip_right:
            pieces[index + 1] = str(pieces[index + 1]).lstrip()
    return pieces


def _split_args(text: str) -> list[str]:
    return re.findall(r'"[^"]*"|\'[^\']*\'|[^\s"\']+=(?:"[^"]*"|\'[^\']*\'|\S+)|\S+', text)


@dataclass
class _Scope:
    item: str | None  # Jinja name of the loop item (None: the top level)


def to_jinja(source: str, partial_path: Callable[[str], str]) -> HandlebarsResult:
    """Convert a Handlebars template (see the module docstring) to Jinja."""
    result = HandlebarsResult("")
    out: list[str] = []
    scopes: list[_Scope] = [_Scope(None)]
    blocks: list[str] = []  # "if" | "each" | "role"
    loops = 0

    def problem(tag: _Tag, message: str) -> None:
        result.problems.append((tag.line, message))

    def path(text: str, tag: _Tag) -> str | None:
        text = text.strip()
        if not _PATH.match(text):
            return None
        depth = len(scopes) - 1
        if text.startswith("@root."):
            text, depth = text[len("@root.") :], 0
        while text.startswith("../"):
            text, depth = text[3:], max(depth - 1, 0)
        if text in ("this", "."):
            item = scopes[depth].item
            if item is None:
                problem(tag, "`this` at the top level (the whole input) has no workbench equivalent: not carried over")
                return None
            return item
        text = text.removeprefix("this.").removeprefix("./")
        if text.startswith("@"):
            loop_vars = {"@index": "loop.index0", "@first": "loop.first", "@last": "loop.last"}
            if text in loop_vars and depth > 0:
                return loop_vars[text]
            problem(tag, f"`{text}` not carried over")
            return None
        parts = text.split(".")
        item = scopes[depth].item
        if item is None:
            if parts[0] not in result.variables:
                result.variables.append(parts[0])
            base, rest = parts[0], parts[1:]
        else:
            base, rest = item, parts
        for part in rest:
            base += f"[{part!r}]" if part in _DICT_METHODS else f".{part}"
        return base

    def value(text: str, tag: _Tag) -> str | None:
        text = text.strip()
        if re.fullmatch(r'"[^"]*"|\'[^\']*\'', text):
            return repr(text[1:-1])
        if re.fullmatch(r"-?\d+(\.\d+)?", text) or text in ("true", "false", "null", "undefined"):
            return {"true": "true", "false": "false", "null": "none", "undefined": "none"}.get(text, text)
        return path(text, tag)

    pieces = _tags(source)
    for piece in pieces:
        if isinstance(piece, str):
            out.append(escape_literal(piece.replace("\\{{", "{{")))
            continue
        tag = piece
        text = tag.inner.strip()
        kind = tag.kind
        if kind == "!":
            continue
        if kind == "expr":
            args = _split_args(text)
            if not args:
                problem(tag, "an empty tag {{}}: not carried over")
                continue
            head = args[0]
            if head == "role" and len(args) == 2:
                role = args[1].strip("\"'")
                if blocks:
                    problem(tag, "{{role}} inside a block: the messages cannot be split before rendering: not carried over")
                    continue
                out.append(f"{ROLE_SENTINEL}{role}\x00")
                continue
            if head == "json" and len(args) >= 2:
                target = value(args[1], tag)
                indent = next((a.split("=", 1)[1] for a in args[2:] if a.startswith("indent=")), None)
                if target is None:
                    continue
                out.append("{{ " + target + (f" | dump({indent})" if indent else " | dump") + " }}")
                continue
            if head in ("history", "media", "section"):
                problem(tag, f"the {{{{{head}}}}} helper has no workbench equivalent: not carried over")
                continue
            if len(args) > 1:
                problem(tag, f"helper {head!r} not carried over (only Dotprompt's own helpers are converted)")
                continue
            converted = path(head, tag)
            if converted is None:
                if not result.problems or result.problems[-1][0] != tag.line:
                    problem(tag, f"{{{{{text}}}}} not carried over")
                continue
            out.append("{{ " + converted + " }}")
            continue
        if kind == ">":
            args = _split_args(text[1:])
            indent_by = next((int(a.split("=")[1]) for a in args if a.startswith("\x00indent=")), 0)
            args = [a for a in args if not a.startswith("\x00indent=")]
            if not args:
                problem(tag, "a partial without a name: not carried over")
                continue
            name, rest = args[0].strip("\"'"), args[1:]
            assignments: list[str] | None = []
            for arg in rest:
                if "=" not in arg:
                    problem(tag, f"partial {name!r} with a context argument {arg!r}: not carried over")
                    assignments = None
                    break
                key, raw = arg.split("=", 1)
                converted = value(raw, tag)
                if converted is None:
                    assignments = None
                    break
                assert assignments is not None
                assignments.append(f"{key}={converted}")
            if assignments is None:
                continue
            if name not in result.partials:
                result.partials.append(name)
            keys = frozenset(a.split("=", 1)[0] for a in assignments)
            result.bound[name] = result.bound[name] & keys if name in result.bound else keys
            include = '{% include "' + partial_path(name) + '" %}'
            if assignments:
                include = "{% with " + ", ".join(assignments) + " %}" + include + "{% endwith %}"
            if indent_by:
                include = "{% filter indent(" + str(indent_by) + ", first=True, blank=True) %}" + include + "{% endfilter %}"
            out.append(include)
            continue
        if kind == "#":
            args = _split_args(text[1:])
            helper = args[0] if args else ""
            if helper in ("if", "unless") and len(args) == 2:
                condition = path(args[1], tag)
                if condition is None:
                    problem(tag, f"{{{{#{helper} {args[1]}}}}}: only a variable can be tested: not carried over")
                    blocks.append("skip")
                    continue
                blocks.append("if")
                out.append("{% if " + ("not " if helper == "unless" else "") + condition + " %}")
            elif helper in ("ifEquals", "unlessEquals") and len(args) == 3:
                a, b = value(args[1], tag), value(args[2], tag)
                if a is None or b is None:
                    blocks.append("skip")
                    continue
                blocks.append("if")
                out.append("{% if " + a + (" == " if helper == "ifEquals" else " != ") + b + " %}")
            elif helper == "each" and len(args) == 2:
                iterable = path(args[1], tag)
                if iterable is None:
                    blocks.append("skip")
                    continue
                loops += 1
                item = "item" if loops == 1 else f"item{loops}"
                scopes.append(_Scope(item))
                blocks.append("each")
                out.append("{% for " + item + " in " + iterable + " %}")
            elif helper == "role" and len(args) == 2 and not blocks:
                role = args[1].strip("\"'")
                problem(tag, f"the block form {{{{#role {args[1]}}}}}...{{{{/role}}}} renders nothing in Dotprompt (the helper ignores its block): converted as a {role} message")
                blocks.append("role")
                out.append(f"{ROLE_SENTINEL}{role}\x00")
            else:
                problem(tag, f"block {{{{#{' '.join(args)}}}}} not carried over (if, unless, each, ifEquals, unlessEquals are)")
                blocks.append("skip")
            continue
        if kind == "else":
            remainder = text[4:].strip()
            if not blocks or blocks[-1] == "skip":
                continue
            if remainder.startswith("if ") and blocks[-1] == "if":
                condition = path(remainder[3:], tag)
                if condition is not None:
                    out.append("{% elif " + condition + " %}")
                continue
            if remainder:
                problem(tag, f"{{{{else {remainder}}}}} not carried over")
                continue
            out.append("{% else %}")
            continue
        if kind == "/":
            if not blocks:
                problem(tag, f"{{{{{text}}}}} closes no block")
                continue
            block = blocks.pop()
            if block == "if":
                out.append("{% endif %}")
            elif block == "each":
                scopes.pop()
                out.append("{% endfor %}")
            elif block == "role":
                out.append(f"{ROLE_SENTINEL}user\x00")
            continue
        if kind == "^":
            problem(tag, "inverse sections {{^}} not carried over")
    if blocks:
        result.problems.append((source.count("\n") + 1, "a block is never closed"))
    result.template = "".join(out)
    return result


def split_roles(template: str) -> list[tuple[str, str]]:
    """(role, Jinja template) of each message, Dotprompt's way: text before any marker is a
    user message; a marker before any text changes the role; whitespace-only pieces are dropped."""
    messages: list[list[str]] = [["user", ""]]
    for piece in re.split(r"(" + re.escape(ROLE_SENTINEL) + r"[a-z]+\x00)", template):
        if not piece.strip():
            continue
        if piece.startswith(ROLE_SENTINEL):
            role = piece[len(ROLE_SENTINEL) : -1]
            if messages[-1][1].strip():
                messages.append([role, ""])
            else:
                messages[-1][0] = role
            continue
        messages[-1][1] += piece
    return [(role, text) for role, text in messages if text]


# ------------------------------------------------------------------ out
def from_jinja(template: str, partial_name: Callable[[str], str | None]) -> tuple[str | None, str]:
    """A Jinja template as Handlebars, when it uses only text, variables, `if`/`else`, `for`
    and partial includes. Returns (text, "") or (None, why not)."""
    from jinja2 import nodes

    from workbench.core.templates import environment

    try:
        ast = environment().parse(template)
    except Exception as err:
        return None, f"it does not parse: {err}"

    def expr(node: Any, loops: dict[str, str]) -> str | None:
        if isinstance(node, nodes.Name):
            if node.name in loops:
                return loops[node.name]
            if node.name == "loop":
                return None
            return node.name if not loops else "@root." + node.name
        if isinstance(node, nodes.Getattr):
            if isinstance(node.node, nodes.Name) and node.node.name == "loop":
                return {"index0": "@index", "first": "@first", "last": "@last"}.get(node.attr)
            base = expr(node.node, loops)
            if base is None:
                return None
            return base[: -len("this")] + node.attr if base.endswith("this") else f"{base}.{node.attr}"
        if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            base = expr(node.node, loops)
            if base is None:
                return None
            return base[: -len("this")] + node.arg.value if base.endswith("this") else f"{base}.{node.arg.value}"
        if isinstance(node, nodes.Const) and isinstance(node.value, str):
            return '"' + node.value + '"'
        if isinstance(node, nodes.Filter) and node.name == "dump" and node.node is not None:
            inner = expr(node.node, loops)
            if inner is None:
                return None
            indent = node.args[0].value if node.args and isinstance(node.args[0], nodes.Const) else None
            return f"json {inner}" + (f" indent={indent}" if indent else "")
        return None

    def walk(body: list[Any], loops: dict[str, str]) -> str | None:
        parts: list[str] = []
        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        parts.append(child.data.replace("{{", "\\{{"))
                        continue
                    converted = expr(child, loops)
                    if converted is None:
                        return None
                    parts.append("{{" + converted + "}}")
            elif isinstance(node, nodes.If):
                test = node.test
                negate = isinstance(test, nodes.Not)
                condition = expr(test.node if isinstance(test, nodes.Not) else test, loops)
                body_text = walk(node.body, loops)
                else_text = walk(node.else_, loops) if node.else_ else ""
                if condition is None or body_text is None or else_text is None or node.elif_:
                    return None
                helper = "unless" if negate else "if"
                parts.append("{{#" + helper + " " + condition + "}}" + body_text + ("{{else}}" + else_text if node.else_ else "") + "{{/" + helper + "}}")
            elif isinstance(node, nodes.For):
                if not isinstance(node.target, nodes.Name) or node.test is not None or node.recursive:
                    return None
                iterable = expr(node.iter, loops)
                inner = walk(node.body, {**{k: "../" + v if v != "this" else "../this" for k, v in loops.items()}, node.target.name: "this"})
                else_text = walk(node.else_, loops) if node.else_ else ""
                if iterable is None or inner is None or else_text is None:
                    return None
                parts.append("{{#each " + iterable + "}}" + inner + ("{{else}}" + else_text if node.else_ else "") + "{{/each}}")
            elif isinstance(node, nodes.Include) and isinstance(node.template, nodes.Const):
                name = partial_name(str(node.template.value))
                if name is None:
                    return None
                parts.append("{{> " + name + "}}")
            else:
                return None
        return "".join(parts)

    text = walk(ast.body, {})
    if text is None:
        return None, "it uses Jinja beyond text, variables, if/else, for and include"
    return protect_standalone(text), ""


def protect_standalone(text: str) -> str:
    """Keep Handlebars from removing a line that holds only a block tag (Jinja keeps it):
    an empty comment after the tag makes the line not standalone."""
    pieces = _tags(text)
    rebuilt: list[str] = []
    original = list(_raw_pieces(text))
    for index, piece in enumerate(original):
        if isinstance(piece, str):
            rebuilt.append(piece)
            continue
        raw = text[piece.start : piece.end]
        kept_before = pieces[index - 1] if index - 1 >= 0 else ""
        kept_after = pieces[index + 1] if index + 1 < len(pieces) else ""
        changed = kept_before != original[index - 1] or kept_after != original[index + 1]
        rebuilt.append(raw + ("{{!}}" if changed and piece.kind in ("#", "/", "else", ">") else ""))
    return "".join(rebuilt)


def _raw_pieces(source: str) -> list[_Tag | str]:
    pieces: list[_Tag | str] = []
    position = 0
    for match in _TAG.finditer(source):
        if match.group(0).startswith("\\"):
            continue
        pieces.append(source[position : match.start()])
        pieces.append(_Tag(match.start(), match.end(), match.group(3), bool(match.group(1)), bool(match.group(5)), 0))
        position = match.end()
    pieces.append(source[position:])
    return pieces
