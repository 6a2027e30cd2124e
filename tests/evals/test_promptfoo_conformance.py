"""Case-by-case agreement with promptfoo 0.123.1 on the conformance corpus.

tests/fixtures/promptfoo_conformance/corpus.yaml holds outputs and promptfoo assertions;
verdicts.json holds what promptfoo itself decided for each (recorded by
scripts/promptfoo_conformance.py with promptfoo's echo provider, so this test needs no Node).
Every case must get the same status (pass / fail / error) and the same score.

A handful of cases use JavaScript `transform`s; the workbench's transforms are Python, so the
test swaps in the Python equivalent listed in PY_TRANSFORMS.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.core.model import Assertion, TestCase
from workbench.evals.assertions import GradingContext, grade

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "promptfoo_conformance"
CORPUS: list[dict[str, Any]] = yaml.safe_load((FIXTURES / "corpus.yaml").read_text(encoding="utf-8"))
VERDICTS: dict[str, Any] = json.loads((FIXTURES / "verdicts.json").read_text(encoding="utf-8"))["cases"]

PY_TRANSFORMS = {
    "output.toLowerCase()": "output.lower()",
    "JSON.parse(output).answer": "json.loads(output)['answer']",
    "JSON.parse(output).a": "json.loads(output)['a']",
    "output.length": "len(output)",
}

# Where the workbench deliberately differs from promptfoo (documented in the README).
KNOWN_DIFFERENCES: dict[str, str] = {}


def to_assertion(raw: dict[str, Any]) -> Assertion:
    transform = raw.get("transform")
    return Assertion(
        type=raw["type"],
        value=raw.get("value"),
        threshold=raw.get("threshold"),
        weight=float(raw.get("weight", 1.0)),
        metric=raw.get("metric"),
        transform=PY_TRANSFORMS.get(transform, transform) if transform else None,
        children=tuple(to_assertion(child) for child in raw.get("assert") or ()),
    )


def to_case(raw: dict[str, Any]) -> tuple[TestCase, Any, GradingContext]:
    # promptfoo's echo drops the trailing newlines of a rendered prompt: grade what it graded
    output = VERDICTS[raw["id"]].get("graded_output", raw["output"])
    transform = (raw.get("options") or {}).get("transform")
    response = raw.get("response")
    case = TestCase(
        description=raw["id"],
        vars={"out": raw["output"] if isinstance(raw["output"], str) else "", **(raw.get("vars") or {})},
        asserts=tuple(to_assertion(a) for a in raw.get("assert") or ()),
        threshold=raw.get("threshold"),
        transform=PY_TRANSFORMS.get(transform, transform) if transform else None,
    )
    if response is not None:  # the stub provider: what it reports, nothing else
        ctx = GradingContext(
            vars=case.vars,
            latency_ms=response.get("latencyMs", 0.0),
            cost=response.get("cost"),
            logprobs=tuple(response["logProbs"]) if "logProbs" in response else None,
        )
    else:  # promptfoo's echo provider (cost 0) or providerOutput (cost 0)
        ctx = GradingContext(
            vars=case.vars,
            latency_ms=0.0,
            cost=0.0,
            tools=tuple(raw["tools"]) if "tools" in raw else None,
            functions=tuple(raw["functions"]) if "functions" in raw else None,
        )
    return case, output, ctx


async def workbench_verdict(raw: dict[str, Any]) -> tuple[str, float]:
    case, output, ctx = to_case(raw)
    verdict = await grade(case, output, ctx)
    status = "error" if verdict.error else "pass" if verdict.passed else "fail"
    return status, verdict.score


@pytest.mark.parametrize("raw", CORPUS, ids=[c["id"] for c in CORPUS])
async def test_same_verdict_as_promptfoo(raw: dict[str, Any]) -> None:
    expected = VERDICTS[raw["id"]]
    if raw["id"] in KNOWN_DIFFERENCES:
        pytest.skip(KNOWN_DIFFERENCES[raw["id"]])
    status, score = await workbench_verdict(raw)
    assert status == expected["status"], f"promptfoo: {expected['status']} ({expected['reason'][:160]})"
    if expected["status"] != "error":
        assert score == pytest.approx(expected["score"], abs=1e-6)


def test_corpus_and_verdicts_match() -> None:
    assert {c["id"] for c in CORPUS} == set(VERDICTS)
    assert len(CORPUS) >= 300
