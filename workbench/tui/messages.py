"""Messages between panes, controllers and the app: past-tense names, plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textual.message import Message


@dataclass
class PromptSelected(Message):
    """The user moved to a prompt in the tree."""

    name: str


@dataclass
class VersionSelected(Message):
    """The user moved to a version in the history (None = working copy)."""

    rev: str | None


@dataclass
class CaseOpened(Message):
    """The user asked for the details of one test case."""

    case_id: str


@dataclass
class PaneContentChanged(Message):
    """What a pane holds changed its wanted size (rows of the tree, of the history, of a test run)."""

    pane: str


@dataclass
class RepoChanged(Message):
    """A flow wrote to the repository: reload these parts of the screen ("tree", "history", "diff", "all")."""

    scopes: frozenset[str] = field(default_factory=lambda: frozenset({"all"}))
    note: str | None = None


@dataclass
class TreeLoaded(Message):
    rows: list[Any]  # PromptRow
    branch: str | None
    ahead: int
    behind: int
    dirty: int
    statuses: bool = False  # the same tree again, now with what each environment runs


@dataclass
class HistoryLoaded(Message):
    name: str
    rows: list[Any]  # HistoryRow
    deployed: dict[str, Any]  # env -> the DeploymentEvent it runs (`env_status.serving` names it)
    all_branches: bool = False
    cut: str | None = None  # a shallow clone cuts this history (`history.cut_short`)


@dataclass
class DiffLoaded(Message):
    name: str
    diff: Any = None
    problems: Any = None
    title: str = ""
    message: str | None = None
