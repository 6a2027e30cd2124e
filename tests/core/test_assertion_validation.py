"""`validate` catches what promptfoo would refuse at run time, at the line and column concerned,
and names promptfoo types the workbench does not run instead of letting them pass silently."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from workbench.core.assertion_types import ALL_ASSERTION_TYPES, ASSERTION_TYPES, UNSUPPORTED_PROMPTFOO_TYPES
from workbench.core.loader import load_prompt
from workbench.core.model import Severity

HEAD = "template: 'Q: {{ q }}'\ninputs: {q: {type: string}}\ntests:\n  - vars: {q: x}\n    assert:\n"


def errors(assert_yaml: str) -> list[tuple[int, int, str, str | None]]:
    result = load_prompt(HEAD + assert_yaml, "prompts/t.yaml")
    return [(p.line, p.col, p.message, p.hint) for p in result.problems if p.severity is Severity.ERROR]


@pytest.mark.parametrize("kind", ["javascript", "not-javascript", "factuality", "model-graded-closedqa", "g-eval", "is-html", "promptfoo:redteam:harmful"])
def test_unsupported_promptfoo_type_is_a_positioned_error(kind: str) -> None:
    [(line, col, message, hint)] = errors(f"      - type: {kind}\n        value: x\n")
    assert (line, col) == (6, 15)
    assert f"'{kind}'" in message and "does not run" in message
    assert hint is not None and "python" in hint


def test_unknown_type_suggests_the_closest() -> None:
    [(line, col, message, hint)] = errors("      - type: is-sqll\n")
    assert (line, col) == (6, 15) and "unknown assertion type 'is-sqll'" in message and hint == "did you mean 'is-sql'?"


def test_every_new_type_validates() -> None:
    body = "".join(
        f"      - type: {t}\n        value: x\n        threshold: 1\n" for t in ASSERTION_TYPES if t not in ("regex",)
    )
    assert errors(body) == []
    nested = "      - type: assert-set\n        threshold: 0.5\n        assert:\n          - type: contains\n            value: a\n          - type: is-xml\n"
    assert errors(nested) == []


@pytest.mark.parametrize(
    ("snippet", "position", "text"),
    [
        ("      - type: regex\n        value: '(?i)hello'\n", (7, 16), "not a valid JavaScript regular expression"),
        ("      - type: not-regex\n        value: '(?P<n>x)'\n", (7, 16), "not a valid JavaScript regular expression"),
        ("      - type: latency\n", (6, 9), "needs a threshold"),
        ("      - type: contains\n", (6, 9), "needs a value"),
        ("      - type: assert-set\n        assert:\n          - type: regex\n            value: '['\n", (9, 20), "JavaScript regular expression"),
        ("      - type: contains\n        value: a\n        transform: 3\n", (8, 20), "expected string"),
    ],
)
def test_runtime_refusals_are_caught_at_validate(snippet: str, position: tuple[int, int], text: str) -> None:
    found = errors(snippet)
    assert any((line, col) == position and text in message for line, col, message, _ in found), found


def test_javascript_named_groups_and_templates_are_fine() -> None:
    assert errors("      - type: regex\n        value: '(?<year>\\d{4})'\n      - type: regex\n        value: '{{ q }}('\n") == []


def test_schema_lists_exactly_the_supported_types() -> None:
    schema = json.loads(resources.files("workbench.schema").joinpath("prompt.schema.json").read_text(encoding="utf-8"))
    assert schema["$defs"]["assertion"]["properties"]["type"]["enum"] == list(ALL_ASSERTION_TYPES)
    assert not set(ASSERTION_TYPES) & set(UNSUPPORTED_PROMPTFOO_TYPES)


def test_test_level_transform_and_default_options_are_loaded() -> None:
    text = (
        "template: 'Q: {{ q }}'\ninputs: {q: {type: string}}\n"
        "defaultTest:\n  options: {transform: output.strip()}\n"
        "tests:\n  - vars: {q: x}\n    assert: [{type: equals, value: x, transform: output.lower()}]\n"
        "  - vars: {q: y}\n    options: {transform: output.upper()}\n    assert: [{type: assert-set, assert: [{type: contains, value: Y}]}]\n"
    )
    result = load_prompt(text, "prompts/t.yaml")
    assert result.ok, [p.format() for p in result.problems]
    assert result.prompt is not None
    first, second = result.prompt.tests
    assert first.transform == "output.strip()" and first.asserts[0].transform == "output.lower()"
    assert second.transform == "output.upper()"
    assert second.asserts[0].type == "assert-set" and second.asserts[0].children[0].value == "Y"
