"""Size checks made before a string method or a filter allocates (`core.sandbox` wires them in)."""

from __future__ import annotations

import functools
import re
import string
from collections.abc import Callable, Mapping
from typing import Any

from workbench.core.render_budget import (
    PERCENT_SPEC,
    RenderBudget,
    TemplateLimitError,
    as_int,
    check_value,
    current_budget,
    materialize,
    weigh,
    weight,
)


def check_percent(budget: RenderBudget, fmt: str | bytes, args: Any) -> None:
    """`fmt % args`: widths and precisions, and each conversion repeating an argument."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    specs = PERCENT_SPEC.findall(text)
    arg_values = list(args.values()) if isinstance(args, Mapping) else list(args) if isinstance(args, tuple) else [args]
    estimate = len(text) + len(specs) * weigh(budget, args)
    for width, precision, _conv in specs:
        for part in (width, precision):
            if part == "*":
                estimate += max((as_int(a) for a in arg_values if isinstance(a, int)), default=0)
            elif part:
                estimate += int(part) if len(part) < 12 else budget.max_chars + 1
    budget.size(estimate, "the formatted text")


def check_format(budget: RenderBudget, fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`fmt.format(...)`: no computed widths; fixed widths and repeated fields counted."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format will raise the same error
    estimate = len(fmt)
    arg_weight = weigh(budget, list(args)) + weigh(budget, dict(kwargs))
    for _literal, field, spec, _conversion in fields:
        if field is None:
            continue
        if spec and "{" in spec:
            raise TemplateLimitError("format specifications computed from values ({:{width}}) are not allowed in templates", "output size")
        estimate += arg_weight + sum(int(n) if len(n) < 12 else budget.max_chars + 1 for n in re.findall(r"\d+", spec or ""))
    budget.size(estimate, "the formatted text")


def _replace_estimate(text: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(text, (str, bytes)) or not isinstance(old, type(text)) or not isinstance(new, type(text)):
        return len(text) if isinstance(text, (str, bytes)) else 0
    haystack: Any = text  # str or bytes, with `old` of the same type
    occurrences = haystack.count(old) if old else len(text) + 1
    if count is not None and as_int(count, -1) >= 0:
        occurrences = min(occurrences, as_int(count))
    return len(text) + occurrences * max(0, len(new) - len(old))


def method_check(budget: RenderBudget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Estimate what a str/bytes/int method would build, before it runs."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, (str, bytes, bytearray)):
        text: Any = owner
        if name in ("center", "ljust", "rjust", "zfill"):
            width = args[0] if args else kwargs.get("width", 0)
            budget.size(max(len(text), as_int(width)), f"str.{name}()")
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            budget.size(len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(0, as_int(tabsize)), "str.expandtabs()")
        elif name == "replace":
            old = args[0] if len(args) > 0 else kwargs.get("old")
            new = args[1] if len(args) > 1 else kwargs.get("new")
            count = args[2] if len(args) > 2 else kwargs.get("count")
            budget.size(_replace_estimate(text, old, new, count), "str.replace()")
        elif name == "join" and args:
            items = materialize(budget, args[0])
            budget.size(sum(len(i) if isinstance(i, (str, bytes)) else 0 for i in items) + len(text) * max(0, len(items) - 1), "str.join()")
            args = (items, *args[1:])
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
            budget.size(len(text) * max(1, longest), "str.translate()")
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        budget.size(as_int(length), "int.to_bytes()")
    return args, kwargs


# ---------------------------------------------------------------- filters

FilterCheck = Callable[[RenderBudget, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _f_center(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    value = str(_arg(args, kwargs, 0, "value", ""))
    budget.size(max(len(value), as_int(_arg(args, kwargs, 1, "width", 80))), "the centred text")
    return args, kwargs


def _f_indent(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    value = str(_arg(args, kwargs, 0, "s", ""))
    width = _arg(args, kwargs, 1, "width", 4)
    pad = len(width) if isinstance(width, str) else as_int(width)
    budget.size(len(value) + (value.count("\n") + 1) * max(0, pad), "the indented text")
    return args, kwargs


def _f_format(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    fmt = str(_arg(args, kwargs, 0, "value", ""))
    check_percent(budget, fmt, dict(kwargs) if kwargs else tuple(args[1:]))
    return args, kwargs


def _f_replace(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the eval context (pass_eval_context), then s, old, new, count.
    text = _arg(args, kwargs, 1, "s", "")
    old, new = _arg(args, kwargs, 2, "old", ""), _arg(args, kwargs, 3, "new", "")
    budget.size(_replace_estimate(str(text), str(old), str(new), _arg(args, kwargs, 4, "count")), "the replaced text")
    return args, kwargs


def _f_join(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the eval context, then value, d, attribute.
    items = materialize(budget, _arg(args, kwargs, 1, "value", ()))
    sep = str(_arg(args, kwargs, 2, "d", ""))
    budget.size(sum(weigh(budget, i) for i in items) + len(sep) * max(0, len(items) - 1), "the joined text")
    args = (args[0], items, *args[2:]) if len(args) > 1 else args
    if "value" in kwargs:
        kwargs = {**kwargs, "value": items}
    return args, kwargs


def _f_batch(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    budget.size(as_int(_arg(args, kwargs, 1, "linecount", 0)), "the batch size")
    return args, kwargs


def _f_slice(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # An async-variant filter: args[0] is the eval context, then value, slices.
    budget.size(as_int(_arg(args, kwargs, 2, "slices", 0)), "the number of slices")
    return args, kwargs


def _f_wordwrap(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the environment, then s, width, break_long_words, wrapstring.
    text = str(_arg(args, kwargs, 1, "s", ""))
    width = max(1, as_int(_arg(args, kwargs, 2, "width", 79), 79))
    wrap = _arg(args, kwargs, 4, "wrapstring", None)
    lines = len(text) // width + text.count("\n") + 1
    budget.size(len(text) + lines * len(str(wrap) if wrap is not None else "\n"), "the wrapped text")
    return args, kwargs


def _f_tojson(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the eval context, then value, indent.
    value = _arg(args, kwargs, 1, "value")
    indent = _arg(args, kwargs, 2, "indent")
    chars, depth = weight(value, budget.max_chars, budget)
    pad = len(indent) if isinstance(indent, str) else as_int(indent)
    budget.size(chars * 2 + (chars * depth * pad if pad > 0 else 0), "the JSON text")
    return args, kwargs


def _f_pprint(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    chars, depth = weight(_arg(args, kwargs, 0, "value"), budget.max_chars, budget)
    budget.size(chars * (1 + depth), "the pretty-printed text")
    return args, kwargs


def _f_sum(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the environment, then iterable, attribute, start.
    items = materialize(budget, _arg(args, kwargs, 1, "iterable", ()))
    start = _arg(args, kwargs, 3, "start", 0)
    if not isinstance(start, (int, float)):
        # Summing lists one by one copies the total each time (quadratic): refuse long ones.
        budget.size(len(items) * len(items) // 64, "summing that many sequences")
        budget.size(weigh(budget, start) + sum(weigh(budget, i) for i in items), "the sum")
    args = (args[0], items, *args[2:]) if len(args) > 1 else args
    if "iterable" in kwargs:
        kwargs = {**kwargs, "iterable": items}
    return args, kwargs


FILTER_CHECKS: dict[str, FilterCheck] = {
    "center": _f_center,
    "indent": _f_indent,
    "format": _f_format,
    "replace": _f_replace,
    "join": _f_join,
    "batch": _f_batch,
    "slice": _f_slice,
    "wordwrap": _f_wordwrap,
    "tojson": _f_tojson,
    "pprint": _f_pprint,
    "sum": _f_sum,
}


def guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    check = FILTER_CHECKS.get(name)

    @functools.wraps(function)  # keeps jinja_pass_arg (pass_context / pass_environment ...)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if check is not None:
            args, kwargs = check(budget, args, kwargs)
        result = function(*args, **kwargs)
        check_value(budget, result, f"the result of the {name} filter")
        return result

    return guarded


def bounded_lipsum(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
        current_budget().size(as_int(n) * as_int(max) * 12, "lipsum()")
        return function(n, html, min, max)

    return lipsum


# ---------------------------------------------------------------- code generation
