"""Jinja2 templates of a prompt: one sandboxed, strict environment for checking and rendering.

Strict (`StrictUndefined`): a variable the caller forgot is an error, never an empty
string silently sent to a model. Sandboxed and bounded (`core.sandbox.BoundedEnvironment`):
prompt files come from many hands, and a render ends in bounded time and memory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from jinja2 import (
    BaseLoader,
    Environment,
    StrictUndefined,
    TemplateNotFound,
    TemplateSyntaxError,
    meta,
    nodes,
)

from workbench.core.model import InputSpec, Partial, Problem, Severity
from workbench.core.mustache import mustache_filters
from workbench.core.names import UnsafePath
from workbench.core.partials import (
    MAX_PARTIAL_CHARS,
    MAX_PARTIAL_DEPTH,
    MAX_PARTIALS,
    active_partials,
    partial_path,
    strip_final_newline,
    template_references,
)
from workbench.core.render_guards import guard_filter
from workbench.core.safe_text import clean
from workbench.core.sandbox import BoundedEnvironment
from workbench.core.yamlpos import Path, YamlDocument

# The name Jinja binds at a template's top (`self`, the template): an input of that name is
# never what the template sees (`{{ self }}` rendered `<TemplateReference None>`, whatever was
# passed). `loop`, `caller`, `varargs` and `kwargs` are bound only inside a for or a macro, and
# at the top render the value passed.
JINJA_RESERVED_NAMES = frozenset({"self"})


class PartialLoader(BaseLoader):
    """Serves `include` from the partials of the prompt being rendered (`core.partials.partials_scope`),
    never from disk: what renders is what the loader read at the prompt's revision.

    Compiled partials stay in Jinja's cache while their text is the same; another text under
    the same name (another revision) is compiled anew.
    """

    def get_source(self, environment: Environment, template: str) -> tuple[str, str | None, Callable[[], bool] | None]:
        active = active_partials()
        try:
            path = partial_path(template)
        except UnsafePath as err:
            raise TemplateNotFound(f"{template} ({err.reason})") from None
        if active is None or path not in active:
            raise TemplateNotFound(f"{template} (not a partial of this prompt: partials are read when the prompt is loaded)")
        text = active[path]

        def uptodate() -> bool:
            current = active_partials()
            return current is not None and current.get(path) == text

        # A file's last newline ends the file, not the text (Jinja's default for files): the
        # line after an include is not pushed one line down.
        return strip_final_newline(text), path, uptodate


@cache
def environment() -> BoundedEnvironment:
    env = BoundedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
        loader=PartialLoader(),
    )
    # promptfoo's Nunjucks filters, so imported prompts render the same: `load` parses JSON,
    # `dump` prints JSON as JavaScript's JSON.stringify does.
    env.filters["load"] = guard_filter("load", _load_json)
    env.filters["dump"] = guard_filter("dump", _dump_json)
    # Prompty's mustache templates, converted to Jinja when imported, render with chevron's rules.
    env.filters.update(mustache_filters())
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


@dataclass
class _Check:
    """What checking a prompt's templates found: problems, names used, partials read."""

    path: str
    inputs: Mapping[str, InputSpec]
    check_names: bool
    read_file: Callable[[str], str] | None
    problems: list[Problem] = field(default_factory=list)
    used: set[str] = field(default_factory=set)
    partials: dict[str, str] = field(default_factory=dict)
    failed: set[str] = field(default_factory=set)
    # partial -> names given at every place it is included (`{% with %}`, loop variables)
    bound: dict[str, frozenset[str]] = field(default_factory=dict)
    undeclared: dict[str, set[str]] = field(default_factory=dict)  # partial -> names neither input nor bound


def template_problems(data: Mapping[str, Any], doc: YamlDocument, path: str, inputs: Mapping[str, InputSpec]) -> list[Problem]:
    """Syntax errors, variables used but not declared (error), declared but unused (warning)."""
    return check_templates(data, doc, path, inputs)[0]


def check_templates(
    data: Mapping[str, Any],
    doc: YamlDocument,
    path: str,
    inputs: Mapping[str, InputSpec],
    read_file: Callable[[str], str] | None = None,
) -> tuple[list[Problem], tuple[Partial, ...]]:
    """Check every template of a prompt and the partials they include; read those partials.

    Problems inside a partial are reported at the partial's own `path:line:col`; a partial
    that cannot be found, at the line of the `include` that names it.

    Returns:
        The problems, and the partials (path and text) the templates use, transitively.
    """
    env = environment()
    sources = template_sources(data)
    check = _Check(path, inputs, isinstance(data.get("inputs"), dict), read_file)
    parsed_all = True
    for where, label, source in sources:
        try:
            ast = env.parse(source)
        except TemplateSyntaxError as err:
            line, col = _line_in_file(doc, where, err.lineno or 1)
            check.problems.append(Problem(path, line, col, f"{label}: template error: {err.message}", Severity.ERROR, "check the {{ }} and {% %} pairs"))
            parsed_all = False
            continue
        except RecursionError:
            line, col = _line_in_file(doc, where, 1)
            check.problems.append(Problem(path, line, col, f"{label}: template error: expressions nested too deeply"))
            parsed_all = False
            continue
        names = meta.find_undeclared_variables(ast) - set(env.globals)
        check.used |= names
        if check.check_names or names:
            for name in sorted(names - set(inputs)):
                line, col = _line_in_file(doc, where, _first_line_of(source, name))
                check.problems.append(
                    Problem(path, line, col, f"{label} uses '{name}', which is not declared in inputs", Severity.ERROR, f"add `{name}: {{type: string, required: true}}` under inputs:")
                )

        def site(line: int, where: Any = where) -> tuple[str, int, int]:
            return (path, *_line_in_file(doc, where, line))

        _check_references(check, ast, label, site, depth=1, chain=())
    _undeclared_in_partials(check)
    parsed_all = parsed_all and not check.failed
    if sources and parsed_all:
        for name in inputs:
            if name not in check.used and name not in JINJA_RESERVED_NAMES:  # the loader says why
                pos = doc.where(("inputs", name), key=True)
                check.problems.append(Problem(path, pos.line, pos.col, f"input '{name}' is declared but no template uses it", Severity.WARNING))
    partials = tuple(Partial(p, text) for p, text in sorted(check.partials.items()))
    return check.problems, partials


