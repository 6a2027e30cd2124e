"""The assertion types Prompt Workbench understands: promptfoo's names, in one place.

Validation (hints for typos), the JSON Schema (editor completion), the promptfoo importer and
the evaluation engine all read these lists.
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
    "is-xml",
    "contains-xml",
    "is-sql",
    "contains-sql",
    "levenshtein",
    "word-count",
    "rouge-n",
    "bleu",
    "latency",
    "cost",
    "perplexity",
    "perplexity-score",
    "is-valid-openai-tools-call",
    "is-valid-openai-function-call",
    "tool-call-f1",
    "trajectory:tool-args-match",
    "python",
    "similar",
    "llm-rubric",
)

# Not negatable: a group of assertions graded together.
GROUP_TYPES: tuple[str, ...] = ("assert-set",)

ALL_ASSERTION_TYPES: tuple[str, ...] = ASSERTION_TYPES + tuple(f"not-{t}" for t in ASSERTION_TYPES) + GROUP_TYPES

# promptfoo types we recognise but do not run: `validate` names them as unsupported (an error),
# never a silent pass. (promptfoo 0.123.1's handler table, minus what is supported above.)
UNSUPPORTED_PROMPTFOO_TYPES: tuple[str, ...] = (
    "javascript",
    "ruby",
    "webhook",
    "model-graded-closedqa",
    "model-graded-factuality",
    "factuality",
    "answer-relevance",
    "context-faithfulness",
    "context-recall",
    "context-relevance",
    "conversation-relevance",
    "g-eval",
    "agent-rubric",
    "search-rubric",
    "classifier",
    "moderation",
    "guardrails",
    "pi",
    "is-refusal",
    "is-html",
    "contains-html",
    "finish-reason",
    "gleu",
    "meteor",
    "similar:cosine",
    "similar:dot",
    "similar:euclidean",
    "is-valid-function-call",
    "skill-used",
    "trace-error-spans",
    "trace-span-count",
    "trace-span-duration",
    "trajectory:goal-success",
    "trajectory:step-count",
    "trajectory:tool-sequence",
    "trajectory:tool-used",
    "select-best",
    "max-score",
)


def is_unsupported(type_name: str) -> bool:
    """A promptfoo type the workbench knows of but does not run (`not-` forms included)."""
    base = type_name.removeprefix("not-")
    return base in UNSUPPORTED_PROMPTFOO_TYPES or base.startswith("promptfoo:")
