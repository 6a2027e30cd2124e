"""Messages shared between panes and the app: past-tense names, plain data."""

from __future__ import annotations

from dataclasses import dataclass

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
