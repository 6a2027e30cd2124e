"""Assertions with promptfoo's names and semantics (read from promptfoo 0.123.1's source).

Each assertion yields pass/fail, a score in [0, 1] and a reason. The rules, type by type, are
in the README table ("Assertion semantics"); the conformance corpus in
tests/fixtures/promptfoo_conformance holds promptfoo's own verdicts for them.

How a case is graded (promptfoo's AssertionsResult):

- the test's `transform` rewrites the output first, then each assertion's own `transform`;
- string values are templates over the case's vars (`{{ name }}`); `file://` values load
  JSON/YAML/text files;
- `not-<type>` inverts as promptfoo does type by type (binary types flip pass and score;
  score types such as `bleu` report 1 - score);
- an assertion with `weight: 0` always passes (it still contributes its score, times 0);
- a misconfigured assertion (missing value or threshold, a value of the wrong kind, a schema
  ajv refuses, a metric the provider did not report) *errors the case* like promptfoo does,
  instead of failing it;
- the case's score is the weighted mean of the scores (0 when the weights sum to 0; 1 with no
  assertions); it passes when no assertion failed, or, when the test sets `threshold`, when
  the score reaches it. An `assert-set` is graded the same way with its own threshold and
  counts as one assertion of its weight.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from workbench.core.jsvalues import (
    JsRegexError,
    coerce_output,
    js_split_whitespace,
    json_parse,
    stringify,
    to_string,
)
from workbench.core.model import Assertion, TestCase
from workbench.evals import assert_metrics
from workbench.evals.assert_graded import extract_json_values, llm_rubric, similar
from workbench.evals.assert_json import extract_json_objects, load_yaml
from workbench.evals.assert_python import apply_transform, python_assertion, require_python
from workbench.evals.assert_values import (
    AssertionConfigError,
    AssertionRefused,
    GradingContext,
    excerpt,
    parse_comma_separated,
    resolve_value,
)
from workbench.evals.off_loop import in_thread_off_the_loop
from workbench.evals.regex_limit import RegexHelperEnded, RegexTimeout, bounded_search
from workbench.evals.run_model import AssertionResult

DEFAULT_LEVENSHTEIN = 5.0


# ------------------------------------------------------------------ values


# ------------------------------------------------------------------ python (assertion, transform)


# ------------------------------------------------------------------ model-graded


def levenshtein(a: str, b: str) -> int:
    return assert_metrics.levenshtein(a, b)


# ------------------------------------------------------------------ the types
def _binary(ok: bool, inverse: bool, reason_fail: str, reason_pass: str = "Assertion passed") -> tuple[bool, float, str]:
    passed = ok != inverse
    return passed, 1.0 if passed else 0.0, reason_pass if passed else reason_fail


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionConfigError(message)


def _js_truthy(value: Any) -> bool:
    """JavaScript truthiness: an empty list or object is true, "" / 0 / null are false."""
    if isinstance(value, (list, dict)):
        return True
    if isinstance(value, float) and math.isnan(value):
        return False
    return bool(value)


def _is_contains_value(value: Any) -> bool:
    return (isinstance(value, str) and value != "") or (isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value))


def _compile_json_schema(value: Any, label: str) -> Any:
    from workbench.evals.jsonschema_js import SchemaCompileError, compile_schema

    schema = value
    if isinstance(value, str):
        try:
            schema = load_yaml(value)
        except Exception as err:
            raise AssertionConfigError(f"the {label} schema is not YAML/JSON: {err}") from None
    elif not isinstance(value, (dict, list, bool)):
        raise AssertionConfigError(f"{label} assertion must have a string or object value")
    try:
        return compile_schema(schema)
    except SchemaCompileError as err:
        raise AssertionConfigError(str(err)) from None


_WAITS_ON_THE_REGEX_HELPER = frozenset({"regex", "is-json", "contains-json", "is-sql", "contains-sql"})
"""The types graded by `_graded_with_user_patterns`: a pattern of the user's may wait up to its limit
(`regex_limit`) for the helper process, so they run in a worker thread, not the event loop's."""


