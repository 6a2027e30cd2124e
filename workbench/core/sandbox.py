"""A Jinja2 environment whose renders end in bounded time and memory.

Prompt templates come from many hands, and a serving application renders them on its request
path, so a template must not be able to run for minutes or build gigabytes. Jinja's
`ImmutableSandboxedEnvironment` already blocks attribute tricks, mutation of lists and dicts
and ranges over 100,000 items; it does not bound what a template *builds*. This environment
adds a budget per render (`RenderLimits`), enforced where work happens:

| limit | default | enforced at |
| --- | --- | --- |
| output size | 1,000,000 characters plus the size of the variables | every piece of output (literal text included, inside macros and `set` blocks too), and every value the template builds: `*`, `+`, `~`, `%`, string methods (`center`, `ljust`, `replace`, `join`, `format`, ...), filters (`center`, `indent`, `join`, `replace`, `format`, `wordwrap`, `batch`, `tojson`, ...) are checked *before* they allocate |
| loop iterations | 100,000, all loops of the render together | every `{% for %}` (recursive loops too) |
| calls | 100,000 macro, function and method calls | every call from the template |
| call depth | 40 nested calls | macros calling macros (recursion) |
| number size | 10,000 bits (about 3,000 digits) | `*` and `**` on integers, `int.to_bytes` |
| render time | 2 seconds | checked at every loop iteration, call, filter and output |

Passing a limit raises `TemplateLimitError` (a `jinja2` `SecurityError`) naming the limit; the
renderer turns it into a `RenderError`.

How: the budget of the render in progress lives in a context variable (so threads and asyncio
tasks each have their own); the code generator routes `~` concatenation, literal output and
`for` iterables through the environment; binary operators are intercepted; every filter and
the `lipsum` global are wrapped with a size estimate made before the call.
"""

from __future__ import annotations

import functools
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment


@dataclass(frozen=True)
class RenderLimits:
    """What one render of a prompt (all its messages together) may cost."""

    max_output_chars: int = 1_000_000
    """Characters of output and of any one value built, on top of the size of the variables."""
    max_iterations: int = 100_000
    """Loop iterations, all loops together."""
    max_calls: int = 100_000
    """Macro, function and method calls."""
    max_call_depth: int = 40
    """Nested calls (a macro calling itself)."""
    max_int_bits: int = 10_000
    """Size of an integer the template computes."""
    max_seconds: float = 2.0
    """Wall-clock time of the render."""


DEFAULT_RENDER_LIMITS = RenderLimits()


class TemplateLimitError(SecurityError):
    """A render went past one of its `RenderLimits`; `limit` names which one."""

    def __init__(self, message: str, limit: str) -> None:
        super().__init__(message)
        self.limit = limit


class RenderBudget:
    """The running costs of one render, checked against its limits."""

    def __init__(self, limits: RenderLimits = DEFAULT_RENDER_LIMITS, *, input_chars: int = 0) -> None:
        self.limits = limits
        self.max_chars = limits.max_output_chars + max(0, input_chars)
        self.deadline = time.monotonic() + limits.max_seconds
        self.output = 0
        self.iterations = 0
        self.calls = 0
        self.depth = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimitError(f"rendering took more than {self.limits.max_seconds:g} s (the render-time limit)", "render time")

    def size(self, chars: int, what: str) -> None:
        """Refuse building something of `chars` characters (or items)."""
        if chars > self.max_chars:
            raise TemplateLimitError(
                f"{what} would be more than {self.max_chars:,} characters (the output-size limit)", "output size"
            )

    def emit(self, chars: int) -> None:
        self.output += chars
        if self.output > self.max_chars:
            raise TemplateLimitError(f"the output is more than {self.max_chars:,} characters (the output-size limit)", "output size")
        self.tick()

    def iterate(self) -> None:
        self.iterations += 1
        if self.iterations > self.limits.max_iterations:
            raise TemplateLimitError(
                f"loops ran more than {self.limits.max_iterations:,} iterations (the loop-iteration limit)", "loop iterations"
            )
        self.tick()

    def int_bits(self, bits: int, what: str) -> None:
        if bits > self.limits.max_int_bits:
            raise TemplateLimitError(f"{what} would have more than {self.limits.max_int_bits:,} bits (the number-size limit)", "number size")