def _check_references(
    check: _Check,
    ast: nodes.Template,
    label: str,
    site: Callable[[int], tuple[str, int, int]],
    *,
    depth: int,
    chain: tuple[str, ...],
    bound: frozenset[str] = frozenset(),
) -> None:
    """Read and check every partial `ast` includes (depth first), reporting at `site(line)`."""
    for name, line, bound_here in template_references(ast):
        file, at_line, at_col = site(line)
        if name is None:
            check.problems.append(Problem(file, at_line, at_col, f"{label}: include needs a fixed partial path in quotes", Severity.ERROR, 'write {% include "shared/policy.jinja" %}'))
            continue
        try:
            target = partial_path(name)
        except UnsafePath as err:
            check.problems.append(Problem(file, at_line, at_col, f"{label}: partial {clean(name)!r}: {err.reason}", Severity.ERROR, "name a .jinja file by its path under prompts/, e.g. shared/policy.jinja"))
            continue
        if target in chain:
            check.problems.append(Problem(file, at_line, at_col, f"{label}: partial {clean(name)} includes itself ({' -> '.join((*chain, target))})"))
            check.failed.add(target)
            continue
        given = bound | bound_here
        check.bound[target] = check.bound[target] & given if target in check.bound else given
        if target in check.partials or target in check.failed:
            continue
        if depth > MAX_PARTIAL_DEPTH or len(check.partials) >= MAX_PARTIALS:
            check.problems.append(Problem(file, at_line, at_col, f"{label}: more than {MAX_PARTIAL_DEPTH} levels or {MAX_PARTIALS} partials (the limit)"))
            check.failed.add(target)
            continue
        text = _read_partial(check, target, name, label, (file, at_line, at_col))
        if text is None:
            check.failed.add(target)
            continue
        _check_partial(check, target, text, depth=depth, chain=(*chain, target), bound=given)


def _read_partial(check: _Check, target: str, name: str, label: str, at: tuple[str, int, int]) -> str | None:
    file, line, col = at
    if check.read_file is None:
        check.problems.append(Problem(file, line, col, f"{label}: cannot read partial {clean(name)} here"))
        return None
    try:
        text = check.read_file(target)
    except UnicodeDecodeError:
        check.problems.append(Problem(file, line, col, f"{label}: partial {clean(name)} is not UTF-8 text"))
        return None
    except ValueError as err:  # refused by the reader (a link that leaves prompts/)
        check.problems.append(Problem(file, line, col, f"{label}: partial {clean(name)}: {clean(str(err))}"))
        return None
    except (OSError, LookupError):
        check.problems.append(Problem(file, line, col, f"{label}: partial {clean(name)} not found ({clean(target)})", Severity.ERROR, "create the file, or fix the path (relative to prompts/)"))
        return None
    if len(text) > MAX_PARTIAL_CHARS:
        check.problems.append(Problem(target, 1, 1, f"the partial is {len(text):,} characters long; the limit is {MAX_PARTIAL_CHARS:,}"))
        return None
    return text


def _check_partial(check: _Check, target: str, text: str, *, depth: int, chain: tuple[str, ...], bound: frozenset[str]) -> None:
    env = environment()
    label = f"partial {target[len('prompts/'):]}"
    try:
        ast = env.parse(text)
    except TemplateSyntaxError as err:
        check.problems.append(Problem(target, err.lineno or 1, 1, f"template error: {err.message}", Severity.ERROR, "check the {{ }} and {% %} pairs"))
        check.failed.add(target)
        return
    except RecursionError:
        check.problems.append(Problem(target, 1, 1, "template error: expressions nested too deeply"))
        check.failed.add(target)
        return
    check.partials[target] = text
    names = meta.find_undeclared_variables(ast) - set(env.globals)
    check.used |= names
    check.undeclared[target] = names - set(check.inputs)

    def site(line: int) -> tuple[str, int, int]:
        source_line = (text.splitlines() or [""])[line - 1] if 0 < line <= len(text.splitlines()) else ""
        return target, line, max(1, source_line.find("{%") + 1)

    _check_references(check, ast, label, site, depth=depth + 1, chain=chain, bound=bound)


def _undeclared_in_partials(check: _Check) -> None:
    """A partial's name that is no input must be given wherever the partial is included."""
    for target, names in check.undeclared.items():
        text = check.partials[target]
        for name in sorted(names - check.bound.get(target, frozenset())):
            line = _first_line_of(text, name)
            col = max(1, (text.splitlines() or [""])[line - 1].find(name) + 1) if text.splitlines() else 1
            check.problems.append(
                Problem(target, line, col, f"uses '{name}', which is not declared in the inputs of {check.path} (it includes this partial)", Severity.ERROR, f"declare `{name}` under inputs: in {check.path}, or stop using it here")
            )


def _first_line_of(source: str, name: str) -> int:
    for number, line in enumerate(source.splitlines(), 1):
        if name in line:
            return number
    return 1
