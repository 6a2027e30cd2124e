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
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, cast

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.runtime import Context, LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from workbench.core.render_budget import (
    DEFAULT_RENDER_LIMITS,
    RenderBudget,
    RenderLimits,
    TemplateLimitError,
    budget_scope,
    check_value,
    current_budget,
    weigh,
    weight,
)
from workbench.core.render_guards import (
    bounded_lipsum,
    check_format,
    check_percent,
    guard_filter,
    method_check,
)


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
        budget.emit(weigh(budget, value))
    return value


def _finalize_as(text: Callable[[Any], Any]) -> Callable[[Context, Any], Any]:
    @pass_context
    def finalize(context: Context, value: Any) -> Any:
        value = _finalize(context, value)
        return value if isinstance(value, (str, Undefined)) else text(value)

    return finalize


_INTERCEPTED = frozenset({"*", "**", "+", "%"})
_SEQUENCES = (str, bytes, bytearray, list, tuple)


class BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The sandbox, plus the render budget of `RenderLimits` (see the module docstring)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = _INTERCEPTED

    def __init__(self, *, text: Callable[[Any], Any] | None = None, **options: Any) -> None:
        """`text`, when given, turns each counted non-string value into its output (promptfoo's
        Nunjucks prints `true`, `2` and nothing for null where Jinja prints `True`, `2.0`, `None`)."""
        options.setdefault("finalize", _finalize if text is None else _finalize_as(text))
        super().__init__(**options)
        self.filters = {name: guard_filter(name, function) for name, function in self.filters.items()}
        if "lipsum" in self.globals:
            self.globals["lipsum"] = bounded_lipsum(cast(Callable[..., Any], self.globals["lipsum"]))

    # -- operators
    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        budget = current_budget()
        budget.tick()
        if operator == "*":
            if isinstance(left, _SEQUENCES) and isinstance(right, int):
                budget.size(weigh(budget, left) * max(0, right), "the repeated value")
            elif isinstance(right, _SEQUENCES) and isinstance(left, int):
                budget.size(weigh(budget, right) * max(0, left), "the repeated value")
            elif isinstance(left, int) and isinstance(right, int):
                budget.int_bits(left.bit_length() + right.bit_length(), "the product")
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0 and abs(left) > 1:
                budget.int_bits(right if right > budget.limits.max_int_bits else left.bit_length() * right, "the power")
        elif operator == "+":
            if isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
                budget.size(weigh(budget, left) + weigh(budget, right), "the joined value")
        elif operator == "%" and isinstance(left, (str, bytes)):
            check_percent(budget, left, right)
        return self.binop_table[operator](left, right)

    def bounded_concat(self, values: Iterable[Any]) -> str:
        """`a ~ b ~ c`: the total is checked before the text is built."""
        budget = current_budget()
        parts = list(values)
        budget.size(sum(weigh(budget, p) for p in parts), "the joined text (~)")
        return "".join(map(str, parts))

    def bounded_value(self, value: Any) -> Any:
        """A literal list, tuple or dict, once its size is checked."""
        budget = current_budget()
        budget.tick()
        check_value(budget, value, "the literal value")
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
        args, kwargs = method_check(budget, __obj, args, kwargs)
        budget.depth += 1
        try:
            if budget.depth > limits.max_call_depth:
                raise TemplateLimitError(
                    f"calls nested more than {limits.max_call_depth} deep (the call-depth limit; a macro calling itself?)", "call depth"
                )
            result = super().call(__context, __obj, *args, **kwargs)
        finally:
            budget.depth -= 1
        check_value(budget, result, "the result of the call")
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            budget = current_budget()
            if value.__name__ == "format_map":
                check_format(budget, fmt, (), args[0] if args and isinstance(args[0], Mapping) else {})
            else:
                check_format(budget, fmt, args, kwargs)
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
