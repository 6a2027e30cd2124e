"""Mustache's values in the workbench's Jinja: what Prompty's mustache renderer (chevron 0.14)
prints, looks up and iterates, as filters of the template environment (`core.templates`).

A mustache Prompty file is converted to Jinja when it is imported (`core.formats.mustache`), so
it renders in the same bounded sandbox as every other template (output size, loop iterations,
render time: `core.sandbox`). These filters carry the rules where chevron and Jinja differ:

- `mustache`: a value's text. Nothing for a falsy value but 0 and False; `str()` otherwise;
  `&`, `"`, `<` and `>` written as HTML entities (chevron's `_html_escape`: `'` is kept) unless
  `escape=false` (`{{{x}}}`, `{{& x}}`).
- `mustache_path`: `a.b.0` inside a value: a mapping's keys, a list's or a text's indexes; ''
  when a step is missing.
- `mustache_get`: a name looked up through the open sections' items, innermost first, then the
  input of that name: the first item holding the whole dotted path wins, even with a falsy value.
- `mustache_section`: what a section iterates: a list's truthy items (chevron renders nothing
  for a falsy item), else the value itself once when it is truthy.

The values are data (YAML, JSON): unlike chevron, no Python attribute is ever read (chevron
printed a method for `{{name.upper}}` and called it for `{{#name.upper}}`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from workbench.core.render_budget import current_budget, weigh
from workbench.core.render_guards import guard_filter

_MISSING = object()
_TICK_EVERY = 4096


def _kept(value: Any) -> bool:
    """chevron's `value in (0, False)`: the falsy values it prints rather than drops."""
    return isinstance(value, (int, float)) and value == 0


def _found(value: Any) -> Any:
    """A value chevron found: itself when truthy or 0/False, else ''."""
    return value if _kept(value) or value else ""


def _walk(value: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(value, Mapping):
            if part not in value:
                return _MISSING
            value = value[part]
        elif isinstance(value, (list, tuple, str)):
            try:
                value = value[int(part)]
            except (ValueError, IndexError):
                return _MISSING
        else:
            return _MISSING
    return value


def mustache_text(value: Any, escape: bool = True) -> str:
    """The text chevron writes for `{{value}}` (`escape`) or `{{{value}}}`."""
    if not (_kept(value) or value):
        return ""
    if isinstance(value, str):
        text = value
    else:
        budget = current_budget()
        budget.size(weigh(budget, value), "the text of a mustache value")  # before str() builds it
        text = str(value)
    if escape:
        text = text.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def mustache_path(value: Any, path: str) -> Any:
    """`{{name.rest}}` outside any section: `rest` looked up inside the input `name`."""
    found = _walk(value, path.split("."))
    return "" if found is _MISSING else _found(found)


def mustache_get(scopes: list[Any], path: str, *top: Any) -> Any:
    """`{{path}}` inside sections: each open section's item (innermost first), then `top` (the
    input named by the path's first part, when there is one) for the rest of the path."""
    parts = path.split(".")
    for scope in scopes:
        found = _walk(scope, parts)
        if found is not _MISSING:
            return _found(found)
    if top:
        found = _walk(top[0], parts[1:])
        if found is not _MISSING:
            return _found(found)
    return ""


def mustache_section(value: Any) -> list[Any]:
    """The items a section renders its body for (see the module docstring)."""
    if not isinstance(value, (list, tuple)):
        return [value] if value else []
    budget = current_budget()
    items = []
    for count, item in enumerate(value, 1):
        if count % _TICK_EVERY == 0:
            budget.tick()  # a long list of falsy items iterates nothing the loop budget counts
        if item:
            items.append(item)
    return items


def _ticked(function: Callable[..., Any]) -> Callable[..., Any]:
    """A lookup returns a value the variables already hold: only the render's time is checked."""

    def ticked(*args: Any, **kwargs: Any) -> Any:
        current_budget().tick()
        return function(*args, **kwargs)

    return ticked


def mustache_filters() -> dict[str, Callable[..., Any]]:
    """The filters by name, each under the render budget."""
    return {
        "mustache": guard_filter("mustache", mustache_text),
        "mustache_path": _ticked(mustache_path),
        "mustache_get": _ticked(mustache_get),
        "mustache_section": _ticked(mustache_section),
    }


MUSTACHE_FILTERS = frozenset({"mustache", "mustache_path", "mustache_get", "mustache_section"})

__all__ = ["MUSTACHE_FILTERS", "mustache_filters", "mustache_get", "mustache_path", "mustache_section", "mustache_text"]
