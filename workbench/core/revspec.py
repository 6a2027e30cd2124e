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

from workbench.core.versions import parse_release_label, release_tag_name

SHORT_VERSION_RE = re.compile(r"^v([1-9][0-9]*)$")


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
    """Classify `rev` for prompt `name` (None: no prompt in question) by the module's rule."""
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
