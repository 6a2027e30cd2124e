"""The revision grammar: what a user may type wherever a version of a prompt is asked for.

- `None` or `"WORKTREE"`: the working copy;
- otherwise the rule of `core/revspec.py` (shared with the runtime loader), with the
  environments of `workbench.yaml`: `<name>@v<N>` or `v<N>` (a release), an environment name
  (`prod`: what it runs for the prompt in question; during a canary split the stable version),
  anything else Git understands.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.revspec import SHORT_VERSION_RE, WORKTREE, ambiguous, parse_revision
from workbench.core.versions import DeploymentEvent, release_label, release_tag_name
from workbench.errors import NotFound, RepoError
from workbench.services.deployment_events import current_event
from workbench.services.session import RepoSession

__all__ = ["WORKTREE", "Target", "depends_on_prompt", "describe", "environment", "is_worktree", "merge_base", "names_working_copy", "resolve", "target"]


@dataclass(frozen=True)
class Target:
    """A revision resolved for one prompt: a commit, or the working copy (commit None)."""

    commit: str | None
    label: str
    event: DeploymentEvent | None = None


def is_worktree(rev: str | None) -> bool:
    return rev is None or rev == WORKTREE


def depends_on_prompt(session: RepoSession, rev: str) -> bool:
    """Whether `rev` names a different commit for each prompt (an environment, or `vN`)."""
    return rev in session.environments or SHORT_VERSION_RE.match(rev) is not None


def names_working_copy(session: RepoSession, rev: str | None) -> bool:
    """Whether `rev` is the working copy (None or `WORKTREE`).

    Raises:
        AmbiguousRevision: `WORKTREE` beside a branch of that name (made by plain git).
    """
    if rev == WORKTREE and session.store.branch_commit(WORKTREE) is not None:
        raise ambiguous(rev, "the working copy", "no revision")
    return is_worktree(rev)


def describe(rev: str | None) -> str:
    return "working copy" if is_worktree(rev) else str(rev)


def target(session: RepoSession, name: str | None, rev: str | None) -> Target:
    """Resolve `rev` for prompt `name` (see the module docstring for the grammar).

    Raises:
        RepoError: unknown revision or release, environment without a deployment of `name`.
        AmbiguousRevision: a branch has the name of what `rev` means here (made by plain git).
    """
    if rev is None or names_working_copy(session, rev):
        return Target(None, "working copy")
    spec = parse_revision(rev, name, session.environments, session.store, running=lambda env: _running(session, name, env))
    release = spec.release
    if release is not None:
        try:  # `resolve`: a tag naming an object that is gone is Git's error, not "no release"
            commit = session.store.resolve(f"refs/tags/{release_tag_name(*release)}")
        except NotFound:
            raise NotFound(f"no release {release_label(*release)}", hint=f"see `workbench log {release[0]}` for its releases") from None
        return Target(commit, release_label(*release))
    if spec.env is not None:
        if name is None:
            raise RepoError(
                f"{rev!r} is an environment, which runs a version of each prompt: it names no one commit",
                hint=f"name a commit, branch, tag or release (`workbench status` shows what {rev} runs)",
            )
        event = current_event(session, name, rev)
        if event is None:
            raise NotFound(f"{name} is not deployed to {rev}", hint=f"promote it: workbench promote {name} --env {rev}")
        return Target(event.commit, f"{rev} ({event.version or event.commit[:10]})", event)
    return Target(session.store.resolve(rev), rev)


def _running(session: RepoSession, name: str | None, env: str) -> str | None:
    """How to write what `env` runs for `name` (its release, else its commit): the hint of an
    ambiguous environment name says it."""
    event = current_event(session, name, env) if name is not None else None
    return (event.version or event.commit) if event is not None else None


def environment(session: RepoSession, rev: str) -> str | None:
    """The environment `rev` names, with no prompt in question; None when it names none.

    Raises:
        AmbiguousRevision: a branch has that name too.
    """
    return parse_revision(rev, None, session.environments, session.store).env


def resolve(session: RepoSession, rev: str, name: str | None = None) -> str:
    """Any revision -> commit sha (an environment or `vN` needs the prompt `name`).

    Raises:
        RepoError: unknown revision, the working copy, environment without a deployment.
    """
    found = target(session, name, rev)
    if found.commit is None:
        raise RepoError("the working copy is not a commit", hint="commit it first, or name a revision")
    return found.commit


def merge_base(session: RepoSession, a: str, b: str = "HEAD") -> str | None:
    """The best common ancestor of two revisions (None when they share no history)."""
    store = session.store
    return store.merge_base(store.resolve(a), store.resolve(b))
