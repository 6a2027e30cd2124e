"""Comparing versions: the field-aware diff of one prompt, and the review of a branch."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from workbench.core.diff import PromptDiff, diff_prompt_texts
from workbench.core.diff_fields import FILE_KEY
from workbench.core.model import is_prompt_path, prompt_name_from_path
from workbench.core.versions import CommitInfo
from workbench.errors import NotFound, RepoError
from workbench.services.branches import require_branch
from workbench.services.prompt_files import (
    partial_users,
    partials_of,
    path_at,
    read_at,
    tests_file,
    tests_file_owner,
)
from workbench.services.revisions import target
from workbench.services.session import RepoSession
from workbench.services.suite_files import ReadFile, Suite, changed_reads, read_suite, suite_dependencies


@dataclass(frozen=True)
class ReviewItem:
    name: str
    change: str  # added | modified | deleted | renamed
    diff: PromptDiff
    commits: tuple[CommitInfo, ...]
    old_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "old_name": self.old_name,
            "commits": [c.to_dict() for c in self.commits],
            "diff": self.diff.to_dict(),
        }


@dataclass(frozen=True)
class Review:
    branch: str
    base: str
    merge_base: str
    head: str
    items: tuple[ReviewItem, ...]
    commits: tuple[CommitInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "base": self.base,
            "merge_base": self.merge_base,
            "head": self.head,
            "commits": [c.to_dict() for c in self.commits],
            "prompts": [i.to_dict() for i in self.items],
        }


def diff(session: RepoSession, name: str, a: str | None = "HEAD", b: str | None = None) -> PromptDiff:
    """Field-aware diff of prompt `name` from revision `a` (left) to `b` (right).

    None on either side means the working copy; defaults: HEAD vs working copy. A side where
    the prompt does not exist yet (its first version) shows as empty, labelled "(none)".
    """
    left = target(session, name, a)
    right = target(session, name, b)
    left_path, left_text = read_at(session, name, left)
    right_path, right_text = read_at(session, name, right)
    if left_text is None and right_text is None:
        raise NotFound(f"{name} exists neither at {left.label} nor at {right.label}")
    left_suite = read_suite(session, left_path, left_text, left.commit)
    right_suite = read_suite(session, right_path, right_text, right.commit)
    result = _suite_diff(
        session,
        (left_path, left_text, left_suite),
        (right_path, right_text, right_suite),
        name=name,
        left_label=left.label if left_text is not None else "(none)",
        right_label=right.label if right_text is not None else "(none)",
    )
    return _with_partial_users(session, result, name, right.commit)


Side = tuple[str | None, str | None, Suite]  # a version of a prompt: its path, its text, what its suite reads


def _suite_diff(session: RepoSession, left: Side, right: Side, *, name: str, left_label: str, right_label: str) -> PromptDiff:
    """The diff of two versions with their tests files, partials and the other files their suites
    read that changed (`suite_files.changed_reads`), and the note naming those."""
    (left_path, left_text, left_suite), (right_path, right_text, right_suite) = left, right
    reads = changed_reads(session, left_suite, right_suite)
    result = diff_prompt_texts(
        left_text,
        right_text,
        name=name,
        left_label=left_label,
        right_label=right_label,
        left_tests_text=left_suite.tests_text,
        right_tests_text=right_suite.tests_text,
        left_path=left_path,
        right_path=right_path,
        left_tests_path=left_suite.tests_file,
        right_tests_path=right_suite.tests_file,
        left_partials=left_suite.partials,
        right_partials=right_suite.partials,
        left_files={read.path: read.left for read in reads},
        right_files={read.path: read.right for read in reads},
    )
    return _with_reads_note(result, reads)


def _with_reads_note(result: PromptDiff, reads: list[ReadFile]) -> PromptDiff:
    """A note first naming the files the suite reads that the diff shows changed: when the
    prompt's own fields did not change, they are why the version is in History."""
    shown = {s.key.removeprefix(FILE_KEY) for s in result.changed_sections if s.key.startswith(FILE_KEY)}
    parts = []
    for reader in dict.fromkeys(read.reader for read in reads):
        paths = [read.path for read in reads if read.reader == reader and read.path in shown]
        if paths:
            parts.append(f"{'a file' if len(paths) == 1 else 'files'} its {reader} read: {', '.join(paths)}")
    if not parts:
        return result
    fields = result.left_text != result.right_text or any(not s.key.startswith(FILE_KEY) for s in result.changed_sections)
    lead = "also changed" if fields else "prompt unchanged; changed"
    return replace(result, notes=(f"{lead} {'; '.join(parts)}", *result.notes))


def _with_partial_users(session: RepoSession, result: PromptDiff, name: str, commit: str | None) -> PromptDiff:
    """Notes naming the other prompts that include this prompt's partials (a change to a
    partial changes them too)."""
    partials = sorted({*result.left_partials, *result.right_partials})
    if not partials:
        return result
    users = partial_users(session, commit)
    notes = []
    for partial in partials:
        others = [user for user in users.get(partial, []) if user != name]
        shown = partial.removeprefix("prompts/")
        notes.append(f"partial {shown} is also used by {', '.join(others)}" if others else f"partial {shown} is used by this prompt only")
    return replace(result, notes=(*result.notes, *notes))


