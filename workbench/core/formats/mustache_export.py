"""A prompt imported from a Prompty mustache file, written back as mustache (`export --format prompty`).

The import (`mustache.convert_body`) turns each mustache tag into one Jinja form calling the
filters of `core.mustache`; Prompty's Jinja has none of them, so such a prompt is exported as
mustache, which Prompty renders with chevron 0.14. `to_mustache` reads each message's Jinja back
into mustache tokens, form by form, and accepts nothing else:

| Jinja (as the import writes it) | mustache |
| --- | --- |
| text, `{{ 'text' }}` | text (a set-delimiter tag first when it holds the delimiter) |
| `{{ x | mustache }}`, `mustache(escape=false)`; `x | mustache_path("b")` | `{{x}}`, `{{&x}}`; `{{x.b}}` |
| `{% for item in x | mustache_section %}` | `{{#x}}` |
| `{% if not (x) %}` | `{{^x}}` |
| `[item2, item] | mustache_get("n", n)`: the open sections' items, innermost first | `{{n}}` inside them |
| `item` (the innermost section's item); `true` in an inverted section | `{{.}}` |
| `''` (what the import writes for `{{.}}` meaning the whole input) | nothing |

A name inside sections must read exactly what chevron reads there: the input of that name
(`mustache_get(..., n)`) when the file has an input `n` or reads `n` outside sections, else
none. A block tag alone on its line gets an empty comment after it (`{{#x}}{{!}}`): chevron
drops a standalone tag's line, Jinja keeps it. Text is never read as a tag: when it holds the
opening delimiter, the tokens before it switch to delimiters it does not hold (`{{=<% %>=}}`),
and each message ends with the default ones. The text written is converted back
(`convert_body`) and read again: it must give the same tokens, or nothing is written.

What has no mustache form (a Jinja `if` on another expression, another filter, a `for` over
something else, a name read in a section as Jinja reads it) is reported by its message, line
and source: not guessed.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from workbench.core.formats.mustache import MustacheSyntaxError, convert_body, jinja_name, tokenize

Token = tuple[str, str]  # (kind, key or text): literal, variable, no escape, section, inverted section, end

_PREFIX = {"variable": "", "no escape": "&", "section": "#", "inverted section": "^", "end": "/"}
_SIGILS = frozenset("!#^/>={&")  # a first character chevron reads as the tag's kind
_BLOCKS = frozenset({"section", "inverted section", "end", "set delimiter"})  # may be standalone
_DEFAULT = ("{{", "}}")
_PAIRS = (("{{", "}}"), ("<%", "%>"), ("[[", "]]"), ("<<", ">>"), ("(%", "%)"))


class NoMustacheForm(ValueError):
    """A Jinja construct the import never writes: there is no mustache tag that renders as it does."""

    def __init__(self, what: str, line: int) -> None:
        super().__init__(what)
        self.what = what
        self.line = line


@dataclass
class MustacheExport:
    """Each message's mustache (its newlines at both ends stripped), or why there is none."""

    texts: list[str] = field(default_factory=list)
    problem: str | None = None  # "message N, line L: ...": the first construct with no mustache form
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Frame:
    kind: str  # "section" | "inverted section"
    var: str  # a section's Jinja loop variable ("" for an inverted one)
    key: str


# ------------------------------------------------------------------ Jinja -> mustache tokens
def _source(node: Any) -> str:
    """A Jinja expression, written back for a message (close to what the user wrote)."""
    from jinja2 import nodes

    if isinstance(node, nodes.Name):
        return str(node.name)
    if isinstance(node, nodes.Const):
        return json.dumps(node.value) if isinstance(node.value, str) else repr(node.value).lower() if isinstance(node.value, bool) else repr(node.value)
    if isinstance(node, nodes.Getattr):
        return f"{_source(node.node)}.{node.attr}"
    if isinstance(node, nodes.Getitem):
        return f"{_source(node.node)}[{_source(node.arg)}]"
    if isinstance(node, nodes.Filter):
        args = [_source(a) for a in node.args] + [f"{k.key}={_source(k.value)}" for k in node.kwargs]
        return f"{_source(node.node)} | {node.name}" + (f"({', '.join(args)})" if args else "")
    if isinstance(node, nodes.Not):
        return f"not {_source(node.node)}"
    if isinstance(node, (nodes.List, nodes.Tuple)):
        return "[" + ", ".join(_source(item) for item in node.items) + "]"
    if isinstance(node, nodes.Call):
        return f"{_source(node.node)}(...)"
    if isinstance(node, nodes.Test):
        return f"{_source(node.node)} is {node.name}"
    return f"({type(node).__name__.lower()} expression)"


