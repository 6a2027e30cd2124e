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


class AmbiguousRevision(PromptError):
    """A revision that names two things (the environment `prod` and a branch `prod`, made by
    plain git): never silently read as one of them; the hint says how to write each."""

    title = "Revision error"


class ConfigError(WorkbenchError):
    title = "Configuration error"


class RepoError(WorkbenchError):
    """Git state problems: not a repo, detached HEAD, conflicts, locks, missing identity."""

    title = "Repository error"


class NotFound(RepoError):
    """Git read the repository, and what was asked for is not in it: an unknown revision, a
    prompt with no history there, no such release, branch or deployment.

    An answer about the repository's content. Code for which "not there" means "none" catches
    this class, never `RepoError`: a `RepoError` is also raised when Git fails on the repository
    or cannot read it at all (`GitError`, `RepoUnreadable`), and that must reach the user.
    """


class NothingToDo(RepoError):
    """The repository already is as asked (the environment already runs that version, the files
    match HEAD): an answer; nothing was written."""


class GitError(RepoError):
    """Git itself failed (a command exited with an error, another Git process holds the lock);
    Git's own words are the message. Never an answer: code that turns errors into "none",
    "unchanged" or "not offered" lets this class through."""


class RepoUnreadable(GitError):
    """Git cannot open or read the repository: owned by another user ("detected dubious
    ownership"), its `.git` moved away, unreadable or damaged. Git's own words are the message;
    no answer about the repository's content (not even "not found") can be given."""


class ProviderError(WorkbenchError):
    title = "Provider error"


class EvalError(WorkbenchError):
    title = "Evaluation error"


class MonitorError(WorkbenchError):
    title = "Monitor error"


class PolicyError(WorkbenchError):
    """A promotion the environment's policy forbids: nothing was written (CLI exit 1)."""

    title = "Blocked by policy"
