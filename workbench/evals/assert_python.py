"""Python in assertions and transforms: inline expressions or bodies over output and context, or file://x.py:fn inside the repository; refused when the trust policy disables Python."""

from __future__ import annotations

import ast
import json
import re
from functools import partial
from pathlib import Path
from typing import Any

from workbench.core.jsvalues import (
    json_parse,
)
from workbench.core.model import Assertion
from workbench.evals.assert_values import (
    AssertionConfigError,
    AssertionRefused,
    FilesAt,
    GradingContext,
    read_repo_file,
    shorten,
)
from workbench.evals.off_loop import in_thread_off_the_loop


async def run_python(
    code: str, output: Any, context: dict[str, Any], root: Path | None, *, default_function: str, files_at: FilesAt | None = None
) -> Any:
    """The user's code, off the event loop (`off_loop`): on its thread, an assertion that slept or
    looped 2 s stalled every other request of the run, and Ctrl-C, for those 2 s."""
    return await in_thread_off_the_loop(partial(_run_python, code, output, context, root, default_function=default_function, files_at=files_at))


def _run_python(code: str, output: Any, context: dict[str, Any], root: Path | None, *, default_function: str, files_at: FilesAt | None = None) -> Any:
    """An inline expression / function body over `output` and `context`, or file://x.py[:fn]
    (read as it was at the revision under test: `files_at`)."""
    if code.startswith("file://"):
        spec = code[len("file://") :]
        path_text, _, function_name = spec.partition(":")
        path, source = read_repo_file(root, path_text, files_at)
        namespace: dict[str, Any] = {"__name__": "workbench_assertion"}
        exec(compile(source, str(path), "exec"), namespace)
        function = namespace.get(function_name or default_function)
        if not callable(function):
            raise AssertionConfigError(f"{path_text} has no function {function_name or default_function}")
        return function(output, context)
    namespace = {"output": output, "context": context, "json": json, "re": re}
    stripped = code.strip()
    try:
        tree = ast.parse(stripped, mode="eval")
    except SyntaxError:
        body = "def _assert(output, context):\n" + "\n".join("    " + line for line in stripped.splitlines())
        exec(compile(body, "<assertion>", "exec"), namespace)
        return namespace["_assert"](output, context)
    return eval(compile(tree, "<assertion>", "eval"), namespace)


def context_dict(ctx: GradingContext) -> dict[str, Any]:
    return {"vars": ctx.vars, "latency_ms": ctx.latency_ms, "cost": ctx.cost, "logprobs": list(ctx.logprobs or ())}


async def apply_transform(code: str, output: Any, ctx: GradingContext) -> Any:
    """A `transform`: Python expression or body using `output` and `context`, or file://x.py:fn.

    Raises:
        AssertionConfigError: the transform failed (promptfoo errors the case).
    """
    require_python(ctx, "transforms")
    try:
        result = await run_python(code, output, context_dict(ctx), ctx.root, default_function="get_transform", files_at=ctx.files_at)
    except AssertionConfigError:
        raise
    except Exception as err:
        raise AssertionConfigError(f"Transform failed ({shorten(code)}): {type(err).__name__}: {err}") from None
    if result is None:
        raise AssertionConfigError(f"Transform failed ({shorten(code)}): it returned None")
    return result


def require_python(ctx: GradingContext, what: str) -> None:
    if not ctx.python_assertions:
        where = f" ({ctx.python_assertions_source})" if ctx.python_assertions_source else ""
        raise AssertionRefused(f"python {what} are disabled here{where}: the code was not run")


def python_verdict(assertion: Assertion, result: Any, inverse: bool) -> tuple[bool, float, str]:
    """promptfoo's normalizeScriptResult."""
    threshold = assertion.threshold
    label = f"python `{shorten(str(assertion.value))}`"
    if isinstance(result, str) and result.lower() in ("true", "false"):
        result = result.lower() == "true"
    if isinstance(result, str) and result.startswith("{"):
        try:
            result = json_parse(result)
        except ValueError as err:
            raise AssertionConfigError(f"Invalid JSON: {err} when parsing result: {result}") from None
    if isinstance(result, bool):
        passed = result != inverse
        return passed, 1.0 if passed else 0.0, f"{label} returned {str(result).lower()}"
    if isinstance(result, dict):
        if "pass" not in result and "pass_" not in result:
            raise AssertionConfigError("python assertion must return a boolean, number, or {pass, score, reason} object")
        raw_pass = bool(result.get("pass", result.get("pass_")))
        score = float(result.get("score", 1.0 if raw_pass else 0.0))
        reason = str(result.get("reason", f"{label} returned a result"))
        if threshold is not None and score < threshold:
            raw_pass = False
            reason = f"Python score {score:g} is less than threshold {threshold:g}: {reason}"
        passed = raw_pass != inverse
        return passed, score, reason if passed == raw_pass else f"{label} returned {str(raw_pass).lower()}"
    try:
        score = float(result)
    except (TypeError, ValueError):
        raise AssertionConfigError(f"python assertion must return a boolean, number, or {{pass, score, reason}} object, got {result!r:.60}") from None
    raw_pass = score > 0 if threshold is None else score >= threshold
    passed = raw_pass != inverse
    return passed, score, f"{label} scored {score:g}" + (f" (threshold {threshold:g})" if threshold is not None else "")


async def python_assertion(assertion: Assertion, output: Any, inverse: bool, ctx: GradingContext) -> tuple[bool, float, str]:
    if not isinstance(assertion.value, str):
        raise AssertionConfigError("python assertion must have a string value")
    try:
        result = await run_python(assertion.value, output, context_dict(ctx), ctx.root, default_function="get_assert", files_at=ctx.files_at)
        return python_verdict(assertion, result, inverse)
    except AssertionConfigError:
        raise
    except Exception as err:  # promptfoo: a failing script fails the assertion, inverse or not
        return False, 0.0, f"Python code execution failed: {type(err).__name__}: {err}"
