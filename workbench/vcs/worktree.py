"""The working copy: status, staging, commits, stash, switching and merging branches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from workbench.core.versions import FileChange
from workbench.errors import GitError
from workbench.vcs.git_commands import literal
from workbench.vcs.reads import ReadCommands
from workbench.vcs.records import parse_status_v2


class WorktreeCommands(ReadCommands):
    def status(self, paths: Sequence[str] = ()) -> list[FileChange]:
        """Every changed, new, deleted or conflicted path (untracked files listed one by one)."""
        out = self._run("status", "--porcelain=v2", "-z", "--untracked-files=all", "--", *literal(paths))
        return parse_status_v2(out)

    def is_merging(self) -> bool:
        return (self.git_dir / "MERGE_HEAD").exists()

    def conflicted_paths(self) -> list[str]:
        out = self._run("diff", "--name-only", "-z", "--diff-filter=U")
        return sorted({p for p in out.split("\0") if p})

    def is_tracked(self, path: str) -> bool:
        return bool(self._run("ls-files", "--", *literal([path])).strip())

    def commit_paths(self, paths: Sequence[str], message: str, *, author: tuple[str, str] | None = None, when: datetime | None = None) -> bool:
        """Stage exactly `paths` (deletions too) and commit them with `message` verbatim.

        `author` (name, email) and `when` set the commit's author and dates (imports of
        history); the committer stays the user. Returns False, committing nothing, when the
        paths already match HEAD.
        """
        self._run("add", "-A", "--", *literal(paths))
        if self._head_commit() is not None:
            staged = self._run("diff", "--cached", "--name-only", "-z", "--", *literal(paths))
            if not staged.strip("\0"):
                return False
        with self.attributed(when=when, author=author):
            try:
                self._run("commit", "-q", "--cleanup=verbatim", "-F", "-", "--", *literal(paths), stdin=message)
            except GitError:  # a hook said no, a date git refuses: nothing left staged for the next command
                if self._head_commit() is not None:
                    self._run("reset", "-q", "--", *literal(paths), check=False)
                else:
                    self._run("rm", "--cached", "-r", "-q", "--ignore-unmatch", "--", *literal(paths), check=False)
                raise
        return True

    def stash_push(self, label: str) -> str:
        """Set every uncommitted change (untracked files too) aside; returns the stash commit."""
        self._run("stash", "push", "--include-untracked", "-m", label)
        return self._run("rev-parse", "refs/stash").strip()

    def stash_pop(self, entry: str) -> None:
        """Apply the newest stash entry, which must be `entry` (what `stash_push` returned), with
        its staged changes, and drop it.

        Raises:
            RepoError: `entry` is not the newest entry any more (nothing is applied); or it did
                not apply cleanly (a conflict, a file in the way): git keeps the entry then, and
                the working copy may hold part of it, with conflict markers. Git's words
                (its CONFLICT lines too) are in the message.
        """
        newest = self._answer("rev-parse", "--verify", "--quiet", "refs/stash")[1].strip()
        if newest != entry:
            raise GitError(f"the stash entry {entry[:10]} is not the newest one any more: it was not applied", hint="see `git stash list`")
        status, out, err = self._run_full("stash", "pop", "--index")
        if status != 0:
            said = [line for line in out.splitlines() if line.startswith("CONFLICT")] + err.splitlines()
            failed = self._error(["stash", "pop"], status, "\n".join(said), out)
            raise GitError(f"{failed.message}; git kept the stash entry {entry[:10]}", hint="see `git stash list` and `git status`")

    def switch(self, branch: str) -> None:
        """Check out an existing local branch (names starting with '-' are refused earlier)."""
        self._run("switch", "--no-guess", branch)

    def merge(self, commit: str, message: str) -> tuple[bool, str]:
        """Merge `commit` (a sha, never an option) into HEAD: (succeeded, git's stderr or stdout)."""
        status, out, err = self._run_full("merge", "--no-edit", "-m", message, commit)
        return status == 0, err or out