def _describe(node: Any) -> str:
    from jinja2 import nodes

    if isinstance(node, nodes.If):
        return f"`{{% if {_source(node.test)} %}}` (a Jinja `if` on something other than `not (a mustache value)`)"
    if isinstance(node, nodes.For):
        return f"`{{% for {_source(node.target)} in {_source(node.iter)} %}}` (a Jinja `for` other than over `| mustache_section`)"
    if isinstance(node, nodes.Filter) and node.name not in ("mustache", "mustache_path", "mustache_get", "mustache_section"):
        return f"the filter `{node.name}` in `{{{{ {_source(node)} }}}}`"
    if isinstance(node, nodes.Expr):
        return f"`{{{{ {_source(node)} }}}}`"
    names = {"Assign": "set", "AssignBlock": "set", "FilterBlock": "filter", "Include": "include", "Macro": "macro", "CallBlock": "call", "With": "with", "Scope": "scope", "Block": "block", "Extends": "extends"}
    return f"a Jinja `{names.get(type(node).__name__, type(node).__name__.lower())}` block"


class _Walker:
    """Reads the Jinja forms of `convert_body` back into mustache tokens, one message at a time."""

    def __init__(self) -> None:
        self.tops: set[str] = set()  # names read outside every section (as `top_names` finds them)
        self.gets: list[tuple[int, str, bool, int]] = []  # (message, a mustache_get's first name, whether it reads the input, line)
        self.message = 0

    def tokens(self, template: str) -> list[Token]:
        from workbench.core.templates import environment

        try:
            ast = environment().parse(template)
        except Exception as err:
            raise NoMustacheForm(f"the template does not parse: {err}", getattr(err, "lineno", 1) or 1) from None
        out: list[Token] = []
        self._walk(ast.body, [], out)
        return _merged(out)

    def _walk(self, body: list[Any], frames: list[_Frame], out: list[Token]) -> None:
        from jinja2 import nodes

        for node in body:
            if isinstance(node, nodes.Output):
                for child in node.nodes:
                    if isinstance(child, nodes.TemplateData):
                        out.append(("literal", child.data))
                    elif isinstance(child, nodes.Const) and isinstance(child.value, str):
                        out.append(("literal", child.value))
                    else:
                        self._output(child, frames, out)
            elif isinstance(node, nodes.For):
                filtered: Any = node.iter
                if not (isinstance(node.target, nodes.Name) and node.test is None and not node.recursive and not node.else_ and _plain_filter(filtered, "mustache_section", 0)):
                    raise NoMustacheForm(_describe(node), node.lineno)
                var = node.target.name
                if not jinja_name(var) or var in [f.var for f in frames]:
                    raise NoMustacheForm(f"the section variable `{var}` hides another one", node.lineno)
                key = self._value(filtered.node, frames, section=True)
                if key is None:  # `'' | mustache_section` iterates nothing
                    continue
                self._block(_Frame("section", var, key), node.body, frames, out)
            elif isinstance(node, nodes.If):
                if not isinstance(node.test, nodes.Not) or node.elif_ or node.else_:
                    raise NoMustacheForm(_describe(node), node.lineno)
                key = self._value(node.test.node, frames, section=True)
                if key is None:  # `not ('')`: always rendered; a scope below sections, which it writes no tag for
                    self._walk(node.body, [*frames, _Frame("inverted section", "", "")], out)
                    continue
                clash = [f for f in frames if f.kind == "section" and f.key == key]
                if clash:
                    raise NoMustacheForm(f"the inverted section {key!r} inside a section of the same name (chevron ends a list section at the inner closing tag)", node.lineno)
                self._block(_Frame("inverted section", "", key), node.body, frames, out)
            else:
                raise NoMustacheForm(_describe(node), node.lineno)

    def _block(self, frame: _Frame, body: list[Any], frames: list[_Frame], out: list[Token]) -> None:
        out.append((frame.kind, frame.key))
        self._walk(body, [*frames, frame], out)
        out.append(("end", frame.key))

    def _output(self, node: Any, frames: list[_Frame], out: list[Token]) -> None:
        from jinja2 import nodes

        escape = _escape_of(node)
        if escape is None:
            raise NoMustacheForm(_describe(node), node.lineno)
        value = node.node
        below = frames[-2] if len(frames) > 1 else None
        if isinstance(value, nodes.Name) and escape and frames and frames[-1].kind != "section" and below is not None and below.kind == "section" and value.name == below.var:
            out.append(("variable", "."))  # `{{.}}` in an inverted section: chevron prints the item below it
            return
        key = self._value(value, frames, section=False)
        if key is not None:
            out.append(("variable" if escape else "no escape", key))

    def _value(self, node: Any, frames: list[_Frame], section: bool) -> str | None:
        """The mustache key of a value (None: the import's `''`, which renders nothing)."""
        from jinja2 import nodes

        loops = [f.var for f in reversed(frames) if f.kind == "section"]
        if isinstance(node, nodes.Const) and node.value == "" and isinstance(node.value, str):
            return None
        if isinstance(node, nodes.Const) and node.value is True and section and frames and frames[-1].kind != "section" and frames[-1].key:
            return "."  # an inverted section's scope is True in chevron
        if isinstance(node, nodes.Name):
            if frames and frames[-1].kind == "section" and node.name == frames[-1].var:
                return "."
            if not loops and node.name not in [f.var for f in frames] and jinja_name(node.name):
                self.tops.add(node.name)
                return _key(str(node.name), node.lineno)
        elif _plain_filter(node, "mustache_path", 1) and isinstance(node.node, nodes.Name) and not loops:
            path = node.args[0]
            if isinstance(path, nodes.Const) and isinstance(path.value, str) and jinja_name(node.node.name):
                self.tops.add(node.node.name)
                return _key(f"{node.node.name}.{path.value}", node.lineno)
        elif isinstance(node, nodes.Filter) and node.name == "mustache_get" and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None and 1 <= len(node.args) <= 2:
            scopes, path = node.node, node.args[0]
            if isinstance(scopes, nodes.List) and [getattr(n, "name", None) for n in scopes.items] == loops and loops and isinstance(path, nodes.Const) and isinstance(path.value, str) and path.value != ".":
                first = path.value.split(".")[0]
                top = node.args[1] if len(node.args) == 2 else None
                if top is None or (isinstance(top, nodes.Name) and top.name == first and top.name not in loops):
                    self.gets.append((self.message, first, top is not None, node.lineno))
                    return _key(path.value, node.lineno)
        where = "a name inside a section is looked up in the sections' items first: `mustache_get`" if loops else "a mustache value"
        raise NoMustacheForm(f"`{_source(node)}` ({where})", node.lineno)


