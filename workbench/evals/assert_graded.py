"""Assertions that need a model: llm-rubric (a grader prompt) and similar (embeddings)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from typing import Any

from workbench.core.model import Assertion
from workbench.evals.assert_values import AssertionConfigError, GradingContext, excerpt

DEFAULT_SIMILARITY = 0.75


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


def extract_json_values(text: str) -> list[Any]:
    """Every JSON object or array embedded in `text` (used to read a grader's reply)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    index = 0
    opener = re.compile(r"[\[{]")
    while index < len(text):
        match = opener.search(text, index)
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


async def llm_rubric(assertion: Assertion, text: str, ctx: GradingContext) -> tuple[bool, float, str]:
    if ctx.grade is None:
        return False, 0.0, "llm-rubric needs a grader provider (assertion `provider:` or the run's provider)"
    reply = await ctx.grade(RUBRIC_PROMPT.format(output=text, rubric=assertion.value))
    values = [v for v in extract_json_values(reply) if isinstance(v, dict) and "pass" in v]
    if not values:
        return False, 0.0, f"the grader's reply is not the expected JSON: {excerpt(reply)}"
    verdict = values[0]
    passed = bool(verdict.get("pass"))
    score = float(verdict.get("score", 1.0 if passed else 0.0))
    if assertion.threshold is not None:
        passed = passed and score >= assertion.threshold
    return passed, score, f"grader: {verdict.get('reason', '')}"


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=False))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


async def similar(assertion: Assertion, value: Any, text: str, ctx: GradingContext) -> tuple[bool, float, str]:
    if not isinstance(value, (str, list)) or (isinstance(value, list) and not value):
        raise AssertionConfigError("Similarity assertion type must have a string or array of strings value")
    if ctx.embed is None:
        return False, 0.0, "similar needs an embeddings provider"
    threshold = assertion.threshold if assertion.threshold is not None else DEFAULT_SIMILARITY
    references = value if isinstance(value, list) else [value]
    vectors = await ctx.embed([text, *[str(r) for r in references]])
    best = max(cosine(vectors[0], v) for v in vectors[1:])
    return best >= threshold, best, f"cosine similarity {best:.3f} (threshold {threshold:g}) to {excerpt(str(references[0]))}"
