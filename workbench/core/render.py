"""Render a prompt with variables: exactly the messages (or the text) a model would receive."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, UndefinedError
from jinja2.exceptions import SecurityError

from workbench.core.loader import value_matches_type
from workbench.core.model import Prompt
from workbench.core.partials import partials_scope
from workbench.core.sandbox import (
    DEFAULT_RENDER_LIMITS,
    RenderBudget,
    RenderLimits,
    TemplateLimitError,
    budget_scope,
    weight,
)
from workbench.core.templates import environment
from workbench.errors import RenderError

_INPUT_WEIGHT_CAP = 64_000_000


@dataclass(frozen=True)
class RenderedPrompt:
    """What would be sent: chat `messages` or a completion `text` (exactly one is set)."""

    prompt: str
    messages: list[dict[str, str]] | None = None
    text: str | None = None
    # Sent with the messages, in OpenAI's shapes (None when the prompt declares none).
    tools: list[dict[str, Any]] | None = None
    tool_choice: Any = None
    response_format: dict[str, Any] | None = None

    def request_fields(self) -> dict[str, Any]:
        """`tools`, `tool_choice`, `response_format`: those the prompt declares, as declared."""
        fields = {"tools": self.tools, "tool_choice": self.tool_choice, "response_format": self.response_format}
        return {key: value for key, value in fields.items() if value is not None}

    def as_text(self) -> str:
        if self.text is not None:
            return self.text
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages or [])

    def to_dict(self) -> dict[str, Any]:
        # The request fields only when declared: a prompt without them keeps its cache keys.
        return {"prompt": self.prompt, "messages": self.messages, "text": self.text, **self.request_fields()}


def resolve_variables(prompt: Prompt, variables: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults applied, types and enums checked, unknown names rejected.

    Raises:
        RenderError: a missing required input, a value of the wrong type, an unknown variable.
    """
    declared = {spec.name: spec for spec in prompt.inputs}
    unknown = sorted(set(variables) - set(declared))
    if unknown and declared:
        raise RenderError(
            f"{prompt.name}: unknown variable(s) {', '.join(unknown)}",
            hint="declared inputs: " + ", ".join(sorted(declared)),
        )
    values: dict[str, Any] = dict(variables) if not declared else {}
    for name, spec in declared.items():
        if name in variables:
            value = variables[name]
        elif spec.has_default:
            value = spec.default
        elif spec.required:
            raise RenderError(f"{prompt.name}: missing required input '{name}'", hint=f"pass --var {name}=...")
        else:
            continue
        if value is not None and not value_matches_type(value, spec.type):
            raise RenderError(f"{prompt.name}: input '{name}' must be a {spec.type}, got {type(value).__name__} {value!r:.60}")
        if spec.enum is not None and value not in spec.enum:
            raise RenderError(f"{prompt.name}: input '{name}' must be one of {', '.join(map(str, spec.enum))}, got {value!r:.60}")
        values[name] = value
    return values


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Templates compile once per text (a serving app renders the same ones on every request)."""
    return environment().from_string(source)


def variables_budget(values: Mapping[str, Any], limits: RenderLimits = DEFAULT_RENDER_LIMITS) -> RenderBudget:
    """The budget of renders over `values`: `limits`, with the variables' own size allowed on top
    of the output-size limit (a long document passed in may legitimately appear in the output)."""
    return RenderBudget(limits, input_chars=weight(values, _INPUT_WEIGHT_CAP)[0] - 2)


def render_within(budget: RenderBudget, template: Template, values: Mapping[str, Any]) -> str:
    """`template` rendered with `values`, every limit of `budget` enforced: the one way a template
    from a file is rendered (prompt messages, assertion values).

    Raises:
        TemplateLimitError: naming the limit passed; or whatever the template itself raises.
    """
    with budget_scope(budget):
        text = template.render(values)
        budget.size(len(text), "the output")
        return text


def render_prompt(prompt: Prompt, variables: Mapping[str, Any], *, limits: RenderLimits = DEFAULT_RENDER_LIMITS) -> RenderedPrompt:
    """Render every template of `prompt`, within `limits` (all templates together).

    Raises:
        RenderError: naming the prompt, the message and the variable, or the limit passed
            (output size, loop iterations, calls, call depth, number size, render time).
    """
    values = resolve_variables(prompt, variables)
    budget = variables_budget(values, limits)  # one budget for all the templates together

    def render(label: str, source: str) -> str:
        try:
            with partials_scope(prompt.partials):
                return render_within(budget, _compiled(source), values)
        except TemplateLimitError as err:
            raise RenderError(f"{prompt.name}: {label}: {err.message}", hint="templates are bounded so that a render always ends; see the README (template limits)") from None
        except UndefinedError as err:
            raise RenderError(f"{prompt.name}: {label}: {err.message}", hint="declare it in inputs or pass it with --var") from None
        except SecurityError as err:
            raise RenderError(f"{prompt.name}: {label}: blocked by the template sandbox: {err}") from None
        except TemplateError as err:
            raise RenderError(f"{prompt.name}: {label}: {err}") from None
        except RecursionError:
            raise RenderError(f"{prompt.name}: {label}: templates nested too deeply") from None
        except Exception as err:  # arithmetic on a wrong value and the like
            raise RenderError(f"{prompt.name}: {label}: {type(err).__name__}: {err}") from None

    # Each render's own copies, all the way down: the prompt is cached by commit, and a caller
    # that adjusted a tool of one request (`kw["tools"][0]["function"]["name"] = ...`) changed
    # it for every later request of the process. ~7 µs per tool (deepcopy beat a JSON walk).
    extras: dict[str, Any] = copy.deepcopy({
        "tools": list(prompt.tools) or None,
        "tool_choice": prompt.tool_choice,
        "response_format": prompt.response_format,
    })
    if prompt.template is not None:
        return RenderedPrompt(prompt.name, text=render("template", prompt.template), **extras)
    messages = [
        {"role": message.role, "content": render(f"message {index} ({message.role})", message.content)}
        for index, message in enumerate(prompt.messages, 1)
    ]
    return RenderedPrompt(prompt.name, messages=messages, **extras)
