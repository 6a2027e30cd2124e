"""The revision grammar: what a revision string a user typed stands for, for one prompt.

One rule for every reader (the CLI and app through `services/revisions.py`, serving processes
through `runtime/prompt_repo.py`), in this order:

- `<name>@v<N>`: a release tag;
- `v<N>` when the prompt is known: its release N (unless no such tag exists and Git knows `vN`);
- an environment name: what that environment runs for the prompt;
- anything else: a Git revision (a commit, a branch, a tag, `HEAD~2`).

(The CLI and the app read `WORKTREE`, and no revision, as the working copy first.)

A branch whose name the first three rules take (`prod`, `v1`, `x@v2`, made by plain git) makes
that revision ambiguous: `AmbiguousRevision`, whose hint says how to write each meaning, never
one of them picked in silence; so does a plain tag named like an environment (`git tag prod`),
and a branch beside a tag or a remote-tracking branch of its name (`refs_beside_branch`), which
Git would pick in silence. A revision expression on such a name (`prod~1`, `foo^`: `operators`)
is ambiguous as the name is. `branch_name_clash` is the same rule for a branch being created:
such names, and those Git itself reads as something else (`@`, `FETCH_HEAD`, `refs/...`,
`tags/...`, `<remote>/...`), are refused.

Pure: the caller passes what its repository knows (which tags exist, which revisions resolve).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Protocol

from workbench.core.versions import (
    MAX_RELEASE,
    RELEASE_NUMBER,
    parse_release_label,
    release_label,
    release_tag_name,
)
from workbench.errors import AmbiguousRevision, NotFound, PromptError

WORKTREE = "WORKTREE"  # the working copy, where the CLI and the app take a revision

SHORT_VERSION_RE = re.compile(rf"^v({RELEASE_NUMBER})\Z")
_NUMBER_RE = re.compile(rf"^{RELEASE_NUMBER}\Z")  # ASCII: `str.isdigit()` took "²", which int() refuses
# Git takes no control character in a ref name, and `cat-file` reads a name up to a NUL:
# `HEAD\x00junk` was read as HEAD.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
# What no ref name holds (`git check-ref-format`): such a revision names no branch, and asking
# cat-file for `refs/heads/a:b` would read the file `b` of the branch `a`.
_NOT_IN_REFS_RE = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|^/|/$|//|\.lock$")
# Git's own refs at the top of .git (`FETCH_HEAD`, `ORIG_HEAD`, `MERGE_HEAD`): read before any branch.
_PSEUDO_REF_RE = re.compile(r"^[A-Z][A-Z0-9_]*HEAD\Z")
# `tags/x` is read as refs/tags/x before refs/heads/tags/x.
_REF_FOLDERS = ("heads", "tags", "remotes")


class RefLookup(Protocol):
    def tag_exists(self, tag: str, /) -> bool: ...

    def tag_target(self, tag: str, /) -> str | None: ...

    def try_resolve(self, rev: str, /) -> str | None: ...

    def branch_commit(self, name: str, /) -> str | None: ...


@dataclass(frozen=True)
class RevSpec:
    """Exactly one of `release` (prompt, N), `env`, or `git` (a revision for Git to resolve)."""

    release: tuple[str, int] | None = None
    env: str | None = None
    git: str | None = None


def parse_revision(rev: str, name: str | None, environments: Collection[str], refs: RefLookup, *, running: Callable[[str], str | None] | None = None) -> RevSpec:
    """Classify `rev` for prompt `name` (None: no prompt in question) by the module's rule.

    `running`: how to write what an environment runs for the prompt (its release), for the hint
    of an ambiguous environment name.

    Raises:
        PromptError: `rev` is not text. NotFound: it holds a control character (no revision does).
        AmbiguousRevision: a branch or a tag also has the name of what `rev` (or the name its
            operators follow, `prod~1`) means here.
    """
    if not isinstance(rev, str):
        raise PromptError(f"a revision is text, not {type(rev).__name__}: {_shown(rev)}")
    if _CONTROL_RE.search(rev):
        raise NotFound(f"unknown revision {_shown(rev)}: a revision has no control characters")
    spec = _classify(rev, name, environments, refs, running)
    base, suffix = operators(rev)
    if spec.git is not None and suffix:
        _classify(base, name, environments, refs, running, suffix)  # raises when `base` alone is ambiguous
    return spec


def _classify(
    rev: str, name: str | None, environments: Collection[str], refs: RefLookup, running: Callable[[str], str | None] | None, suffix: str = ""
) -> RevSpec:
    release = parse_release_label(rev)
    if release is not None:
        _unshadowed(rev, f"the release {rev}", refs, f"refs/tags/{release_tag_name(*release)}", suffix=suffix)
        return RevSpec(release=release)
    short = SHORT_VERSION_RE.match(rev) if name is not None else None
    if short is not None and name is not None:
        number = int(short.group(1))
        if refs.tag_exists(release_tag_name(name, number)) or refs.try_resolve(rev) is None:
            _unshadowed(rev, f"the release {release_label(name, number)}", refs, release_label(name, number), suffix=suffix)
            return RevSpec(release=(name, number))
    if rev in environments:
        # What it runs is asked only for the error's hint: it lists the environment's tags.
        _unshadowed(rev, f"the environment {rev}", refs, lambda: running(rev) if running is not None else None, suffix=suffix, tags=True)
        return RevSpec(env=rev)
    return RevSpec(git=rev)


def _unshadowed(
    rev: str, meaning: str, refs: RefLookup, spelled: str | Callable[[], str | None] | None = None, *, suffix: str = "", tags: bool = False
) -> None:
    """Raise `ambiguous` when a branch is named `rev` too, or (`tags`) a tag is: one cat-file
    look-up each (no process). `spelled`, or what it returns: how to name the meant one instead."""
    if could_be_branch(rev) and refs.branch_commit(rev) is not None:
        raise ambiguous(rev, meaning, spelled() if callable(spelled) else spelled, suffix=suffix)
    if tags and could_be_branch(rev) and refs.tag_target(rev) is not None:
        raise ambiguous(rev, meaning, spelled() if callable(spelled) else spelled, suffix=suffix, other="tag")


_OPERATORS_RE = re.compile(r"^([^~^]+)((?:~[0-9]*|\^[0-9]*|\^\{[^{}]*\})+)\Z")


def operators(rev: str) -> tuple[str, str]:
    """(the name, the revision operators after it): `foo~1^` -> (`foo`, `~1^`); (`rev`, "")
    when there are none. Git reads the name as it reads it alone, so a clash there is one here."""
    found = _OPERATORS_RE.match(rev)
    return (found.group(1), found.group(2)) if found else (rev, "")


def ambiguous(rev: str, meaning: str, spelled: str | None = None, *, suffix: str = "", other: str = "branch") -> AmbiguousRevision:
    """`rev` means `meaning` here, and is also the name of a branch (`other="tag"`: of a tag).
    `spelled`: how to write the first meaning without the clash (None: no other spelling, or
    the caller knows it). `suffix`: the operators typed after the name (`~1`), kept in each
    spelling."""
    other_ref = f"refs/{'tags' if other == 'tag' else 'heads'}/{rev}{suffix}"
    alternative = f", or {spelled}{suffix} for {meaning}" if spelled else ""
    rename = f"; or rename the branch: git branch -m {rev} {suggested_branch_name(rev)}" if other == "branch" else ""
    return AmbiguousRevision(
        f"{rev + suffix!r} is ambiguous: {meaning} and the {other} {rev}",
        hint=f"write {other_ref} for the {other}{alternative}{rename}",
    )


def could_be_branch(name: str) -> bool:
    """Whether `name` can be a branch's name at all (the shapes `git check-ref-format` refuses
    can not): only then is it looked up as one."""
    return bool(name) and not name.startswith("-") and _NOT_IN_REFS_RE.search(name) is None


_OBJECT_ID_RE = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")


def refs_beside_branch(rev: str) -> tuple[tuple[str, str], ...]:
    """The refs other than the branch `rev` that Git may read the revision `rev` as: (the full
    ref, what it is). Git reads a tag `foo` before the branch `foo`, and the branch `origin/x`
    before the remote-tracking `origin/x` (with a warning on its stderr that nobody sees here):
    when such a ref and the branch both exist, `rev` is `ambiguous` (the Git adapter looks them
    up), as a branch beside an environment or a release is. A full ref name, a full object id
    and Git's own refs (`HEAD`, `FETCH_HEAD`), which Git reads first, clash with nothing."""
    if not could_be_branch(rev) or rev.startswith("refs/") or rev == "HEAD" or _PSEUDO_REF_RE.match(rev) or _OBJECT_ID_RE.match(rev):
        return ()
    tag = (f"refs/tags/{rev}", f"the tag {rev}")
    return (tag, (f"refs/remotes/{rev}", f"the remote-tracking branch {rev}")) if "/" in rev else (tag,)


