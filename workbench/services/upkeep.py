"""Upkeep that keeps a big repository fast without changing anything the user sees."""

from __future__ import annotations

from workbench.services.session import RepoSession
from workbench.vcs.store import Deferred


def speed_up_history_later(session: RepoSession) -> Deferred[str] | None:
    """Start writing the commit-graph's changed-path Bloom filters when the repository is big and
    has none (a fresh clone): `git log -- <path>` then skips the commits that did not touch the
    path. Returns the running job (keep it until it ends), or None when nothing is needed or
    the session is read-only (the commit-graph is a file under `.git`)."""
    if session.read_only or not session.store.changed_path_filters_needed():
        return None
    return session.store.write_changed_path_filters_later()
