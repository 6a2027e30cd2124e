"""Assertions with promptfoo's names and semantics, so existing suites carry over.

Each assertion yields pass/fail, a score in [0, 1] and a reason that says what was expected,
what came and where. `not-` inverts the pass (and the score). A case's score is the weighted
mean of its assertions' scores; the case passes when every assertion passes, or, when the
test sets `threshold`, when the weighted score reaches it (promptfoo's rules).
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.model import Assertion, TestCase
from workbench.core.names import UnsafePath, resolve_reference

DEFAULT_SIMILARITY = 0.75
DEFAULT_LEVENSHTEIN = 5.0


@dataclass(frozen=True)
class AssertionResult:
    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, "pass": self.passed, "score": self.score, "reason": self.reason, "weight": self.weight}


@dataclass(frozen=True)
class GradingContext:
    """What an assertion may look at besides the output."""

    vars: dict[str, Any]
    latency_ms: float | None = None
    cost: float | None = None
    cached: bool = False
    root: Path | None = None
    embed: Callable[[list[str]], Awaitable[list[list[float]]]] | None = None
    grade: Callable[[str], Awaitable[str]] | None = None  # llm-rubric: prompt -> grader reply
    python_assertions: bool = True  # False: `python` assertions are refused (core.trust)
    python_assertions_source: str = ""


class AssertionRefused(Exception):
    """An assertion the trust policy does not run: it fails, negated or not."""


def _excerpt(text: str, limit: int = 80) -> str:
    flat = text.replace("\n", "⏎")
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def _values(value: Any) -> list[str]:
    """promptfoo: a list, or a comma-separated string."""
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(value)]


def levenshtein(a: str, b: str) -> int:
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def extract_json_values(text: str) -> list[Any]:
    """Every JSON object or array embedded in `text` (promptfoo's contains-json)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    while index < len(text):
        match = re.compile(r"[\[{]").search(text, index)
        if not match:
            break
        try:
            value, end = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            index = match.start() + 1
            continue
        found.append(value)
        index = end
    return found


def _schema_errors(value: Any, schema: Any) -> str | None:
    import jsonschema

    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as err:
        where = "/".join(str(p) for p in err.absolute_path) or "(root)"
        return f"at {where}: {err.message}"
    except jsonschema.SchemaError as err:
        return f"the assertion's JSON Schema is invalid: {err.message}"
    return None


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


async def _python(assertion: Assertion, output: str, ctx: GradingContext) -> tuple[bool, float, str]:
    """Inline expression (or function body) with `output` and `context`, or file://x.py[:fn]."""
    value = str(assertion.value or "")
    context = {"vars": ctx.vars, "latency_ms": ctx.latency_ms, "cost": ctx.cost}
    if value.startswith("file://"):
        spec = value[len("file://") :]
        path_text, _, function_name = spec.partition(":")
        root = (ctx.root or Path.cwd()).resolve()
        try:  # the one rule for file:// references, here relative to the repository root
            relative = resolve_reference(path_text, "", inside="")
        except UnsafePath as err:
            return False, 0.0, f"python file {path_text}: {err.reason}"
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            return False, 0.0, f"python file {path_text} is outside the repository (through a link)"
        namespace: dict[str, Any] = {"__name__": "workbench_assertion"}
        try:
            exec(compile(path.read_text(encoding="utf-8"), str(path), "exec"), namespace)
        except OSError as err:
            return False, 0.0, f"cannot read {path_text}: {err.strerror or err}"
        function = namespace.get(function_name or "get_assert")
        if not callable(function):
            return False, 0.0, f"{path_text} has no function {function_name or 'get_assert'}"
        result = function(output, context)
    else:
        namespace = {"output": output, "context": context, "json": json, "re": re}
        try:
            tree = ast.parse(value.strip(), mode="eval")
            result = eval(compile(tree, "<assertion>", "eval"), namespace)
        except SyntaxError:
            body = "def _assert(output, context):\n" + "\n".join("    " + line for line in value.strip().splitlines())
            exec(compile(body, "<assertion>", "exec"), namespace)
            result = namespace["_assert"](output, context)
    if isinstance(result, dict):
        passed = bool(result.get("pass", result.get("pass_", False)))
        score = float(result.get("score", 1.0 if passed else 0.0))
        return passed, score, str(result.get("reason", "python assertion returned a result"))
    if isinstance(result, bool):
        return result, 1.0 if result else 0.0, f"python assertion `{_short(value)}` returned {result}"
    if isinstance(result, (int, float)):
        score = float(result)
        passed = score >= assertion.threshold if assertion.threshold is not None else score > 0
        return passed, score, f"python assertion scored {score:g}" + (f" (threshold {assertion.threshold:g})" if assertion.threshold is not None else "")
    return bool(result), 1.0 if result else 0.0, f"python assertion returned {result!r:.60}"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


RUBRIC_PROMPT = """You are grading output according to a user-specified rubric. If the statement in the rubric is true, then the output passes the test. You respond with a JSON object with this structure: {{"reason": string, "pass": boolean, "score": number}}

Examples:

<Output>Hello world</Output>
<Rubric>Content contains a greeting</Rubric>
{{"reason": "the content contains the word 'Hello'", "pass": true, "score": 1.0}}

<Output>Avast ye swabs, repel the invaders!</Output>
<Rubric>Does not speak like a pirate</Rubric>
{{"reason": "'avast ye' is a common pirate term", "pass": false, "score": 0.0}}

<Output>
{output}
</Output>
<Rubric>
{rubric}
</Rubric>"""


async def _llm_rubric(assertion: Assertion, output: str, ctx: GradingContext) -> tuple[bool, float, str]:
    if ctx.grade is None:
        return False, 0.0, "llm-rubric needs a grader provider (assertion `provider:` or the run's provider)"
    reply = await ctx.grade(RUBRIC_PROMPT.format(output=output, rubric=assertion.value))
    values = [v for v in extract_json_values(reply) if isinstance(v, dict) and "pass" in v]
    if not values:
        return False, 0.0, f"the grader's reply is not the expected JSON: {_excerpt(reply)}"
    verdict = values[0]
    passed = bool(verdict.get("pass"))
    score = float(verdict.get("score", 1.0 if passed else 0.0))
    if assertion.threshold is not None:
        passed = passed and score >= assertion.threshold
    return passed, score, f"grader: {verdict.get('reason', '')}"


async def check(assertion: Assertion, output: str, ctx: GradingContext) -> AssertionResult:
    """Run one assertion. Errors inside an assertion fail it with the error as the reason."""
    try:
        passed, score, reason = await _check(assertion, output, ctx)
    except AssertionRefused as err:
        return AssertionResult(assertion.type, False, 0.0, str(err), assertion.weight, assertion.metric)
    except Exception as err:
        passed, score, reason = False, 0.0, f"{assertion.base_type} assertion error: {type(err).__name__}: {err}"
        return AssertionResult(assertion.type, False, 0.0, reason, assertion.weight, assertion.metric)
    if assertion.negated:
        passed, score = not passed, 1.0 - score
        reason = ("not: " if passed else "expected NOT: ") + reason
    return AssertionResult(assertion.type, passed, max(0.0, min(1.0, score)) if not math.isnan(score) else 0.0, reason, assertion.weight, assertion.metric)


async def _check(assertion: Assertion, output: str, ctx: GradingContext) -> tuple[bool, float, str]:
    kind = assertion.base_type
    value = assertion.value

    def verdict(ok: bool, reason: str) -> tuple[bool, float, str]:
        return ok, 1.0 if ok else 0.0, reason

    if kind == "equals":
        if isinstance(value, (dict, list)):
            try:
                ok = json.loads(output) == value
            except json.JSONDecodeError:
                ok = False
            return verdict(ok, f"expected JSON equal to {json.dumps(value)[:80]}, got {_excerpt(output)}")
        return verdict(output == str(value), f"expected exactly {_excerpt(str(value))}, got {_excerpt(output)}")
    if kind in ("contains", "icontains"):
        needle, hay = str(value), output
        if kind == "icontains":
            needle, hay = needle.lower(), hay.lower()
        position = hay.find(needle)
        where = f" (found at character {position})" if position >= 0 else ""
        return verdict(position >= 0, f"expected output to contain {_excerpt(str(value))}{where}; output was {_excerpt(output)}")
    if kind in ("contains-any", "icontains-any", "contains-all", "icontains-all"):
        insensitive = kind.startswith("i")
        wanted = _values(value)
        hay = output.lower() if insensitive else output
        present = [w for w in wanted if (w.lower() if insensitive else w) in hay]
        missing = [w for w in wanted if w not in present]
        if kind.endswith("any"):
            return verdict(bool(present), f"expected any of {wanted}; found {present or 'none'} in {_excerpt(output)}")
        return verdict(not missing, f"expected all of {wanted}; missing {missing or 'none'} in {_excerpt(output)}")
    if kind == "starts-with":
        return verdict(output.startswith(str(value)), f"expected output to start with {_excerpt(str(value))}, it starts with {_excerpt(output[:40])}")
    if kind == "regex":
        match = re.search(str(value), output)
        where = f" (matched {match.group(0)!r} at {match.start()})" if match else ""
        return verdict(match is not None, f"expected a match for /{value}/{where} in {_excerpt(output)}")
    if kind == "is-json":
        try:
            parsed = json.loads(output)
        except json.JSONDecodeError as err:
            return verdict(False, f"expected JSON; parse error at line {err.lineno} col {err.colno}: {err.msg}; output was {_excerpt(output)}")
        if isinstance(value, dict):
            problem = _schema_errors(parsed, value)
            return verdict(problem is None, f"JSON does not match the schema {problem}" if problem else "valid JSON matching the schema")
        return verdict(True, "valid JSON")
    if kind == "contains-json":
        candidates = extract_json_values(output)
        if not candidates:
            return verdict(False, f"expected a JSON object or array in {_excerpt(output)}")
        if isinstance(value, dict):
            problems = [_schema_errors(c, value) for c in candidates]
            if any(p is None for p in problems):
                return verdict(True, "found JSON matching the schema")
            return verdict(False, f"no embedded JSON matches the schema: {problems[0]}")
        return verdict(True, f"found {len(candidates)} JSON value(s)")
    if kind == "levenshtein":
        limit = assertion.threshold if assertion.threshold is not None else DEFAULT_LEVENSHTEIN
        distance = levenshtein(output, str(value))
        return verdict(distance <= limit, f"Levenshtein distance {distance} (at most {limit:g}) from {_excerpt(str(value))}")
    if kind == "latency":
        if assertion.threshold is None:
            return verdict(False, "latency needs a threshold in milliseconds")
        # A cached answer keeps the latency measured when it was first fetched (promptfoo refuses
        # cached latency instead; judging the original measurement keeps cached re-runs useful).
        latency = ctx.latency_ms or 0.0
        note = " (cached: measured on the original call)" if ctx.cached else ""
        return verdict(latency <= assertion.threshold, f"latency {latency:.0f} ms (at most {assertion.threshold:g} ms){note}")
    if kind == "cost":
        if assertion.threshold is None:
            return verdict(False, "cost needs a threshold")
        if ctx.cost is None:
            return verdict(False, "the provider reported no cost for this model")
        return verdict(ctx.cost <= assertion.threshold, f"cost ${ctx.cost:.6f} (at most ${assertion.threshold:g})")
    if kind == "python" and not ctx.python_assertions:
        where = f" ({ctx.python_assertions_source})" if ctx.python_assertions_source else ""
        raise AssertionRefused(f"python assertions are disabled here{where}: the code was not run")
    if kind == "python":
        return await _python(assertion, output, ctx)
    if kind == "similar":
        if ctx.embed is None:
            return verdict(False, "similar needs an embeddings provider")
        threshold = assertion.threshold if assertion.threshold is not None else DEFAULT_SIMILARITY
        references = value if isinstance(value, list) else [value]
        vectors = await ctx.embed([output, *[str(r) for r in references]])
        best = max(_cosine(vectors[0], v) for v in vectors[1:])
        return best >= threshold, best, f"cosine similarity {best:.3f} (threshold {threshold:g}) to {_excerpt(str(references[0]))}"
    if kind == "llm-rubric":
        return await _llm_rubric(assertion, output, ctx)
    return verdict(False, f"unsupported assertion type {assertion.type!r}")


@dataclass(frozen=True)
class CaseVerdict:
    passed: bool
    score: float
    results: tuple[AssertionResult, ...]


def grade_case(case: TestCase, results: Sequence[AssertionResult]) -> CaseVerdict:
    """promptfoo's rule: weighted mean score; pass = every assertion passes, or score >= test threshold."""
    total_weight = sum(r.weight for r in results)
    score = sum(r.score * r.weight for r in results) / total_weight if total_weight else (1.0 if all(r.passed for r in results) else 0.0)
    passed = score >= case.threshold if case.threshold is not None else all(r.passed for r in results)
    return CaseVerdict(passed, score, tuple(results))