def branch_name_clash(name: str, environments: Collection[str], remotes: Collection[str]) -> tuple[str, str] | None:
    """Why a new branch `name` would be read as something else wherever a revision is typed, and
    a name to use instead; None when it would not. `remotes`: those of the repository (`origin`,
    the one push and fetch use, counts even before it is added)."""
    first, slash, _rest = name.partition("/")
    if name == WORKTREE:
        reason = f"{WORKTREE} as a revision means the working copy"
    elif name in environments:
        reason = f"{name} is an environment in workbench.yaml, and as a revision means the version it runs"
    elif SHORT_VERSION_RE.match(name):
        reason = f"{name} as a revision means release {name[1:]} of the prompt in question"
    elif parse_release_label(name) is not None:
        reason = f"{name} as a revision means the release {name}"
    elif name == "@":
        reason = "Git reads @ as HEAD, the checked-out commit"
    elif _PSEUDO_REF_RE.match(name):
        reason = f"Git reads {name} as its own ref (.git/{name}), never as a branch"
    elif first == "refs":
        reason = f"Git reads a name starting with refs/ as a full ref name: {name} would be refs/heads/{name}"
    elif slash and first in _REF_FOLDERS:
        reason = f"Git reads {name} as refs/{name} before any branch"
    elif slash and (first in remotes or first == "origin"):
        reason = f"{first} is a remote: {name} names its remote-tracking branch (refs/remotes/{name})"
    else:
        return None
    return reason, suggested_branch_name(name, environments, remotes)


def suggested_branch_name(name: str, environments: Collection[str] = (), remotes: Collection[str] = ()) -> str:
    """A branch name like `name` that clashes with nothing: `x` for `refs/heads/x`, else
    `prod-work`, `origin-main-work`."""
    for prefix in ("refs/heads/", "heads/"):
        if name.startswith(prefix) and could_be_branch(name[len(prefix) :]):
            stripped = name[len(prefix) :]
            if branch_name_clash(stripped, environments, remotes) is None:
                return stripped
    base = re.sub(r"[@/]+", "-", name).strip("-.") or "branch"
    suggestion = f"{base}-work"
    while suggestion in environments:
        suggestion += "-2"
    return suggestion


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