def _plain_filter(node: Any, name: str, arguments: int) -> bool:
    from jinja2 import nodes

    return isinstance(node, nodes.Filter) and node.name == name and len(node.args) == arguments and not node.kwargs and node.dyn_args is None and node.dyn_kwargs is None and node.node is not None


def _escape_of(node: Any) -> bool | None:
    """Whether `x | mustache(...)` escapes (None: not the mustache filter, or other arguments)."""
    from jinja2 import nodes

    if not isinstance(node, nodes.Filter) or node.name != "mustache" or node.node is None or node.dyn_args is not None or node.dyn_kwargs is not None:
        return None
    if not node.args and not node.kwargs:
        return True
    if len(node.args) + len(node.kwargs) != 1:
        return None
    given = node.args[0] if node.args else node.kwargs[0].value if node.kwargs[0].key == "escape" else None
    return bool(given.value) if isinstance(given, nodes.Const) and isinstance(given.value, bool) else None


def _key(key: str, line: int) -> str:
    """A key chevron reads back as itself: not empty, no whitespace at its ends (a tag is stripped)."""
    if not key or key != key.strip():
        raise NoMustacheForm(f"the name {key!r} (chevron strips the whitespace of a tag)", line)
    return key


def _merged(tokens: list[Token]) -> list[Token]:
    out: list[Token] = []
    for kind, text in tokens:
        if kind == "literal" and out and out[-1][0] == "literal":
            out[-1] = ("literal", out[-1][1] + text)
        elif kind != "literal" or text:
            out.append((kind, text))
    return out


