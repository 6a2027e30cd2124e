"""The errors of git commands (git's own words), and reading what a running git helper wrote to stderr."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import GitError, RepoError, RepoUnreadable


class GitFailed(GitError):
    """A git command failed; `stderr` holds git's own words."""

    def __init__(self, args: Sequence[str], status: int, stderr: str, stdout: str = "") -> None:
        self.args_ = list(args)
        self.status = status
        self.stderr = stderr
        self.stdout = stdout
        super().__init__(self._describe(_detail(stderr, status)))

    def _describe(self, detail: str) -> str:
        return f"git {self.args_[0] if self.args_ else ''} failed: {detail}"


class GitUnreadable(GitFailed, RepoUnreadable):
    """Git could not open or read the repository at all (see `GitRunner._check_answer`): never
    an answer about what is in it."""

    def __init__(self, args: Sequence[str], status: int, stderr: str, stdout: str = "", *, where: Path | None = None) -> None:
        self.where = where
        super().__init__(args, status, stderr, stdout)

    def _describe(self, detail: str) -> str:
        return f"Git cannot read the repository{f' at {self.where}' if self.where else ''}: {detail}"


class GitDamaged(GitUnreadable):
    """Git opened the repository and could not read an object that a revision, ref or tree of
    it names (deleted or corrupt: see `ReadCommands._check_read`). Git's words name the object;
    `reading` says what was being read. Never an answer ("no history", "no prompts", "not
    deployed")."""

    def __init__(self, args: Sequence[str], status: int, stderr: str, *, where: Path | None = None, reading: str | None = None) -> None:
        self.reading = reading
        super().__init__(args, status, stderr, where=where)
        self.hint = (
            f"the repository is damaged: `git fsck`{f' (run in {where})' if where else ''} lists every missing or corrupt "
            "object; restore them from another clone or a backup (a `git fetch` may bring back what the remote has)"
        )

    def _describe(self, detail: str) -> str:
        return super()._describe(detail) + (f" (reading {self.reading})" if self.reading else "")


class GitNotFetched(GitDamaged):
    """A partial clone (`clone --filter`) lacks an object on purpose and Git could not fetch it
    from the promisor remote (moved, removed, offline; see `not_fetched`). Nothing is damaged: said as damage, it
    sent users to `git fsck` for a network or remote-URL problem. Still never an answer."""

    def __init__(self, args: Sequence[str], status: int, stderr: str, *, where: Path | None = None, reading: str | None = None) -> None:
        super().__init__(args, status, stderr, where=where, reading=reading)
        self.hint = (
            "make the remote reachable again (`git remote -v` shows where this clone fetches from; "
            "`git remote set-url` points it elsewhere; a removed remote needs `git remote add` and "
            "`git config remote.<name>.promisor true`) and retry; the clone itself is not damaged"
        )

    def _describe(self, detail: str) -> str:
        where = f" at {self.where}" if self.where else ""
        reading = f" (reading {self.reading})" if self.reading else ""
        return (
            f"an object is missing from this partial clone{where} and could not be fetched: its remote "
            f"could not be reached (moved, removed or offline){reading}: {detail}"
        )


def not_fetched(stderr: str, objects: str) -> bool:
    """Whether a failed read is a partial clone's object its promisor remote did not deliver:
    git says so ("could not fetch <id> from promisor remote"), or, once the remote is removed
    (git no longer tries, and says only "missing object"), the object is missing, not corrupt,
    in a repository that holds `.promisor` packs. `objects`: the objects folder (a linked
    worktree's git dir, whose `commondir` leads to it)."""
    if "promisor remote" in stderr:
        return True
    if corrupt(stderr):
        return False
    folder = Path(objects)
    if (folder / "commondir").is_file():
        folder = folder / (folder / "commondir").read_text(encoding="utf-8").strip() / "objects"
    return any((folder / "pack").glob("*.promisor"))