_BUDGET: ContextVar[RenderBudget | None] = ContextVar("workbench_render_budget", default=None)


def current_budget() -> RenderBudget:
    """The budget of the render in progress (a fresh default one outside a render)."""
    return _BUDGET.get() or RenderBudget()


class budget_scope:
    """`with budget_scope(budget):` makes `budget` the one every check uses."""

    def __init__(self, budget: RenderBudget) -> None:
        self.budget = budget
        self._token: Any = None

    def __enter__(self) -> RenderBudget:
        self._token = _BUDGET.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _BUDGET.reset(self._token)


# ---------------------------------------------------------------- sizes

_SCALAR_WEIGHT = 24  # a number, a bool, None: roughly what str() gives


def _leaf(item: Any) -> int:
    """Characters of a scalar's text (roughly); -1 for a container or another object."""
    if isinstance(item, (str, bytes, bytearray)):
        return len(item) + 2
    if isinstance(item, bool) or item is None or isinstance(item, float):
        return 6
    if isinstance(item, int):
        return item.bit_length() // 3 + 2
    return -1


def weight(value: Any, limit: int, budget: RenderBudget | None = None) -> tuple[int, int]:
    """(characters `str(value)` would roughly have, nesting depth); stops once past `limit`.

    Shared references count each time they appear (as `str()` would print them), so a list
    that holds another one many times over is as heavy as its text. Each distinct container
    is measured once (its size is remembered for the rest of the walk), so the walk costs
    at most the number of distinct objects, however much they are shared.
    """
    own = _leaf(value)
    if own >= 0:
        return own, 1
    memo: dict[int, tuple[int, int]] = {}
    steps = 0
    stack: list[tuple[Any, list[Any] | None]] = [(value, None)]  # (container, its parts once expanded)
    while stack:
        item, parts = stack.pop()
        key = id(item)
        if parts is None:
            if key in memo:
                continue
            found = _parts(item)
            if found is None:
                memo[key] = (2 if isinstance(item, Undefined) else _SCALAR_WEIGHT, 1)
                continue
            memo[key] = (-1, 0)  # in progress: a container that holds itself counts once
            stack.append((item, found))
            for part in found:
                if _leaf(part) < 0 and id(part) not in memo:
                    stack.append((part, None))
            continue
        steps += len(parts) + 1
        if budget is not None and steps > 4096:
            steps = 0
            budget.tick()
        total, depth = 2, 0
        for part in parts:
            size = _leaf(part)
            if size < 0:
                size, part_depth = memo.get(id(part), (2, 1))
                depth = max(depth, part_depth)
            total += max(size, 2) + 2
        memo[key] = (total, depth + 1)
        if total > limit:
            return total, depth + 1
    return memo.get(id(value), (0, 0))


def _parts(item: Any) -> list[Any] | None:
    """The parts of a container (keys and values of a mapping), None for anything else."""
    if isinstance(item, Mapping):
        return [part for pair in item.items() for part in pair]
    if isinstance(item, (list, tuple, set, frozenset)):
        return list(item)
    attrs = getattr(item, "_Namespace__attrs", None)  # jinja2's namespace()
    if isinstance(attrs, dict):
        return [part for pair in attrs.items() for part in pair]
    return None


def _weigh(budget: RenderBudget, value: Any) -> int:
    """Characters of a text, or the weight of anything else."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    return weight(value, budget.max_chars, budget)[0]


def _check_value(budget: RenderBudget, value: Any, what: str) -> None:
    if isinstance(value, (str, bytes, bytearray, list, tuple, dict, set, frozenset)):
        budget.size(_weigh(budget, value), what)


def _materialize(budget: RenderBudget, items: Any) -> list[Any]:
    """A list of an iterable's items, counting them against the size limit as they come."""
    if isinstance(items, (str, bytes)):
        return list(items)
    out = []
    for count, item in enumerate(items, 1):
        if count > budget.max_chars:
            budget.size(count, "the sequence")
        if count % 4096 == 0:
            budget.tick()
        out.append(item)
    return out


