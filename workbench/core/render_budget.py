"""The budget of one template render: the limits, and what the render has used of them.

See `core.sandbox` for where each limit is enforced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.runtime import Undefined


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


def weigh(budget: RenderBudget, value: Any) -> int:
    """Characters of a text, or the weight of anything else."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value)
    return weight(value, budget.max_chars, budget)[0]


def check_value(budget: RenderBudget, value: Any, what: str) -> None:
    if isinstance(value, (str, bytes, bytearray, list, tuple, dict, set, frozenset)):
        budget.size(weigh(budget, value), what)


def materialize(budget: RenderBudget, items: Any) -> list[Any]:
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


def as_int(value: Any, default: int = 0) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):
        return default


# ---------------------------------------------------------------- estimates of builders

PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")