def _edges_stripped(tokens: list[Token]) -> tuple[list[Token], bool]:
    """The tokens with the newlines at the message's ends stripped (Prompty strips them after
    rendering), and whether a literal newline was there."""
    out = list(tokens)
    changed = False
    for index in (0, -1):
        if out and out[index][0] == "literal":
            text = out[index][1]
            stripped = text.lstrip("\n") if index == 0 else text.rstrip("\n")
            changed = changed or stripped != text
            out[index] = ("literal", stripped)
            if not stripped:
                out.pop(index)
    return out, changed


# ------------------------------------------------------------------ mustache tokens -> text
def _delimiters(text: str, content: str, current_right: str) -> tuple[str, str]:
    """Delimiters `text` does not hold before its end (the tag after it starts there), that end
    `content` (and an empty comment) where it ends, and that a set-delimiter tag under
    `current_right` can name."""

    def candidates() -> Iterator[tuple[str, str]]:
        yield from _PAIRS
        for width in range(1, max(len(text), len(content)) + 3):  # "<~~%" longer than a text is not in it
            yield "<" + "~" * width + "%", "%" + "~" * width + ">"

    for left, right in candidates():
        if _opens_at_end(text, left) and _closes_at_end(content, right) and _closes_at_end("!", right) and _closes_at_end(f"={left} {right}=", current_right):
            return left, right
    raise AssertionError("unreachable: a delimiter longer than the text is not in it")


def _opens_at_end(text: str, left: str) -> bool:
    return (text + left).find(left) == len(text)


def _closes_at_end(content: str, right: str) -> bool:
    return (content + right).find(right) == len(content)


def _content(kind: str, key: str) -> str:
    prefix = _PREFIX[kind]
    if kind == "variable" and key[0] in _SIGILS:
        prefix = " "  # `{{ #x}}` is the variable `#x`
    return prefix + key


def _pieces(tokens: list[Token]) -> list[tuple[str, str, str]]:
    """(kind, text, an empty comment under the delimiters after it) of each piece written; the
    message ends under the default delimiters (the next one starts with them)."""
    pieces: list[tuple[str, str, str]] = []
    left, right = _DEFAULT
    pending = ""
    for kind, key in [*tokens, ("reset", "")]:
        if kind == "literal":
            pending += key
            continue
        if kind == "reset" and (left, right) == _DEFAULT and _DEFAULT[0] not in pending:
            pieces.append(("literal", pending, ""))
            break
        content = f"={_DEFAULT[0]} {_DEFAULT[1]}=" if kind == "reset" else _content(kind, key)
        if not (_opens_at_end(pending, left) and _closes_at_end(content, right)):
            new = _delimiters(pending, content, right)
            pieces.append(("set delimiter", f"{left}={new[0]} {new[1]}={right}", f"{new[0]}!{new[1]}"))
            left, right = new
        pieces.append(("literal", pending, ""))
        pending = ""
        after = _DEFAULT if kind == "reset" else (left, right)
        pieces.append(("set delimiter" if kind == "reset" else kind, f"{left}{content}{right}", f"{after[0]}!{after[1]}"))
    return [piece for piece in pieces if piece[1]]


def _blank(text: str) -> bool:
    return not text or text.isspace()