def _graded_with_user_patterns(kind: str, value: Any, text: str, inverse: bool) -> tuple[bool, float, str]:
    """A `regex`, a JSON schema's `pattern`, is-sql's allowed tables: user patterns run by `bounded_search`.

    It blocks while the helper runs (up to 1 s a match and more), so `_dispatch` runs it in a
    thread: on the event loop it stalled every other request of the run (none sent, no answer
    read). `bounded_search` serializes the threads' use of the one helper with its lock.
    """
    neg = "not " if inverse else ""
    if kind == "regex":
        _need(isinstance(value, str) and value != "", '"regex" assertion type must have a string value')
        try:
            ok = bounded_search(value, text)
        except JsRegexError as err:
            return False, 0.0, f"Invalid regex pattern: {err}"
        return _binary(ok, inverse, f"Expected output to {neg}match regex /{value}/; output was {excerpt(text)}")
    if kind == "is-json":
        try:
            parsed = json_parse(text)
            is_json = True
        except ValueError as err:
            parsed, is_json = None, False
            parse_error = str(err)
        if is_json and value:
            validator = _compile_json_schema(value, "is-json")
            from workbench.evals.jsonschema_js import schema_errors

            problem = schema_errors(validator, parsed)
            passed = (problem is None) != inverse
            if not passed:
                return False, 0.0, "Output is JSON that conforms to the provided schema" if inverse else f"JSON does not conform to the provided schema. Errors: {problem}"
            return True, 1.0, "Assertion passed"
        return _binary(is_json, inverse, f"Expected output to {neg}be valid JSON" + ("" if is_json else f" ({parse_error}); output was {excerpt(text)}"))
    if kind == "contains-json":
        objects = extract_json_objects(text)
        passed = (not objects) if inverse else bool(objects)
        message = f"Expected output to {neg}contain valid JSON"
        if value and objects:
            from workbench.evals.jsonschema_js import schema_errors

            validator = _compile_json_schema(value, "contains-json")
            for candidate in objects:
                problem = schema_errors(validator, candidate)
                passed = (problem is None) != inverse
                if problem is None:
                    if inverse:
                        message = "Output contains JSON conforming to the provided schema"
                    break
                message = f"JSON does not conform to the provided schema. Errors: {problem}"
        return passed, 1.0 if passed else 0.0, "Assertion passed" if passed else message
    if kind in ("is-sql", "contains-sql"):
        from workbench.evals import assert_sql

        try:
            ok, why = (assert_sql.check_sql if kind == "is-sql" else assert_sql.contains_sql)(text, value)
        except ValueError as err:
            raise AssertionConfigError(str(err)) from None
        return _binary(ok, inverse, why if not inverse else "The output SQL statement is valid")
    raise AssertionError(f"not a pattern-graded type: {kind}")


