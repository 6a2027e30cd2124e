"""What every provider speaks: the request, the completion, the retryable call error, the Provider protocol."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.errors import ProviderError
from workbench.evals.secrets import scrub


@dataclass(frozen=True)
class ModelRequest:
    """One call: chat `messages` or completion `text`."""

    messages: list[dict[str, str]] | None = None
    text: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=dict)
    # The prompt's `tools`, `tool_choice`, `response_format` (OpenAI's shapes), when it declares them.
    fields: Mapping[str, Any] = field(default_factory=dict)

    def as_messages(self) -> list[dict[str, str]]:
        return self.messages if self.messages is not None else [{"role": "user", "content": self.text or ""}]


@dataclass(frozen=True)
class Completion:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float = 0.0
    cost: float | None = None
    cached: bool = False
    logprobs: tuple[float, ...] | None = None  # token logprobs (perplexity assertions)
    structured: Any = None  # tool calls / function call, when the model answered with them
    # Why the answer ended, as OpenAI says it: "stop", "length" (cut at its token limit),
    # "tool_calls", "content_filter"; None when the provider does not say.
    finish_reason: str | None = None
    max_tokens: int | None = None  # the answer limit the prompt (or workbench.yaml) asked for
    cap: int | None = None  # the provider's own answer limit, when it has one (the local model)

    @property
    def graded_output(self) -> Any:
        """What assertions see: the tool calls when the model made some (promptfoo's output), else the text."""
        return self.structured if self.structured is not None and not self.text else self.text

    @property
    def total_tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)


def asked_max_tokens(parameters: Mapping[str, Any]) -> int | None:
    """The answer limit a request's parameters ask for (`max_tokens`, else `max_completion_tokens`)."""
    for name in ("max_tokens", "max_completion_tokens"):
        value = parameters.get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def cut_off_note(completion: Completion, provider: str) -> str | None:
    """What a reason says first when the answer stopped at its token limit, else None.

    promptfoo records `finishReason: "length"` and keeps the cut answer (its `finish-reason`
    assertion checks it); an answer cut mid-JSON then fails as invalid JSON with no word of why.
    This names the limit: the prompt's max_tokens, or the provider's own cap (`provider`: the
    provider's kind, `local`) when that is lower or the prompt sets none.
    """
    if completion.finish_reason != "length":
        return None
    asked, cap = completion.max_tokens, completion.cap
    prompt_limit = f"the prompt's max_tokens is {asked}" if asked is not None else "the prompt sets no max_tokens"
    if cap is not None and (asked is None or cap < asked):
        why = f"the {provider} provider's cap is {cap} tokens ({prompt_limit})"
    elif cap is not None:
        why = f"{prompt_limit} (the {provider} provider's cap: {cap})"
    else:
        why = prompt_limit + (" (the model's own limit)" if asked is None else "")
    after = f" after {completion.output_tokens} tokens" if completion.output_tokens is not None else ""
    return f'the answer was cut off at its token limit (finish_reason "length"{after}): {why}'


class CallError(ProviderError):
    """A failed model call. `retryable` errors (429, 5xx, timeouts, dropped connections) are retried.

    `unreached`: no connection to the endpoint was made (refused, DNS failure, connect timeout, TLS
    handshake), so it saw nothing of the request; the scheduler stops sending to an endpoint that
    never answered after a few of these (`evals.scheduling.EndpointHealth`).
    """

    def __init__(
        self, message: str, *, retryable: bool, retry_after: float | None = None, status: int | None = None, hint: str | None = None,
        unreached: bool = False,
    ) -> None:
        # Error bodies come from the server and may repeat the key or the URL's credentials.
        super().__init__(scrub(message), hint=scrub(hint) if hint else hint)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.unreached = unreached


class Provider(Protocol):
    """What the runner needs from a provider.

    Optional, looked up with getattr: `warm()` starts getting ready (import, load) in the
    background once the runner knows a request will be needed; `interruptible = False` says
    a request cannot be stopped, so the runner gives it no timeout; `cache_scope(request)`
    returns (JSON-able) what else decides the answer besides the id and the rendered prompt,
    which the runner adds to the cache key.
    """

    id: str  # identifies provider + model + endpoint in cache keys and reports
    label: str

    async def complete(self, request: ModelRequest) -> Completion: ...

    async def embed(self, texts: list[str]) -> list[list[float]]: ...

    async def aclose(self) -> None: ...


def short_text(text: str, limit: int = 200) -> str:
    """Scrubbed, then cut: cutting first could leave the start of a key that no rule matches."""
    text = scrub(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
