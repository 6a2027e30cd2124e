"""The revision grammar: what a revision string a user typed stands for, for one prompt.

One rule for every reader (the CLI and app through `services/revisions.py`, serving processes
through `runtime/prompt_repo.py`), in this order:

- `<name>@v<N>`: a release tag;
- `v<N>` when the prompt is known: its release N (unless no such tag exists and Git knows `vN`);
- an environment name: what that environment runs for the prompt;
- anything else: a Git revision (a commit, a branch, a tag, `HEAD~2`).

Pure: the caller passes what its repository knows (which tags exist, which revisions resolve).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from workbench.core.versions import MAX_RELEASE, RELEASE_NUMBER, parse_release_label, release_tag_name
from workbench.errors import NotFound, PromptError

SHORT_VERSION_RE = re.compile(rf"^v({RELEASE_NUMBER})\Z")
_NUMBER_RE = re.compile(rf"^{RELEASE_NUMBER}\Z")  # ASCII: `str.isdigit()` took "²", which int() refuses
# Git takes no control character in a ref name, and `cat-file` reads a name up to a NUL:
# `HEAD\x00junk` was read as HEAD.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class RefLookup(Protocol):
    def tag_exists(self, tag: str, /) -> bool: ...

    def try_resolve(self, rev: str, /) -> str | None: ...


@dataclass(frozen=True)
class RevSpec:
    """Exactly one of `release` (prompt, N), `env`, or `git` (a revision for Git to resolve)."""

    release: tuple[str, int] | None = None
    env: str | None = None
    git: str | None = None


def parse_revision(rev: str, name: str | None, environments: Collection[str], refs: RefLookup) -> RevSpec:
    """Classify `rev` for prompt `name` (None: no prompt in question) by the module's rule.

    Raises:
        PromptError: `rev` is not text. NotFound: it holds a control character (no revision does).
    """
    if not isinstance(rev, str):
        raise PromptError(f"a revision is text, not {type(rev).__name__}: {_shown(rev)}")
    if _CONTROL_RE.search(rev):
        raise NotFound(f"unknown revision {_shown(rev)}: a revision has no control characters")
    release = parse_release_label(rev)
    if release is not None:
        return RevSpec(release=release)
    short = SHORT_VERSION_RE.match(rev) if name is not None else None
    if short is not None and name is not None:
        number = int(short.group(1))
        if refs.tag_exists(release_tag_name(name, number)) or refs.try_resolve(rev) is None:
            return RevSpec(release=(name, number))
    if rev in environments:
        return RevSpec(env=rev)
    return RevSpec(git=rev)


def parse_version(version: object) -> tuple[str | None, int]:
    """A release asked for by number: `name@vN` -> (name, N); `vN`, `"N"` or the int N -> (None, N).

    Raises:
        PromptError: anything else (a bool, `v²`, 19 digits or more).
    """
    if isinstance(version, int) and not isinstance(version, bool):
        if 0 < version <= MAX_RELEASE:
            return None, version
    elif isinstance(version, str):
        release = parse_release_label(version)
        if release is not None:
            return release
        digits = version.removeprefix("v")
        if _NUMBER_RE.match(digits):
            return None, int(digits)
    raise PromptError(f"not a version: {_shown(version)}", hint="use name@v3, v3 or 3")


def _shown(value: object) -> str:
    """A short quote of what was typed (it may be 5,000 digits)."""
    shown = repr(value) if not isinstance(value, int) or value.bit_length() < 64 else f"an int of {value.bit_length()} bits"
    return shown if len(shown) <= 60 else shown[:57] + "..."