def corrupt(stderr: str) -> bool:
    """Git's words for an object that is there and cannot be read (not merely missing)."""
    return any(word in stderr for word in ("corrupt", "inflate", "hash mismatch", "sha1 mismatch", "unable to unpack"))


def _detail(stderr: str, status: int) -> str:
    """Git's first lines, as one: "...call:" + "git config ..." reads as one sentence; other
    lines are joined by "; "."""
    lines = [line.strip() for line in stderr.strip().splitlines()[:6] if line.strip()]
    detail = "".join(line + ("" if i == len(lines) - 1 else " " if line.endswith(":") else "; ") for i, line in enumerate(lines))
    return detail or f"exit status {status}"


# Git's words for a lock file it found taken (`index.lock`, `refs/tags/x@v4.lock`, the notes
# ref's); git runs under LC_ALL=C (GitPython sets it).
_HELD_LOCK = re.compile(r"Unable to create '(.+\.lock)': File exists")


def held_lock(stderr: str, index_lock: Path) -> Path | None:
    """The lock file a failed git found taken, else None: another git is at work, or one was
    killed mid-write (`kill -9` of a whole job) and left it. Git's own text is cut at six
    lines (`_detail`), before its "remove the file manually to continue"."""
    found = _HELD_LOCK.search(stderr)
    return Path(found.group(1)) if found else index_lock if "index.lock" in stderr else None


def lock_error(lock: Path) -> GitError:
    return GitError(
        f"another Git process holds {lock}",
        hint=f"wait for it to finish; if no git command is running, the lock is stale: delete {lock}",
    )


class ReadOnlyError(RepoError):
    """A write was attempted in a read-only session (`workbench serve` without --write)."""

    def __init__(self, what: str | None = None) -> None:
        super().__init__(
            f"read-only: {what} would change the repository" if what else "read-only: this session may not change the repository",
            hint="this app was opened read-only (workbench serve without --write, or ui --read-only)",
        )


def unread(helper: Any) -> str:
    """What a running `cat-file` helper wrote to stderr that nobody has read (without waiting)."""
    stream = getattr(getattr(helper, "proc", None), "stderr", None)
    if stream is None:
        return ""
    chunks = []
    try:
        fd = stream.fileno()
        blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)
        try:
            while chunk := os.read(fd, 65536):
                chunks.append(chunk)
        except BlockingIOError:
            pass
        finally:
            os.set_blocking(fd, blocking)
    except (OSError, ValueError):  # closed, or a platform without non-blocking pipes
        pass
    return b"".join(chunks).decode("utf-8", "replace")


def errors_in(stderr: str) -> str:
    """Git's `error:` and `fatal:` lines (a `warning:`, e.g. an ambiguous name, is no failure)."""
    return "\n".join(line for line in stderr.splitlines() if line.startswith(("error:", "fatal:")))


_WRONG_TYPE = re.compile(r"expected \w+ type, but the object dereferences to \w+ type")


def helper_damage_in(stderr: str) -> str:
    """A `cat-file` helper's error lines after it answered "missing": damage, but for a name
    that peels to another type (`<tree>^{commit}`), whose object is there and is no commit."""
    return "\n".join(line for line in errors_in(stderr).splitlines() if not _WRONG_TYPE.search(line))


# What git says when it cannot read an object (git runs under LC_ALL=C: GitPython sets it).
_DAMAGE_WORDS = ("could not read", "unable to read", "unable to unpack", "corrupt", "missing object", "bad object", "inflate", "hash mismatch", "sha1 mismatch", "failed to read object")


def damage_in(stderr: str) -> str:
    """Git's `error:` and `fatal:` lines when one says it could not read an object, else "".
    Only for commands whose failure is otherwise an answer with no words at all (`rev-parse
    --verify -q`, `merge-base`, which exit with their answer's status even then), and for a
    `cat-file` helper that died."""
    lines = errors_in(stderr).splitlines()
    return "\n".join(lines) if any(word in line.lower() for line in lines for word in _DAMAGE_WORDS) else ""