def _written(pieces: list[tuple[str, str, str]]) -> str:
    """The pieces joined, an empty comment after each block tag alone on its line (chevron
    would drop the line: its standalone rule, with its notion of whitespace)."""
    before: list[bool] = []
    blank = True
    for kind, text, _ in pieces:
        before.append(blank)
        if kind == "literal":
            blank = _blank(text.rsplit("\n", 1)[-1]) if "\n" in text else blank and _blank(text)
        else:
            blank = False
    after: list[bool] = [False] * len(pieces)
    blank = True
    for index in range(len(pieces) - 1, -1, -1):
        kind, text, _ = pieces[index]
        after[index] = blank
        if kind == "literal":
            blank = _blank(text.split("\n", 1)[0]) if "\n" in text else blank and _blank(text)
        else:
            blank = False
    out = []
    for (kind, text, comment), alone_before, alone_after in zip(pieces, before, after, strict=True):
        out.append(text + (comment if kind in _BLOCKS and alone_before and alone_after else ""))
    return "".join(out)


def _read_back(text: str) -> list[Token]:
    """The tokens chevron reads in `text` (set delimiters applied, comments dropped)."""
    return _merged([(token.kind, token.key) for token in tokenize(text) if token.kind != "set delimiter"])


# ------------------------------------------------------------------ the messages
def to_mustache(messages: list[tuple[str, bool]], declared: Collection[str], role_line: re.Pattern[str]) -> MustacheExport:
    """Each message's Jinja (partials inlined, outside the import's `trim` wrapper; whether it had
    it) as mustache that chevron renders as the workbench renders the Jinja. `declared`: the
    prompt's inputs; `role_line`: a line Prompty reads as a role marker."""
    result = MustacheExport()
    walker = _Walker()
    all_tokens: list[list[Token]] = []
    for index, (template, trimmed) in enumerate(messages, 1):
        walker.message = index
        try:
            tokens, changed = _edges_stripped(walker.tokens(template))
        except NoMustacheForm as err:
            result.problem = f"message {index}, line {err.line}: {err.what} has no mustache form"
            return result
        if changed and not trimmed:
            result.warnings.append(f"message {index}: its leading or trailing newlines are dropped (Prompty strips them)")
        all_tokens.append(tokens)
    tops = {name for name in declared if jinja_name(name)} | walker.tops
    for index, name, reads_input, line in walker.gets:
        if reads_input != (name in tops):
            how = "reads the input" if reads_input else "does not read the input"
            result.problem = f"message {index}, line {line}: a name inside a section that {how} `{name}` has no mustache form (in mustache it falls back to the input of that name exactly when the file has that input)"
            return result
    for index, tokens in enumerate(all_tokens, 1):
        text = _written(_pieces(tokens))
        shown = "".join(key for kind, key in tokens if kind == "literal")
        if any(role_line.match(line.strip()) for line in [*shown.split("\n"), *text.split("\n")]):
            result.problem = f"message {index} has a line Prompty may read as a role marker (`user:` alone on a line)"
            return result
        result.texts.append(text)
    return _checked(result, all_tokens, declared)


def _checked(result: MustacheExport, expected: list[list[Token]], declared: Collection[str]) -> MustacheExport:
    """`result`, once its texts read back as the tokens meant and convert to the same Jinja forms
    (else a problem, nothing written); what the import would say of them (a line such as
    `{{type}}:` that may render as a role marker) is said."""
    firsts = list(accumulate((text.count("\n") + 1 for text in result.texts), initial=1))
    try:
        read = [_read_back(text) for text in result.texts]
        converted = convert_body(list(zip(result.texts, firsts, strict=False)), set(declared))
        walker = _Walker()
        again = [_edges_stripped(walker.tokens(template))[0] for template in converted.templates] if not converted.failed else []
    except (MustacheSyntaxError, NoMustacheForm):
        read, again = [], []
    if read != expected or again != expected:
        return MustacheExport(problem="the mustache written does not read back as the prompt (please report it)")
    for line, message, _ in converted.problems:
        index = bisect_right(firsts, line)
        result.warnings.append(f"message {index}, line {line - firsts[index - 1] + 1}: {message}")
    return result


__all__ = ["MustacheExport", "NoMustacheForm", "to_mustache"]
