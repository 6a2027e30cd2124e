"""Prompt Workbench: LLM prompts as production code.

The package root stays light (PEP 562 lazy attributes) so that `workbench --version`
and the serving application's `from workbench import PromptRepo` pay only for what they use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY_ATTRS = {
    "PromptRepo": ("workbench.runtime", "PromptRepo"),
    "WorkbenchError": ("workbench.errors", "WorkbenchError"),
}
_LAZY_MODULES = {"monitor"}

if TYPE_CHECKING:
    from workbench.errors import WorkbenchError
    from workbench.runtime import PromptRepo

__all__ = ["PromptRepo", "WorkbenchError", "__version__"]


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY_MODULES:
        return importlib.import_module(f"workbench.{name}")
    try:
        module_name, attr = _LAZY_ATTRS[name]
    except KeyError:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}") from None
    return getattr(importlib.import_module(module_name), attr)
