"""Create a new Git repository with a first commit (for `workbench init` and the demo)."""

from __future__ import annotations

from pathlib import Path

import git

from workbench.errors import RepoError
from workbench.vcs.detached import SessionRepo


def has_commits(path: Path) -> bool:
    """Whether `path/.git` holds a commit: any ref at all. False for a `.git` an init killed
    before its first commit left (read from the folder: one killed inside `git init` may be
    a `.git` git cannot open yet)."""
    git_dir = path / ".git"
    if not git_dir.exists():
        return False
    if not git_dir.is_dir() or (git_dir / "packed-refs").exists():
        return True
    return any((p.is_file() or p.is_symlink()) and not p.name.endswith(".lock") for p in (git_dir / "refs").rglob("*"))


def init_repository(path: Path, message: str, *, branch: str = "main", again: bool = False) -> str:
    """`git init` at `path` (a new or existing folder), add everything, commit; returns the commit sha.
    `again`: `path/.git` is a repository with no commit (an init killed before it), made again.

    Raises:
        RepoError: `path` is already a repository, or Git has no user identity.
    """
    if (path / ".git").exists() and not (again and not has_commits(path)):
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
