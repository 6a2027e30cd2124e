"""Create a new Git repository with a first commit (for `workbench init` and the demo)."""

from __future__ import annotations

from pathlib import Path

import git

from workbench.errors import RepoError
from workbench.vcs.detached import SessionRepo


def init_repository(path: Path, message: str, *, branch: str = "main") -> str:
    """`git init` at `path` (a new or existing folder), add everything, commit; returns the commit sha.

    Raises:
        RepoError: `path` is already a repository, or Git has no user identity.
    """
    if (path / ".git").exists():
        raise RepoError(f"{path} is already a Git repository", hint="use it as it is: workbench -C PATH")
    # A `SessionRepo`: its git runs with the terminal's Ctrl+C held back (`vcs/detached.py`), like
    # every other write; a plain `git.Repo`'s first commit died of it and left no commit.
    repo = SessionRepo.init(path, initial_branch=branch)
    try:
        repo.git.add("-A")
        try:
            repo.git.commit("-q", "-m", message)
        except git.GitCommandError as err:
            if "identity" in str(err) or "user.email" in str(err) or "user.name" in str(err):
                raise RepoError(
                    "Git does not know who you are, so it cannot commit",
                    hint='git config --global user.name "Your Name" && git config --global user.email you@example.com',
                ) from None
            raise RepoError(f"git commit failed: {err.stderr.strip() if err.stderr else err}") from None
        return str(repo.head.commit.hexsha)
    finally:
        repo.close()
