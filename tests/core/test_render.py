"""Rendering: strict, sandboxed, typed inputs, clear errors."""

from __future__ import annotations

import pytest

from workbench.core.loader import load_prompt
from workbench.core.render import render_prompt
from workbench.errors import RenderError

PROMPT = """\
inputs:
  ticket: {type: string, required: true}
  tone: {type: string, default: neutral, enum: [neutral, urgent]}
  limit: {type: integer, default: 3}
messages:
  - role: system
    content: "Tone {{ tone }}, at most {{ limit }} sentences."
  - role: user
    content: "{{ ticket }}"
"""


def _prompt(text: str = PROMPT):  # type: ignore[no-untyped-def]
    result = load_prompt(text, "prompts/support/summarize.yaml")
    assert result.prompt is not None, result.problems
    return result.prompt


def test_defaults_are_applied_and_messages_are_exact() -> None:
    rendered = render_prompt(_prompt(), {"ticket": "[bold]refund[/]"})
    assert rendered.messages == [
        {"role": "system", "content": "Tone neutral, at most 3 sentences."},
        {"role": "user", "content": "[bold]refund[/]"},
    ]


def test_completion_template_renders_text() -> None:
    prompt = _prompt('inputs:\n  q: {type: string}\ntemplate: "Q: {{ q }}\\nA:"\n')
    assert render_prompt(prompt, {"q": "2+2"}).text == "Q: 2+2\nA:"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({}, "missing required input 'ticket'"),
        ({"ticket": 5}, "input 'ticket' must be a string"),
        ({"ticket": "x", "limit": True}, "input 'limit' must be a integer"),
        ({"ticket": "x", "tone": "angry"}, "input 'tone' must be one of neutral, urgent"),
        ({"ticket": "x", "colour": "red"}, "unknown variable(s) colour"),
    ],
)
def test_bad_variables_are_rejected_with_the_prompt_name(variables: dict, message: str) -> None:
    with pytest.raises(RenderError) as err:
        render_prompt(_prompt(), variables)
    assert message in str(err.value) and "support/summarize" in str(err.value)


def test_an_undefined_variable_names_the_message() -> None:
    prompt = _prompt("messages:\n  - {role: user, content: hi}\n  - {role: user, content: '{{ x.y }}'}\ninputs:\n  x: {type: object}\n")
    with pytest.raises(RenderError) as err:
        render_prompt(prompt, {"x": {}})
    assert "message 2 (user)" in str(err.value) and "y" in str(err.value)


def test_the_sandbox_blocks_unsafe_attribute_access() -> None:
    prompt = _prompt("inputs:\n  x: {type: string}\nmessages:\n  - {role: user, content: '{{ x.__class__.__mro__ }}'}\n")
    with pytest.raises(RenderError):
        render_prompt(prompt, {"x": "a"})