async def _dispatch(assertion: Assertion, value: Any, output: Any, inverse: bool, ctx: GradingContext) -> tuple[bool, float, str]:
    kind = assertion.base_type
    text = coerce_output(output)
    neg = "not " if inverse else ""

    if kind in _WAITS_ON_THE_REGEX_HELPER:
        return await in_thread_off_the_loop(_graded_with_user_patterns, kind, value, text, inverse)
    if kind == "equals":
        if isinstance(value, (dict, list)) or value is None:  # JavaScript: typeof null is "object"
            try:
                ok = _deep_equal(value, json_parse(text))
            except ValueError:
                ok = False
            shown = stringify(value)
        else:
            shown = to_string(value)
            ok = shown == text
        return _binary(ok, inverse, f"Expected output {excerpt(text)} to {neg}equal {excerpt(shown)}")
    if kind in ("contains", "icontains"):
        _need(_is_contains_value(value), f'"{kind}" assertion type must have a string or number value')
        needle = to_string(value)
        hay = text
        if kind == "icontains":
            needle, hay = needle.lower(), hay.lower()
        return _binary(needle in hay, inverse, f"Expected output to {neg}contain {excerpt(to_string(value))}; output was {excerpt(text)}")
    if kind in ("contains-any", "icontains-any", "contains-all", "icontains-all"):
        _need(_js_truthy(value), f'"{kind}" assertion type must have a value')
        if isinstance(value, str):
            value = parse_comma_separated(value)
        _need(isinstance(value, list), f'"{kind}" assertion type must have an array value')
        insensitive = kind.startswith("i")
        hay = text.lower() if insensitive else text
        wanted = [to_string(v) for v in value]
        found = [w for w in wanted if (w.lower() if insensitive else w) in hay]
        if kind.endswith("any"):
            return _binary(bool(found), inverse, f"Expected output to {neg}contain one of {wanted}; output was {excerpt(text)}")
        missing = [w for w in wanted if w not in found]
        return _binary(not missing, inverse, f"Expected output to {neg}contain all of {wanted}. Missing: {missing}")
    if kind == "starts-with":
        _need(isinstance(value, str) and value != "", '"starts-with" assertion type must have a string value')
        return _binary(text.startswith(value), inverse, f"Expected output to {neg}start with {excerpt(value)}, it starts with {excerpt(text[:40])}")
    if kind == "levenshtein":
        _need(isinstance(value, str), '"levenshtein" assertion type must have a string value')
        limit = assertion.threshold if assertion.threshold is not None else DEFAULT_LEVENSHTEIN
        distance = assert_metrics.levenshtein(text, value)
        return _binary(distance <= limit, inverse, f"Levenshtein distance {distance} is {'less than or equal to' if inverse else 'greater than'} threshold {limit:g}")
    if kind == "word-count":
        return _word_count(value, text, inverse)
    if kind == "latency":
        _need(assertion.threshold is not None, "Latency assertion must have a threshold in milliseconds")
        _need(ctx.latency_ms is not None, "Latency assertion does not support cached results. Rerun the eval with --no-cache")
        latency = float(ctx.latency_ms or 0.0)
        # A cached answer keeps the latency measured when it was first fetched (promptfoo refuses
        # cached latency instead; judging the original measurement keeps cached re-runs useful).
        note = " (cached: measured on the original call)" if ctx.cached else ""
        return _binary(latency <= float(assertion.threshold or 0), inverse, f"Latency {latency:.0f}ms is {'less than or equal to' if inverse else 'greater than'} threshold {assertion.threshold:g}ms{note}", f"latency {latency:.0f} ms{note}")
    if kind == "cost":
        _need(assertion.threshold is not None, "Cost assertion must have a threshold")
        _need(ctx.cost is not None, "Cost assertion does not support providers that do not return cost")
        cost = float(ctx.cost or 0.0)
        return _binary(cost <= float(assertion.threshold or 0), inverse, f"Cost {cost:.2g} is {'less than or equal to' if inverse else 'greater than'} threshold {assertion.threshold:g}")
    if kind in ("perplexity", "perplexity-score"):
        _need(bool(ctx.logprobs), f"{kind} assertion does not support providers that do not return logProbs")
        logprobs = list(ctx.logprobs or ())
        if kind == "perplexity":
            value_pp = assert_metrics.perplexity(logprobs)
            if assertion.threshold is None:
                return True, 1.0, f"perplexity {value_pp:.2f}"
            return _binary(value_pp <= assertion.threshold, inverse, f"Perplexity {value_pp:.2f} is {'less than or equal to' if inverse else 'greater than'} threshold {assertion.threshold:g}")
        norm = assert_metrics.perplexity_score(logprobs)
        passed = True if assertion.threshold is None else (norm >= assertion.threshold) != inverse
        return passed, (1 - norm) if inverse else norm, "Assertion passed" if passed else f"Perplexity score {norm:.2f} is {'greater than or equal to' if inverse else 'less than'} threshold {assertion.threshold:g}"
    if kind == "bleu":
        _need(isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)), '"bleu" assertion type must have a string or array of strings value')
        threshold = assertion.threshold if assertion.threshold is not None else 0.5
        score = assert_metrics.bleu(text, value if isinstance(value, list) else [value])
        passed = (score >= threshold) != inverse
        return passed, (1 - score) if inverse else score, "Assertion passed" if passed else f"BLEU score {score:.4f} is {'greater' if inverse else 'less'} than threshold {threshold:g}"
    if kind == "rouge-n":
        _need(isinstance(value, str), '"rouge" assertion type must be a string value')
        threshold = assertion.threshold if assertion.threshold is not None else 0.75
        score = assert_metrics.rouge_n(text.lower(), value.lower())
        passed = (score >= threshold) != inverse
        return passed, (1 - score) if inverse else score, f"ROUGE-N score {score:.2f} is {'greater than or equal to' if score >= threshold else 'less than'} threshold {threshold:g}"
    if kind in ("is-xml", "contains-xml"):
        from workbench.evals import assert_xml  # each family is imported when a suite uses it

        try:
            required = assert_xml.required_elements(value)
        except ValueError as err:
            raise AssertionConfigError(str(err)) from None
        ok, why = (assert_xml.validate_xml if kind == "is-xml" else assert_xml.contains_xml)(text, required)
        return _binary(ok, inverse, why if not inverse else f"Expected output to not be valid XML ({why})")
    if kind == "is-valid-openai-tools-call":
        from workbench.evals import assert_tools

        tools = assert_tools.definitions_from_value(value, "tools")
        if tools is None and ctx.tools is not None:
            tools = list(ctx.tools)
        ok, why = assert_tools.check_tools_call(output, tools)
        return ok, 1.0 if ok else 0.0, why  # promptfoo ignores `not-` for this type
    if kind == "is-valid-openai-function-call":
        from workbench.evals import assert_tools

        functions = assert_tools.definitions_from_value(value, "functions")
        if functions is None and ctx.functions is not None:
            functions = list(ctx.functions)
        if functions is None:
            return False, 0.0, "no function definitions: give the assertion `value: {functions: [...]}`"
        ok, why = assert_tools.check_function_call(output, functions)
        return ok, 1.0 if ok else 0.0, why
    if kind == "tool-call-f1":
        from workbench.evals import assert_tool_match

        return assert_tool_match.tool_call_f1(value, output, assertion.threshold, inverse)
    if kind == "trajectory:tool-args-match":
        from workbench.evals import assert_tool_match

        return assert_tool_match.tool_args_match(value, output, inverse)
    if kind == "python":
        require_python(ctx, "assertions")
        return await python_assertion(replace(assertion, value=value), output, inverse, ctx)
    if kind == "similar":
        ok, score, why = await similar(assertion, value, text, ctx)
        return (not ok, 1.0 - score, "not: " + why) if inverse else (ok, score, why)
    if kind == "llm-rubric":
        ok, score, why = await llm_rubric(assertion, text, ctx)
        return (not ok, 1.0 - score, "not: " + why) if inverse else (ok, score, why)
    raise AssertionConfigError(f"Unknown assertion type: {assertion.type}")


