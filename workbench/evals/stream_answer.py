"""A streamed chat completion put back together as the answer a plain request gets.

`--stream` kept only `delta.content`: a tool-calling answer came back as "" (its tool calls and
logprobs dropped), was cached, and the cache then served that empty answer to plain runs. Here
every part a plain answer holds is rebuilt from the chunks, so the provider reads both kinds with
one reader and a streamed answer and a plain one are the same answer (one cache entry for both).

The rule is the OpenAI SDK's own (`accumulate_delta` of its chat-completion stream helper): per
choice `index`, text fields are concatenated; a tool call's deltas are merged by their `index`
(the first carries `id`, `type` and the function's `name`, the next ones fragments of
`arguments`); `type` and `index` are replaced, not concatenated; logprob entries are appended.
The keys come out in the SDK's field order; the provider's reader puts a tool call's keys in one
order for both kinds (`providers._KEY_ORDER`), so their output text is the same too.

A stream is whole only when every choice got its finish reason: one that ends before it (a
proxy or a crashed server closed the body after "Hello wor", no usage, no [DONE]) was taken as
the answer, cached, and served to plain runs. It is a retryable `CallError` instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.evals.model_io import CallError

_REPLACED = frozenset({"index", "type"})


def _merge(into: dict[str, Any], delta: Mapping[str, Any]) -> None:
    """Fold one delta object into what the earlier deltas built (the SDK's rule, see above)."""
    for key, value in delta.items():
        if value is None:
            continue
        current = into.get(key)
        if current is None or key in _REPLACED:
            into[key] = _copy(value)
        elif isinstance(current, str) and isinstance(value, str):
            into[key] = current + value
        elif isinstance(current, dict) and isinstance(value, Mapping):
            _merge(current, value)
        elif isinstance(current, list) and isinstance(value, list):
            _merge_list(current, value)
        else:
            into[key] = _copy(value)


def _merge_list(into: list[Any], items: list[Any]) -> None:
    """Entries with an `index` (tool calls) merge into the entry of that index; others append."""
    for item in items:
        index = item.get("index") if isinstance(item, Mapping) else None
        if not isinstance(index, int) or isinstance(index, bool):
            into.append(_copy(item))
            continue
        existing = next((entry for entry in into if isinstance(entry, dict) and entry.get("index") == index), None)
        if existing is None:
            into.append(_copy(item))
        else:
            _merge(existing, item)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


class StreamedAnswer:
    """Chunks in (`add`), the chat.completion JSON of the whole answer out (`answer`)."""

    def __init__(self) -> None:
        self._choices: dict[int, dict[str, Any]] = {}
        self._usage: Any = None

    def add(self, chunk: Mapping[str, Any]) -> None:
        if chunk.get("usage") is not None:
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, Mapping):
                continue
            index = choice.get("index", 0)
            built = self._choices.setdefault(index if isinstance(index, int) else 0, {"message": {}, "logprobs": {}})
            delta = choice.get("delta")
            if isinstance(delta, Mapping):
                _merge(built["message"], delta)
            logprobs = choice.get("logprobs")
            if isinstance(logprobs, Mapping):
                _merge(built["logprobs"], logprobs)
            if choice.get("finish_reason") is not None:
                built["finish_reason"] = choice["finish_reason"]

    def answer(self) -> dict[str, Any]:
        """The answer as a plain request gets it: tool calls without their stream `index`."""
        if any(built.get("finish_reason") is None for built in self._choices.values()):
            raise CallError("the stream ended before the answer finished (no finish reason)", retryable=True)
        choices = []
        for index in sorted(self._choices):
            built = self._choices[index]
            message = {"role": "assistant", "content": None, **built["message"]}
            if isinstance(message.get("tool_calls"), list):
                message["tool_calls"] = [
                    {key: value for key, value in call.items() if key != "index"} if isinstance(call, dict) else call
                    for call in sorted(message["tool_calls"], key=_call_index)
                ]
            choice: dict[str, Any] = {"index": index, "message": message, "finish_reason": built.get("finish_reason")}
            if built["logprobs"]:
                choice["logprobs"] = built["logprobs"]
            choices.append(choice)
        return {"object": "chat.completion", "choices": choices, "usage": self._usage}


def _call_index(call: Any) -> int:
    index = call.get("index") if isinstance(call, dict) else None
    return index if isinstance(index, int) and not isinstance(index, bool) else 0
