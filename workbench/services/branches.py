"""Branches and commits: create, switch (never losing work), commit chosen files, merge."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from workbench.core.revspec import branch_name_clash, suggested_branch_name
from workbench.core.versions import BranchInfo, CommitInfo, MergeResult
from workbench.errors import GitError, NotFound, NothingToDo, RepoError
from workbench.services.prompt_files import paths_for, uncommitted_paths
from workbench.services.revisions import resolve
from workbench.services.session import RepoSession


@dataclass(frozen=True)
class SwitchResult:
    branch: str
    previous: str | None
    stash: str | None = None  # the stash entry holding the changes, when stash=True
    message: str = ""


def branches(session: RepoSession) -> list[BranchInfo]:
    return session.store.branches()


def current_branch(session: RepoSession) -> str | None:
    """The checked-out branch; None when HEAD is detached."""
    return session.store.current_branch()


def require_branch(session: RepoSession, action: str) -> str:
    branch = session.store.current_branch()
    if branch is None:
        raise RepoError(
            f"cannot {action}: HEAD is detached (no branch is checked out)",
            hint="create a branch here with `workbench branch NAME` then `workbench switch NAME`",
        )
    return branch


def require_not_merging(session: RepoSession, action: str) -> None:
    store = session.store
    if store.is_merging():
        conflicts = store.conflicted_paths()
        detail = f" ({len(conflicts)} conflicted: {', '.join(conflicts[:5])})" if conflicts else ""
        raise RepoError(
            f"cannot {action}: a merge is in progress{detail}",
            hint="resolve the conflicts, then `git add` them and `git commit`; or abandon with `git merge --abort`",
        )


def create_branch(session: RepoSession, name: str, start: str | None = None) -> BranchInfo:
    """Create branch `name` at `start` (default HEAD), without switching to it.

    Raises:
        RepoError: not a branch name Git takes, or one the revisions read as something else
            (`check_new_branch_name`); the branch exists; `start` names no commit.
    """
    store = session.store
    check_new_branch_name(session, name)
    store.require_commits()
    if store.branch_exists(name):
        raise RepoError(f"branch {name!r} already exists", hint=f"switch to it: workbench switch {name}")
    store.create_branch(name, resolve(session, start) if start else store.resolve("HEAD"))
    return next(b for b in store.branches() if b.name == name)


def check_new_branch_name(session: RepoSession, name: str) -> None:
    """Refuse a branch name Git refuses, or that a revision would read as something else: an
    environment, `WORKTREE`, a release (`v3`, `x@v3`), Git's own names (`@`, `FETCH_HEAD`,
    `refs/...`, `tags/...`), `<remote>/...`, an existing tag (`core.revspec.branch_name_clash`).
    Such a branch, once made, would never be what `workbench diff NAME HEAD prod` shows."""
    store = session.store
    store.check_branch_name(name)
    clash = branch_name_clash(name, session.environments, store.remotes())
    if clash is None and store.tag_exists(name):
        clash = f"a tag of that name exists, and Git reads {name} as the tag", suggested_branch_name(name, session.environments, store.remotes())
    if clash is not None:
        reason, instead = clash
        raise RepoError(f"cannot create branch {name!r}: {reason}", hint=f"name it something else, e.g. {instead}")


def switch_branch(session: RepoSession, name: str, *, stash: bool = False) -> SwitchResult:
    """Switch to branch `name`; never loses work.

    With uncommitted changes it refuses, unless `stash=True`: then the changes (untracked
    files included) go to a named stash entry and the result says how to restore them.
    """
    store = session.store
    require_not_merging(session, "switch branches")
    if name.startswith("-") or not store.branch_exists(name):
        raise NotFound(f"no branch named {name!r}", hint="list branches with `workbench branch`")
    previous = store.current_branch()
    if previous == name:
        return SwitchResult(name, previous, None, f"already on {name}")
    store.check_writable()
    changed = uncommitted_paths(session)
    stash_ref = None
    if changed:
        if not stash:
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            raise RepoError(
                f"cannot switch to {name}: uncommitted changes in {shown}",
                hint="commit them (`workbench commit`), or switch with --stash to set them aside",
            )
        store.identity()
        stash_ref = store.stash_push(f"workbench: changes on {previous or 'detached HEAD'} before switching to {name}")
    before = store.try_resolve("HEAD")
    try:
        store.switch(name)
    except RepoError as failure:
        if stash_ref is None:
            raise
        raise _unstash_after(session, failure, name, stash_ref, previous, before) from failure
    message = f"switched to {name}"
    if stash_ref is not None:
        message += (
            f"; your changes from {previous or 'the detached HEAD'} are stashed as {stash_ref[:10]}"
            f" (stash@{{0}}): restore them with `git switch {previous or stash_ref}` then `git stash pop`"
        )
    return SwitchResult(name, previous, stash_ref, message)


def _unstash_after(session: RepoSession, failure: RepoError, name: str, stash_ref: str, previous: str | None, before: str | None) -> RepoError:
    """The error to raise after a switch that failed with the user's changes stashed.

    The changes go back only where they were taken from (HEAD did not move); then it is the
    switch's own error. Otherwise (HEAD moved: git switched, then failed, e.g. in a
    `post-checkout` hook; or the stash entry did not apply) they stay in the stash, which git
    never drops while it does not apply, and the error says where they are and how to get
    them back.
    """
    store = session.store
    origin = previous or before or "the commit you were on"
    back = f"git switch {previous}" if previous else f"git switch --detach {before}" if before else "git switch"
    try:
        here = store.current_branch(), store.try_resolve("HEAD")
        if here == (previous, before):
            store.stash_pop(stash_ref)
            return failure
        problem = f"HEAD is now on {here[0] or 'a detached commit'}"
    except RepoError as err:
        problem = f"putting your changes back failed too: {err.message}"
    return GitError(
        f"switching to {name} failed ({failure.message}), and {problem}. Your uncommitted changes from {origin} are "
        f"kept in the stash as {stash_ref[:10]} (see `git stash list`)",
        hint=f"`git status` shows the working copy; to get the changes back: `{back}`, then `git stash pop`",
    )


def commit(
    session: RepoSession, paths: Sequence[str], message: str, *, author: tuple[str, str] | None = None, when: datetime | None = None
) -> CommitInfo:
    """Commit exactly the given prompt files (names or paths) with `message`, kept verbatim.

    `author` (name, email) and `when` keep the author and date of a version imported from
    another tool (the committer stays the user).

    Raises:
        RepoError: no message, no identity, detached HEAD, mid-merge, lock, nothing to commit.
    """
    if not message.strip():
        raise RepoError("a commit needs a message", hint='pass -m "what changed and why"')
    if not paths:
        raise RepoError("name the prompt files to commit")
    store = session.store
    require_branch(session, "commit")
    require_not_merging(session, "commit selected files")
    store.identity()
    store.check_writable()
    rel = paths_for(session, paths)
    if not store.commit_paths(rel, message, author=author, when=when):
        raise NothingToDo(f"nothing to commit in {', '.join(rel)}: the files match HEAD")
    return store.commit_info("HEAD")


def merge(session: RepoSession, branch: str) -> MergeResult:
    """Merge `branch` into the current branch: fast-forward or a merge commit.

    A conflict is never resolved here: the repository stays mid-merge, and the result lists
    each conflicted file for the user to resolve.
    """
    store = session.store
    current = require_branch(session, "merge")
    require_not_merging(session, "merge")
    store.require_commits()
    other = store.resolve(branch)
    store.identity()
    store.check_writable()
    before = store.resolve("HEAD")
    if store.is_ancestor(other, before):
        return MergeResult("up-to-date", before, (), f"{current} already contains {branch}")
    merged, detail = store.merge(other, f"Merge branch '{branch}' into {current}")
    if not merged:
        conflicts = store.conflicted_paths()
        if store.is_merging() and conflicts:
            return MergeResult(
                "conflicts",
                None,
                tuple(conflicts),
                f"merging {branch} into {current} stopped on conflicts; the repository is mid-merge. "
                "Edit each file, `git add` it, then `git commit` (or `git merge --abort` to give up).",
            )
        raise RepoError(f"git merge failed: {detail.strip()[:300]}")
    after = store.resolve("HEAD")
    kind = "merged" if len(store.commit_info(after).parents) > 1 else "fast-forward"
    return MergeResult(kind, after, (), f"{kind}: {current} is now at {after[:10]}")
