"""The assertion types Prompt Workbench understands: promptfoo's names, in one place.

Validation (hints for typos), the JSON Schema (editor completion) and the evaluation engine
all read this list.
"""

from __future__ import annotations

ASSERTION_TYPES: tuple[str, ...] = (
    "equals",
    "contains",
    "icontains",
    "contains-any",
    "contains-all",
    "icontains-any",
    "icontains-all",
    "starts-with",
    "regex",
    "is-json",
    "contains-json",
    "levenshtein",
    "latency",
    "cost",
    "python",
    "similar",
    "llm-rubric",
)

ALL_ASSERTION_TYPES: tuple[str, ...] = ASSERTION_TYPES + tuple(f"not-{t}" for t in ASSERTION_TYPES)

# promptfoo types we recognise but do not run, so the message can say so.
UNSUPPORTED_PROMPTFOO_TYPES: tuple[str, ...] = (
    "javascript",
    "webhook",
    "rouge-n",
    "bleu",
    "model-graded-closedqa",
    "factuality",
    "answer-relevance",
    "context-faithfulness",
    "perplexity",
    "classifier",
    "moderation",
    "is-valid-openai-tools-call",
    "is-sql",
)
