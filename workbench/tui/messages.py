"""Messages between panes, controllers and the app: past-tense names, plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from textual.message import Message

from workbench.core.diff import PromptDiff
from workbench.core.model import Problem
from workbench.core.versions import DeploymentEvent

if TYPE_CHECKING:  # the panes import these messages: their rows are named for the annotations only
    from workbench.tui.panes.history import HistoryRow
    from workbench.tui.panes.prompts import PromptRow


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
    rows: list[PromptRow]
    branch: str | None
    ahead: int
    behind: int
    dirty: int
    statuses: bool = False  # the same tree again, now with what each environment runs


@dataclass
class HistoryLoaded(Message):
    name: str
    rows: list[HistoryRow]
    deployed: dict[str, DeploymentEvent]  # env -> what it runs of the prompt (`env_status.serving` names it)
    all_branches: bool = False
    cut: str | None = None  # a shallow clone cuts this history (`history.cut_short`)


@dataclass
class DiffLoaded(Message):
    name: str
    diff: PromptDiff | None = None
    problems: Sequence[Problem] | None = None  # the version does not load: these instead of a diff
    title: str = ""
    message: str | None = None
