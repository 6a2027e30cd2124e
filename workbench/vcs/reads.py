"""Reads that damage can fail: `log`, `ls-tree`, `rev-list`, `for-each-ref`, `merge-base`.

Such a read fails both when git answers (an unknown revision, HEAD with no commits yet, the
parent of a root commit) and when an object it needs is gone or corrupt (a damaged repository).
The first is "none"; the second must reach the user (`GitDamaged`, a `RepoUnreadable`), never
as a shorter history, an empty listing or "not deployed". They are told apart after the failure
only (`_check_read`): success costs nothing more.
"""

from __future__ import annotations

import os
import selectors
from collections.abc import Callable, Sequence
from typing import TypeVar

from workbench.vcs.deferred import Deferred
from workbench.vcs.git_errors import damage_in
from workbench.vcs.records import git_output, tag_target
from workbench.vcs.runner import GitRunner

T = TypeVar("T")


class ReadCommands(GitRunner):
    def _read(self, *args: str, revs: Sequence[str] = (), stdin: str | None = None, reading: str | None = None) -> str:
        """Run a read and return its stdout. A failure raises: `GitDamaged` for damage
        (`_check_read`), else git's error (an unknown revision among `revs`), as `_run` would."""
        status, out, err = self._run_full(*args, stdin=stdin)
        if status != 0:
            self._check_read(args, status, err, revs, reading)
            raise self._error(args, status, err, out)
        return out

    def _read_answer(self, *args: str, revs: Sequence[str], reading: str | None = None) -> tuple[int, str, str]:
        """Run a read whose failure is an answer when one of `revs` names nothing: (status,
        stdout, stderr). Damage raises (`_check_read`)."""
        status, out, err = self._run_full(*args)
        if status != 0:
            self._check_read(args, status, err, revs, reading)
        return status, out, err

    def _read_later(
        self, parse: Callable[[str], T], *args: str, revs: Sequence[str] = (), stdin: str | None = None, reading: str | None = None
    ) -> Deferred[T]:
        """`_read_answer` in a process started now (`_start`): its stdout parsed by `parse` when
        collected, "" when one of `revs` names nothing; damage raises then."""
        return Deferred(self._start(*args, stdin=stdin), parse, lambda status, err: self._check_read(args, status, err, revs, reading))

    def _read_records(
        self, parse: Callable[[str], list[T]], *args: str, revs: Sequence[str] = (), reading: str | None = None
    ) -> list[T]:
        """`_read_later(parse, ...).result()` for a `-z` listing, parsed as git writes it: the
        whole records that came (up to a NUL) are parsed while git writes the next ones (2,000
        prompts: git writes for ~2 ms after its first record, which parsing them takes 1.2 ms
        of). Stderr is read alongside, so that git never waits on it. A failure reads as []
        once `_check_read` had its say."""
        handle = self._start(*args)  # kept until the end: dropping it would stop git
        proc = handle.proc
        out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
        found: list[T] = []
        pending, errors = b"", []
        with selectors.DefaultSelector() as selector:
            selector.register(out_fd, selectors.EVENT_READ)
            selector.register(err_fd, selectors.EVENT_READ)
            while selector.get_map():
                for key, _events in selector.select():
                    chunk = os.read(key.fd, 1 << 16)
                    if not chunk:
                        selector.unregister(key.fd)
                    elif key.fd == err_fd:
                        errors.append(chunk)
                    else:
                        data = pending + chunk if pending else chunk
                        cut = data.rfind(b"\0") + 1
                        if cut:
                            found += parse(git_output(data[:cut]))
                        pending = data[cut:]
        if pending:
            found += parse(git_output(pending))
        status = proc.wait()
        if status:
            self._check_read(args, status, b"".join(errors).decode("utf-8", "replace"), revs, reading)
            return []
        return found

    def _check_read(
        self,
        args: Sequence[str],
        status: int,
        stderr: str,
        revs: Sequence[str] = (),
        reading: str | None = None,
    ) -> None:
        """A read failed (any status: `ls-tree` exits 1 for a subtree it cannot read). Return when
        that is git's answer: one of `revs` names nothing. Else raise git's error when it cannot
        open the repository, and `GitDamaged` when it can and every rev names an object: these
        reads then fail only on damage (a path that never existed, a pattern matching no ref:
        git exits 0). With no `revs` (`for-each-ref`), a failure is never an answer. Git's
        messages are not parsed. Costs one `rev-parse` and cat-file look-ups, only here."""
        problem = self._probe()
        if problem is not None:
            raise problem
        for rev in revs:
            for end in revision_ends(rev):
                if self._peel(end) is None:  # an object cat-file cannot inflate raises here
                    self._check_named(end)  # a name whose object is gone raises here
                    return
        raise self._damaged(args, status, stderr, reading=reading)

    def _head_commit(self) -> str | None:
        """The commit HEAD names; None in a repository with no commits yet (`_check_named`)."""
        sha = self._peel("HEAD^{commit}")
        if sha is None:
            self._check_named("HEAD")
        return sha

    def _check_named(self, rev: str) -> None:
        """Git found no commit for `rev`: that is also its answer when `rev` names an object that
        is gone, or a tag whose target is gone, or when git could not read a commit on the way
        (`HEAD~2` with HEAD~1's object gone: "Could not read"): a damaged repository, raised as
        such. One process (only on that answer), and cat-file look-ups."""
        if rev.startswith("-"):
            return
        status, out, err = self._answer("rev-parse", "--verify", "-q", rev)
        sha = out.strip()
        if status != 0 or not sha:
            if damage_in(err):  # (-q: a name that names nothing says nothing)
                raise self._damaged(["rev-parse"], status, err, reading=rev)
            return
        for _ in range(16):  # a tag of a tag...: follow to what it finally names
            found = self._header(sha)
            if found is None:
                raise self._damaged(["rev-parse"], 128, f"fatal: {rev} names {sha}, a missing object")
            if found[1] != "tag":
                return
            tag = self.read_object(sha)
            target = tag_target(tag[2]) if tag is not None else None
            if not target:
                return
            sha = target


def revision_ends(rev: str) -> list[str]:
    """The revisions a `git log` argument names: both ends of `a..b` and `a...b` (an empty end
    is HEAD), `x` of `^x`."""
    rev = rev.removeprefix("^")
    for range_mark in ("...", ".."):
        if range_mark in rev:
            return [end or "HEAD" for end in rev.split(range_mark, 1)]
    return [rev]