def introduction(session: RepoSession, name: str, rev: str | None) -> PromptDiff:
    """The diff that shows a version as it was introduced: everything added, against "(none)"."""
    found = target(session, name, rev)
    path, text = read_at(session, name, found)
    if text is None:
        raise NotFound(f"{name} does not exist at {found.label}")
    tests_path, tests = tests_file(session, path, text, found.commit)
    result = diff_prompt_texts(
        None, text, name=name, left_label="(none)", right_label=found.label,
        right_tests_text=tests, right_path=path, right_tests_path=tests_path,
        right_partials=partials_of(session, text, found.commit),
    )
    return _with_partial_users(session, result, name, found.commit)


def review(session: RepoSession, branch: str | None = None) -> Review:
    """The prompts `branch` (default: current) changed since its merge-base with main."""
    store = session.store
    base = session.main_branch
    if branch is None:
        branch = require_branch(session, "review")
        if branch == base:
            raise RepoError(
                f"you are on {base}, the main branch: there is nothing to review against it",
                hint="name a branch: workbench review BRANCH",
            )
    base_commit = store.try_resolve(base)
    if base_commit is None:
        raise NotFound(f"the main branch {base!r} does not exist", hint="set main_branch in workbench.yaml")
    return changes_since(session, base, branch)


def changes_since(session: RepoSession, base: str, head: str = "HEAD") -> Review:
    """The prompts `head` changed since its merge-base with `base` (any two revisions: a branch,
    `origin/main`, a commit), with field-by-field diffs and the commits that touched each.

    A prompt counts as changed when its file changed, or a file it depends on did
    (`suite_files.suite_dependencies`): a tests file it references (`file://`, or
    `name.tests.yaml` beside it), a partial it includes (transitively) or a file its assertions
    name (a python check), at the merge-base or at `head`.

    Raises:
        RepoError: a revision does not exist, or the two share no history.
    """
    store = session.store
    base_commit = store.resolve(base)
    head_commit = store.resolve(head)
    fork = store.merge_base(base_commit, head_commit)
    if fork is None:
        raise RepoError(f"{head} and {base} share no history")
    changes = store.changed_files(fork, head_commit)
    changed_paths = {path for _, path, _ in changes}
    for _status, path, _old in list(changes):
        owner = tests_file_owner(path)  # only the tests file changed: review its prompt
        if owner is not None and owner not in changed_paths and store.blob_sha(head_commit, owner) is not None:
            changes.append(("M", owner, None))
            changed_paths.add(owner)
    # Tests files and partials live under prompts/; a file an assertion names may be anywhere.
    dependencies = {p for _, path, old in changes for p in (path, old) if p and not is_prompt_path(p)}
    for user_path in sorted(_users_of(session, dependencies, (fork, head_commit)) - changed_paths):
        changes.append(("M", user_path, None))  # only a file it depends on changed
        changed_paths.add(user_path)
    items = []
    for status, path, old in changes:
        if not is_prompt_path(path) and not (old and is_prompt_path(old)):
            continue
        items.append(_review_item(session, status, path, old, fork, head_commit, base, head))
    return Review(head, base, fork, head_commit, tuple(items), tuple(store.log(f"{fork}..{head_commit}")))


def _users_of(session: RepoSession, files: set[str], commits: tuple[str, str]) -> set[str]:
    """Paths (at the last of `commits`) of the prompts that depend on any of `files` at any of
    `commits`: tests files they reference, partials they include."""
    if not files:
        return set()
    store = session.store
    head = commits[-1]
    users: set[str] = set()
    for commit in dict.fromkeys(commits):
        for ref in store.list_prompt_files(commit):
            text = store.read_text(commit, ref.path)
            if files.intersection(suite_dependencies(session, ref.path, text, commit)):
                user_path = ref.path if commit == head else path_at(session, ref.name, head)
                if user_path is not None and store.blob_sha(head, user_path) is not None:
                    users.add(user_path)
    return users


def _review_item(session: RepoSession, status: str, path: str, old: str | None, fork: str, head: str, base_label: str, head_label: str) -> ReviewItem:
    store = session.store
    left_text = store.read_text(fork, old or path)
    right_text = store.read_text(head, path) if status != "D" else None
    left_suite = read_suite(session, old or path, left_text, fork)
    right_suite = read_suite(session, path, right_text, head)
    prompt_diff = _suite_diff(
        session,
        (old or path, left_text, left_suite),
        (path, right_text, right_suite),
        name=prompt_name_from_path(path),
        left_label=f"{base_label} ({fork[:10]})",
        right_label=head_label,
    )
    if right_text:
        depends = right_suite.paths
    elif not old or old == path:  # the version at the fork, read at its own path
        depends = left_suite.paths
    else:
        depends = suite_dependencies(session, path, left_text, fork)
    commits = store.log(f"{fork}..{head}", paths=[p for p in (path, old) if p] + depends)
    change = {"A": "added", "D": "deleted", "R": "renamed", "C": "added"}.get(status, "modified")
    old_name = prompt_name_from_path(old) if old else None
    return ReviewItem(prompt_name_from_path(path), change, prompt_diff, tuple(commits), old_name)
