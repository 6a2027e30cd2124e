"""The messages between the app's parts name what they carry: no payload is `Any`, which mypy
let a handler read as anything (`HistoryLoaded.deployed` was `dict[str, Any]`)."""

from __future__ import annotations

import ast
import dataclasses
import typing
from pathlib import Path

from workbench.tui import messages


def resolved(cls: type) -> dict[str, object]:
    """The annotations of a message's own fields, evaluated with the module's names and those it
    imports for type checking only (the panes import the messages: a run-time import would be a cycle)."""
    path = Path(messages.__file__)
    namespace = dict(vars(messages))
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            exec(compile(ast.Module(node.body, []), str(path), "exec"), namespace)
    return {name: eval(annotation, namespace) for name, annotation in cls.__annotations__.items()}


def mentions_any(hint: object) -> bool:
    return hint is typing.Any or any(mentions_any(arg) for arg in typing.get_args(hint))


def test_history_loaded_carries_rows_and_deployment_events() -> None:
    from workbench.core.versions import DeploymentEvent
    from workbench.tui.panes.history import HistoryRow

    fields = resolved(messages.HistoryLoaded)
    assert fields["deployed"] == dict[str, DeploymentEvent]
    assert fields["rows"] == list[HistoryRow]


def test_no_message_carries_any() -> None:
    found = [cls for cls in vars(messages).values() if isinstance(cls, type) and dataclasses.is_dataclass(cls) and cls.__module__ == messages.__name__]
    assert len(found) >= 8
    untyped = {f"{cls.__name__}.{name}" for cls in found for name, hint in resolved(cls).items() if mentions_any(hint)}
    assert not untyped