def _int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


# ---------------------------------------------------------------- estimates of builders

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")


def _check_percent(budget: RenderBudget, fmt: str | bytes, args: Any) -> None:
    """`fmt % args`: widths and precisions, and each conversion repeating an argument."""
    text = fmt.decode("latin-1") if isinstance(fmt, bytes) else fmt
    specs = _PERCENT_SPEC.findall(text)
    arg_values = list(args.values()) if isinstance(args, Mapping) else list(args) if isinstance(args, tuple) else [args]
    estimate = len(text) + len(specs) * _weigh(budget, args)
    for width, precision, _conv in specs:
        for part in (width, precision):
            if part == "*":
                estimate += max((_int(a) for a in arg_values if isinstance(a, int)), default=0)
            elif part:
                estimate += int(part) if len(part) < 12 else budget.max_chars + 1
    budget.size(estimate, "the formatted text")


def _check_format(budget: RenderBudget, fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`fmt.format(...)`: no computed widths; fixed widths and repeated fields counted."""
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format will raise the same error
    estimate = len(fmt)
    arg_weight = _weigh(budget, list(args)) + _weigh(budget, dict(kwargs))
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
    if count is not None and _int(count, -1) >= 0:
        occurrences = min(occurrences, _int(count))
    return len(text) + occurrences * max(0, len(new) - len(old))


def _method_check(budget: RenderBudget, obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Estimate what a str/bytes/int method would build, before it runs."""
    name = getattr(obj, "__name__", "")
    owner = getattr(obj, "__self__", None)
    if isinstance(owner, (str, bytes, bytearray)):
        text: Any = owner
        if name in ("center", "ljust", "rjust", "zfill"):
            width = args[0] if args else kwargs.get("width", 0)
            budget.size(max(len(text), _int(width)), f"str.{name}()")
        elif name == "expandtabs":
            tabsize = args[0] if args else kwargs.get("tabsize", 8)
            budget.size(len(text) + text.count("\t" if isinstance(text, str) else b"\t") * max(0, _int(tabsize)), "str.expandtabs()")
        elif name == "replace":
            old = args[0] if len(args) > 0 else kwargs.get("old")
            new = args[1] if len(args) > 1 else kwargs.get("new")
            count = args[2] if len(args) > 2 else kwargs.get("count")
            budget.size(_replace_estimate(text, old, new, count), "str.replace()")
        elif name == "join" and args:
            items = _materialize(budget, args[0])
            budget.size(sum(len(i) if isinstance(i, (str, bytes)) else 0 for i in items) + len(text) * max(0, len(items) - 1), "str.join()")
            args = (items, *args[1:])
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((len(v) for v in args[0].values() if isinstance(v, (str, bytes))), default=1)
            budget.size(len(text) * max(1, longest), "str.translate()")
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        budget.size(_int(length), "int.to_bytes()")
    return args, kwargs


# ---------------------------------------------------------------- filters

FilterCheck = Callable[[RenderBudget, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


def _arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, name: str, default: Any = None) -> Any:
    if len(args) > index:
        return args[index]
    return kwargs.get(name, default)


def _f_center(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    value = str(_arg(args, kwargs, 0, "value", ""))
    budget.size(max(len(value), _int(_arg(args, kwargs, 1, "width", 80))), "the centred text")
    return args, kwargs


def _f_indent(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    value = str(_arg(args, kwargs, 0, "s", ""))
    width = _arg(args, kwargs, 1, "width", 4)
    pad = len(width) if isinstance(width, str) else _int(width)
    budget.size(len(value) + (value.count("\n") + 1) * max(0, pad), "the indented text")
    return args, kwargs


def _f_format(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    fmt = str(_arg(args, kwargs, 0, "value", ""))
    _check_percent(budget, fmt, dict(kwargs) if kwargs else tuple(args[1:]))
    return args, kwargs


def _f_replace(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the eval context (pass_eval_context), then s, old, new, count.
    text = _arg(args, kwargs, 1, "s", "")
    old, new = _arg(args, kwargs, 2, "old", ""), _arg(args, kwargs, 3, "new", "")
    budget.size(_replace_estimate(str(text), str(old), str(new), _arg(args, kwargs, 4, "count")), "the replaced text")
    return args, kwargs


def _f_join(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the eval context, then value, d, attribute.
    items = _materialize(budget, _arg(args, kwargs, 1, "value", ()))
    sep = str(_arg(args, kwargs, 2, "d", ""))
    budget.size(sum(_weigh(budget, i) for i in items) + len(sep) * max(0, len(items) - 1), "the joined text")
    args = (args[0], items, *args[2:]) if len(args) > 1 else args
    if "value" in kwargs:
        kwargs = {**kwargs, "value": items}
    return args, kwargs


def _f_batch(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    budget.size(_int(_arg(args, kwargs, 1, "linecount", 0)), "the batch size")
    return args, kwargs


def _f_slice(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # An async-variant filter: args[0] is the eval context, then value, slices.
    budget.size(_int(_arg(args, kwargs, 2, "slices", 0)), "the number of slices")
    return args, kwargs


def _f_wordwrap(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the environment, then s, width, break_long_words, wrapstring.
    text = str(_arg(args, kwargs, 1, "s", ""))
    width = max(1, _int(_arg(args, kwargs, 2, "width", 79), 79))
    wrap = _arg(args, kwargs, 4, "wrapstring", None)
    lines = len(text) // width + text.count("\n") + 1
    budget.size(len(text) + lines * len(str(wrap) if wrap is not None else "\n"), "the wrapped text")
    return args, kwargs


def _f_tojson(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the eval context, then value, indent.
    value = _arg(args, kwargs, 1, "value")
    indent = _arg(args, kwargs, 2, "indent")
    chars, depth = weight(value, budget.max_chars, budget)
    pad = len(indent) if isinstance(indent, str) else _int(indent)
    budget.size(chars * 2 + (chars * depth * pad if pad > 0 else 0), "the JSON text")
    return args, kwargs


def _f_pprint(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    chars, depth = weight(_arg(args, kwargs, 0, "value"), budget.max_chars, budget)
    budget.size(chars * (1 + depth), "the pretty-printed text")
    return args, kwargs


def _f_sum(budget: RenderBudget, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # args[0] is the environment, then iterable, attribute, start.
    items = _materialize(budget, _arg(args, kwargs, 1, "iterable", ()))
    start = _arg(args, kwargs, 3, "start", 0)
    if not isinstance(start, (int, float)):
        # Summing lists one by one copies the total each time (quadratic): refuse long ones.
        budget.size(len(items) * len(items) // 64, "summing that many sequences")
        budget.size(_weigh(budget, start) + sum(_weigh(budget, i) for i in items), "the sum")
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


def _guard_filter(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    check = FILTER_CHECKS.get(name)

    @functools.wraps(function)  # keeps jinja_pass_arg (pass_context / pass_environment ...)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if check is not None:
            args, kwargs = check(budget, args, kwargs)
        result = function(*args, **kwargs)
        _check_value(budget, result, f"the result of the {name} filter")
        return result

    return guarded


def _bounded_lipsum(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> Any:
        current_budget().size(_int(n) * _int(max) * 12, "lipsum()")
        return function(n, html, min, max)

    return lipsum


# ---------------------------------------------------------------- code generation


class _BoundedCodeGenerator(CodeGenerator):
    """Routes `~`, literal output and `for` iterables through the environment's checks."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.bounded_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")

    # A literal list, tuple or dict can hold another value many times ([x, x]); built in a
    # loop that doubles at each step, so its size is checked like any other built value.
    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.bounded_value(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # an assignment target: `{% set a, b = ... %}`
            super().visit_Tuple(node, frame)
            return
        self.write("environment.bounded_value(")
        super().visit_Tuple(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.bounded_value(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        # Literal text goes through `finalize` like any expression, so it is counted too.
        children = [nodes.Const(child.data, lineno=child.lineno) if isinstance(child, nodes.TemplateData) else child for child in node.nodes]
        super().visit_Output(nodes.Output(children, lineno=node.lineno), frame)

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        guard = nodes.Call(nodes.EnvironmentAttribute("bounded_iter", lineno=node.lineno), [node.iter], [], None, None, lineno=node.lineno)
        bounded = nodes.For(node.target, guard, node.body, node.else_, node.test, node.recursive, lineno=node.lineno)
        super().visit_For(bounded, frame)


@pass_context
def _finalize(context: Context, value: Any) -> Any:
    """Every piece of output passes here: count it before it is turned into text."""
    budget = current_budget()
    if isinstance(value, str):
        budget.emit(len(value))
    elif not isinstance(value, Undefined):
        budget.emit(_weigh(budget, value))
    return value


_INTERCEPTED = frozenset({"*", "**", "+", "%"})
_SEQUENCES = (str, bytes, bytearray, list, tuple)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus the render budget of `RenderLimits` (see the module docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = _INTERCEPTED

    def __init__(self, **options: Any) -> None:
        options.setdefault("finalize", _finalize)
        super().__init__(**options)
        self.filters = {name: _guard_filter(name, function) for name, function in self.filters.items()}
        if "lipsum" in self.globals:
            self.globals["lipsum"] = _bounded_lipsum(cast(Callable[..., Any], self.globals["lipsum"]))

    # -- operators
    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if operator == "*":
            if isinstance(left, _SEQUENCES) and isinstance(right, int):
                budget.size(_weigh(budget, left) * max(0, right), "the repeated value")
            elif isinstance(right, _SEQUENCES) and isinstance(left, int):
                budget.size(_weigh(budget, right) * max(0, left), "the repeated value")
            elif isinstance(left, int) and isinstance(right, int):
                budget.int_bits(left.bit_length() + right.bit_length(), "the product")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                budget.int_bits(right if right > budget.limits.max_int_bits else left.bit_length() * right, "the power")
        elif operator == "+":
            if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
                budget.size(_weigh(budget, left) + _weigh(budget, right), "the joined value")
        elif operator == "%" and isinstance(left, (str, bytes)):
            _check_percent(budget, left, right)
        return self.binop_table[operator](left, right)

    def bounded_concat(self, values: Iterable[Any]) -> str:
        """`a ~ b ~ c`: the total is checked before the text is built."""
        budget = current_budget()
        parts = list(values)
        budget.size(sum(_weigh(budget, p) for p in parts), "the joined text (~)")
        return "".join(map(str, parts))

    def bounded_value(self, value: Any) -> Any:
        """A literal list, tuple or dict, once its size is checked."""
        budget = current_budget()
        budget.tick()
        _check_value(budget, value, "the literal value")
        return value

    def bounded_iter(self, iterable: Any) -> Iterator[Any]:
        """Every `for` loop iterates through here: each item counts against the loop budget."""
        budget = current_budget()
        if isinstance(iterable, Undefined):
            yield from iterable  # StrictUndefined raises with the variable's name
            return
        for item in iterable:
            budget.iterate()
            yield item

    # -- calls
    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current_budget()
        limits = budget.limits
        budget.calls += 1
        if budget.calls > limits.max_calls:
            raise TemplateLimitError(f"the template made more than {limits.max_calls:,} calls (the call limit)", "calls")
        budget.tick()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop: loop(children)
            args = (__self.bounded_iter(args[0]), *args[1:])
        args, kwargs = _method_check(budget, __obj, args, kwargs)
        budget.depth += 1
        try:
            if budget.depth > limits.max_call_depth:
                raise TemplateLimitError(
                    f"calls nested more than {limits.max_call_depth} deep (the call-depth limit; a macro calling itself?)", "call depth"
                )
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        _check_value(budget, result, "the result of the call")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            budget = current_budget()
            if value.__name__ == "format_map":
                _check_format(budget, fmt, (), args[0] if args and isinstance(args[0], Mapping) else {})
            else:
                _check_format(budget, fmt, args, kwargs)
            return wrapped(*args, **kwargs)

        return functools.update_wrapper(checked, wrapped)



__all__ = [
    "DEFAULT_RENDER_LIMITS",
    "BoundedEnvironment",
    "RenderBudget",
    "RenderLimits",
    "TemplateLimitError",
    "budget_scope",
    "current_budget",
    "weight",
]