def _deep_equal(a: Any, b: Any) -> bool:
    """util.isDeepStrictEqual on JSON values (numbers compare by value, not by Python type)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _word_count(value: Any, text: str, inverse: bool) -> tuple[bool, float, str]:
    _need(value is not None, '"word-count" assertion must have a value')
    count = len(js_split_whitespace(text))
    if isinstance(value, dict):
        low, high = value.get("min"), value.get("max")
        _need(low is not None or high is not None, '"word-count" assertion object must have "min" and/or "max" properties')
        if low is not None and high is not None:
            _need(low <= high, f'"word-count" assertion: min ({low}) must be less than or equal to max ({high})')
            return _binary(low <= count <= high, inverse, f"Word count {count} is {'' if inverse else 'not '}between {low} and {high}")
        if low is None:
            assert high is not None
            return _binary(count <= high, inverse, f"Word count {count} is {'at most' if inverse else 'greater than maximum'} {high}")
        return _binary(count >= low, inverse, f"Word count {count} is {'at least' if inverse else 'less than minimum'} {low}")
    expected: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        expected = float(value)
    elif isinstance(value, str):
        try:
            expected = float(value.strip()) if value.strip() else 0.0
        except ValueError:
            expected = None
    _need(expected is not None, '"word-count" assertion value must be a number or an object with min/max properties')
    return _binary(count == expected, inverse, f"Word count {count} does {'' if inverse else 'not '}equal expected {to_string(value)}")


# ------------------------------------------------------------------ grading
NOT_FINITE = "score is not a finite number"


async def check(assertion: Assertion, output: Any, ctx: GradingContext) -> AssertionResult:
    """Run one assertion (not an `assert-set`: see `grade`).

    Args:
        assertion: the assertion, `not-` prefix included.
        output: the model output: text, or the structured output (tool calls) of a provider.
        ctx: vars, latency, cost, logprobs, tool definitions, graders.

    Returns:
        The result; `error=True` when the assertion itself is unusable (the case errors).
    """
    try:
        if assertion.transform:
            output = await apply_transform(assertion.transform, output, ctx)
        value = resolve_value(assertion.value, ctx)
        passed, score, reason = await _dispatch(assertion, value, output, assertion.negated, ctx)
    except AssertionRefused as err:
        return AssertionResult(assertion.type, False, 0.0, str(err), assertion.weight, assertion.metric)
    except (AssertionConfigError, RegexTimeout, RegexHelperEnded) as err:  # a `regex` or a schema `pattern` backtracking
        return AssertionResult(assertion.type, False, 0.0, f"{assertion.type}: {err}", assertion.weight, assertion.metric, error=True)
    except Exception as err:  # a bug or an unexpected value: promptfoo errors the case too
        return AssertionResult(assertion.type, False, 0.0, f"{assertion.type} assertion error: {type(err).__name__}: {err}", assertion.weight, assertion.metric, error=True)
    if not math.isfinite(score):
        # JSON has no inf or NaN: `float('inf')` or a grader's 1e999 passed the case and was written
        # as `"score": null`, a report `report merge` refused. Not a score, so the case errs.
        return AssertionResult(assertion.type, False, 0.0, f"{assertion.type}: {NOT_FINITE} (got {score!r})", assertion.weight, assertion.metric, error=True)
    if assertion.weight == 0:
        passed = True
    return AssertionResult(assertion.type, passed, score, reason, assertion.weight, assertion.metric)


@dataclass(frozen=True)
class CaseVerdict:
    passed: bool
    score: float
    results: tuple[AssertionResult, ...]
    error: str | None = None  # an assertion or transform was unusable: the case errors


class _NotFinite(Exception):
    """A weighted score that overflowed (two finite scores of 1e308): not a score."""


def _aggregate(results: Sequence[AssertionResult], threshold: float | None) -> tuple[bool, float, str]:
    """(passed, weighted score, reason) of a case's or an assert-set's results.

    Raises:
        _NotFinite: the weighted score is not finite. Decided here for both: an assert-set kept
            such a score, stored as `"score": null`, and `report merge` refused the report.
    """
    total_weight = sum(r.weight for r in results)
    score = sum(r.score * r.weight for r in results) / total_weight if total_weight > 0 else 0.0
    if not math.isfinite(score):
        raise _NotFinite(f"{NOT_FINITE} (got {score!r})")
    failed = [r for r in results if not r.passed]
    passed = not failed
    reason = failed[-1].reason if failed else "All assertions passed"
    if threshold is not None and not math.isnan(threshold):
        passed = score >= threshold
        reason = f"Aggregate score {score:.2f} {'≥' if passed else '<'} {threshold:g} threshold"
    return passed, score, reason


def grade_case(case: TestCase, results: Sequence[AssertionResult]) -> CaseVerdict:
    """promptfoo's rule over a flat list of results (see the module docstring)."""
    errors = [r for r in results if r.error]
    if errors:
        return CaseVerdict(False, 0.0, tuple(results), errors[0].reason)
    if not results:
        return CaseVerdict(True, 1.0, ())
    try:
        passed, score, _ = _aggregate(results, case.threshold)
    except _NotFinite as err:
        return CaseVerdict(False, 0.0, tuple(results), f"the case's weighted score: {err}")
    return CaseVerdict(passed, score, tuple(results))


