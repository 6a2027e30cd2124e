"""GitStore: every Git operation the workbench needs, on one GitPython `Repo` per session.

The operations are grouped by what they touch (objects, log, refs, working copy, remotes),
one module each, in the manner of lazygit's `git_commands/`; `GitStore` joins them so that a
session holds one object, one lock and one persistent `cat-file --batch`. Every method returns
the plain dataclasses of `workbench.core.versions`, never GitPython objects, and every
user-supplied name or path is passed after `--` or as a full ref, never where git reads options.
"""

from __future__ import annotations

from pathlib import Path

from workbench.vcs.deferred import Deferred
from workbench.vcs.git_errors import GitFailed
from workbench.vcs.log import LogCommands
from workbench.vcs.maintenance import MaintenanceCommands
from workbench.vcs.objects import ObjectCommands
from workbench.vcs.refs import RefCommands, RefListing
from workbench.vcs.remote import RemoteCommands
from workbench.vcs.runner import git_version
from workbench.vcs.worktree import WorktreeCommands


class GitStore(ObjectCommands, LogCommands, RefCommands, WorktreeCommands, RemoteCommands, MaintenanceCommands):
    """One repository, one GitPython `Repo`, one persistent `cat-file --batch` process."""

    @classmethod
    def open(cls, path: Path | str, *, allow_bare: bool = False) -> GitStore:
        """Open the repository at (or above) `path`.

        Raises:
            RepoError: the path does not exist, is not inside a Git repository, or is a bare
                repository when a working copy is needed.
        """
        return cls._located(path, allow_bare=allow_bare)

    def __enter__(self) -> GitStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["Deferred", "GitFailed", "GitStore", "RefListing", "git_version"]
