"""Partials: template files that prompts share with `{% include "shared/policy.jinja" %}`.

A partial is a `.jinja` file under `prompts/` (it is not a prompt). Templates name it by its path
relative to `prompts/`, whichever folder the including file is in, so the same line works in
every prompt and in other partials. The loader reads each partial through the same reader as
`file://` references, at the same revision as the prompt, and keeps the texts on the `Prompt`
(`Prompt.partials`): rendering never reads a file, so a release pins its partials and a serving
application renders exactly what was released.

| rule | why |
| --- | --- |
| `include`, `import`, `from ... import` (and `extends`) name a partial by a quoted, constant path | the files a prompt depends on are known before it renders (history, diff, validation) |
| the path stays inside `prompts/` (`core.names.resolve_reference`) and ends in `.jinja` | confined like every `file://` reference; partials are never mistaken for prompts |
| at most 8 levels of partials including partials, 64 partials per prompt, 1 MiB each | a prompt's dependencies end |
| a partial that includes itself (directly or not) is an error | it could never finish rendering |
| the partial file's final newline is dropped when it is included | as Jinja does for files: the include line is replaced by the text, not by the text plus a blank line |
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from workbench.core.model import PROMPTS_DIR, Partial
from workbench.core.names import UnsafePath, resolve_reference

if TYPE_CHECKING:  # jinja2 is imported by the templating modules, not by the many users of these rules
    from jinja2 import nodes

PARTIAL_SUFFIX = ".jinja"
MAX_PARTIAL_DEPTH = 8
MAX_PARTIALS = 64
MAX_PARTIAL_CHARS = 1_048_576

# A quoted name after include / import / from / extends, in a template or in the YAML text that
# holds one (quotes may be escaped inside a double-quoted YAML string).
_REF_RE = re.compile(r"""\{%[-+]?\s*(?:include|import|from|extends)\s+\\?(["'])(.+?)\\?\1""")


def is_partial_path(path: str) -> bool:
    """`prompts/**/*.jinja`, nothing hidden: the one rule for which files are partials."""
    rel = path.replace("\\", "/")
    return rel.startswith(PROMPTS_DIR + "/") and rel.endswith(PARTIAL_SUFFIX) and "/." not in rel


def partial_path(name: str) -> str:
    """The repository path of the partial a template names (`shared/x.jinja` -> `prompts/shared/x.jinja`).

    Raises:
        UnsafePath: the name leaves prompts/, is absolute, hidden, or not a `.jinja` file.
    """
    target = resolve_reference(name, PROMPTS_DIR + "/")
    if not target.endswith(PARTIAL_SUFFIX):
        raise UnsafePath(f"a partial is a {PARTIAL_SUFFIX} file under {PROMPTS_DIR}/ ({name!r} is not)")
    return target


def template_references(ast: nodes.Template) -> Iterator[tuple[str | None, int, frozenset[str]]]:
    """(name, line, names bound there) of every template an AST includes, imports or extends;
    name None when it is computed (`{% include var %}`), which the workbench refuses. The
    names bound are those of the `{% with %}` and `{% for %}` blocks around it: an included
    partial may use them (Dotprompt's `{{> p who=name}}` comes in as a `with`)."""
    from jinja2 import nodes

    kinds = (nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)

    def walk(node: nodes.Node, bound: frozenset[str]) -> Iterator[tuple[str | None, int, frozenset[str]]]:
        for child in node.iter_child_nodes():
            if isinstance(child, kinds):
                template = getattr(child, "template", None)
                name = template.value if isinstance(template, nodes.Const) and isinstance(template.value, str) else None
                yield name, child.lineno, bound
                continue
            inner = bound
            if isinstance(child, nodes.With):
                inner = bound | {t.name for t in child.targets if isinstance(t, nodes.Name)}
            elif isinstance(child, nodes.For):
                target = child.target
                names = [target] if isinstance(target, nodes.Name) else list(target.find_all(nodes.Name))
                inner = bound | {n.name for n in names} | {"loop"}
            yield from walk(child, inner)

    yield from walk(ast, frozenset())


def referenced_partials(text: str | None) -> list[str]:
    """Repository paths of the partials a file's text names (unsafe names left out); read from the
    text itself, so it also works on a prompt that does not load."""
    if not text or "{%" not in text:
        return []
    found: dict[str, None] = {}
    for _quote, name in _REF_RE.findall(text):
        try:
            found[partial_path(name)] = None
        except UnsafePath:
            continue
    return list(found)


def partial_closure(text: str | None, read: Callable[[str], str | None]) -> dict[str, str | None]:
    """Every partial a prompt's text uses, transitively: path -> text (None when missing).

    Args:
        text: the prompt file's text.
        read: reads a repository path at the prompt's revision (None when it does not exist).
    """
    found: dict[str, str | None] = {}
    queue = referenced_partials(text)
    while queue and len(found) < MAX_PARTIALS:
        path = queue.pop(0)
        if path in found:
            continue
        try:
            content = read(path)
        except (OSError, ValueError, LookupError):
            content = None
        found[path] = content
        queue.extend(p for p in referenced_partials(content) if p not in found)
    return dict(sorted(found.items()))


# --------------------------------------------------------------------------- rendering
_active: ContextVar[Mapping[str, str] | None] = ContextVar("workbench_partials", default=None)


@contextmanager
def partials_scope(partials: tuple[Partial, ...]) -> Iterator[None]:
    """Make a prompt's partials the ones its templates include while rendering (thread- and task-local)."""
    token = _active.set({p.path: p.source for p in partials})
    try:
        yield
    finally:
        _active.reset(token)


def active_partials() -> Mapping[str, str] | None:
    """The partials of the prompt being rendered (`partials_scope`), path -> text."""
    return _active.get()


def strip_final_newline(text: str) -> str:
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text


__all__ = [
    "MAX_PARTIALS",
    "MAX_PARTIAL_CHARS",
    "MAX_PARTIAL_DEPTH",
    "PARTIAL_SUFFIX",
    "Partial",
    "active_partials",
    "is_partial_path",
    "partial_closure",
    "partial_path",
    "partials_scope",
    "referenced_partials",
    "strip_final_newline",
    "template_references",
]
