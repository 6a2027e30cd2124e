"""Errors shown to users: a title, a message naming what went wrong, and a hint naming the fix.

Every layer raises a subclass of `WorkbenchError`; the CLI prints it to stderr and exits 2,
the TUI shows it in a notification or modal. Tracebacks are for `--debug` only.
"""

from __future__ import annotations


class WorkbenchError(Exception):
    """A problem the user can act on."""

    title = "Error"

    def __init__(self, message: str, *, hint: str | None = None, title: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        if title is not None:
            self.title = title

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class PromptError(WorkbenchError):
    title = "Prompt error"


class RenderError(PromptError):
    title = "Render error"


class ConfigError(WorkbenchError):
    title = "Configuration error"


class RepoError(WorkbenchError):
    """Git state problems: not a repo, detached HEAD, conflicts, locks, missing identity."""

    title = "Repository error"


class ProviderError(WorkbenchError):
    title = "Provider error"


class EvalError(WorkbenchError):
    title = "Evaluation error"


class MonitorError(WorkbenchError):
    title = "Monitor error"


class PolicyError(WorkbenchError):
    """A promotion the environment's policy forbids: nothing was written (CLI exit 1)."""

    title = "Blocked by policy"