async def grade(case: TestCase, output: Any, ctx: GradingContext) -> CaseVerdict:
    """Grade one output: the test's transform, every assertion (sets included), the verdict."""
    if case.transform:
        try:
            output = await apply_transform(case.transform, output, ctx)
        except AssertionConfigError as err:
            return CaseVerdict(False, 0.0, (), str(err))
    top: list[AssertionResult] = []
    flat: list[AssertionResult] = []
    for assertion in case.asserts:
        if assertion.type == "assert-set":
            inner = [await check(child, output, ctx) for child in assertion.children]
            flat.extend(inner)
            if any(r.error for r in inner):
                top.append(next(r for r in inner if r.error))
                continue
            try:
                passed, score, reason = _aggregate(inner, assertion.threshold) if inner else (True, 1.0, "No assertions")
            except _NotFinite as err:
                result = AssertionResult("assert-set", False, 0.0, f"assert-set: its weighted score: {err}", assertion.weight, assertion.metric, error=True)
            else:
                result = AssertionResult("assert-set", passed, score, reason, assertion.weight, assertion.metric)
        else:
            result = await check(assertion, output, ctx)
        top.append(result)
        flat.append(result)
    verdict = grade_case(case, top)
    return replace(verdict, results=tuple(flat))


__all__ = [
    "AssertionConfigError",
    "AssertionResult",
    "CaseVerdict",
    "GradingContext",
    "check",
    "extract_json_values",
    "grade",
    "grade_case",
    "levenshtein",
]
