"""Render a prompt with variables: exactly the messages (or the text) a model would receive."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, UndefinedError
from jinja2.exceptions import SecurityError

from workbench.core.loader import value_matches_type
from workbench.core.model import Prompt
from workbench.core.templates import environment
from workbench.errors import RenderError


@dataclass(frozen=True)
class RenderedPrompt:
    """What would be sent: chat `messages` or a completion `text` (exactly one is set)."""

    prompt: str
    messages: list[dict[str, str]] | None = None
    text: str | None = None

    def as_text(self) -> str:
        if self.text is not None:
            return self.text
        return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in self.messages or [])

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "messages": self.messages, "text": self.text}


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
    """Compile a template once: a suite renders the same templates for every case."""
    return environment().from_string(source)


def render_prompt(prompt: Prompt, variables: Mapping[str, Any]) -> RenderedPrompt:
    """Render every template of `prompt`.

    Raises:
        RenderError: naming the prompt, the message and the variable.
    """
    values = resolve_variables(prompt, variables)

    def render(label: str, source: str) -> str:
        try:
            return _compiled(source).render(values)
        except UndefinedError as err:
            raise RenderError(f"{prompt.name}: {label}: {err.message}", hint="declare it in inputs or pass it with --var") from None
        except SecurityError as err:
            raise RenderError(f"{prompt.name}: {label}: blocked by the template sandbox: {err}") from None
        except TemplateError as err:
            raise RenderError(f"{prompt.name}: {label}: {err}") from None
        except Exception as err:  # arithmetic on a wrong value and the like
            raise RenderError(f"{prompt.name}: {label}: {type(err).__name__}: {err}") from None

    if prompt.template is not None:
        return RenderedPrompt(prompt.name, text=render("template", prompt.template))
    messages = [
        {"role": message.role, "content": render(f"message {index} ({message.role})", message.content)}
        for index, message in enumerate(prompt.messages, 1)
    ]
    return RenderedPrompt(prompt.name, messages=messages)
