"""GitRunner: one GitPython `Repo`, one lock, and the only place a git command line is run.

Speed: GitPython's per-object API costs a process or a parse per object and takes seconds on
a 20k-commit repository, so every read goes through `repo.git` with machine-readable formats
in one call, and the persistent `cat-file --batch` process behind `Git.get_object_data`.

Thread safety: the persistent cat-file process is not thread-safe and the app calls the store
from thread workers, so every call holds one re-entrant lock.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self, TypeVar

from workbench.core.after_fork import renew_after_fork
from workbench.errors import NotFound, RepoError
from workbench.vcs import git_errors
from workbench.vcs.deferred import Deferred
from workbench.vcs.git_commands import writes
from workbench.vcs.git_errors import GitDamaged, GitFailed, GitUnreadable, ReadOnlyError, errors_in, unread
from workbench.vcs.records import commit_tree, git_output, tree_entry

if TYPE_CHECKING:
    import git

T = TypeVar("T")


# A read-only session's git commands take no optional lock: `git status` would otherwise
# refresh the index's stat data and write `.git/index` back (git-config(1), GIT_OPTIONAL_LOCKS).
_READ_ONLY_ENV = {"GIT_OPTIONAL_LOCKS": "0"}
_NO_PROMPT_ENV = {"GIT_TERMINAL_PROMPT": "0"}


class GitRunner:
    """Runs git for one repository; the command groups (objects, log, refs...) build on it.

    The GitPython `Repo` (and GitPython itself: ~60 ms of imports and regular expressions) is
    opened at the first git command: a cached test run, for one, reads only files and runs none.
    """

    def __init__(self, root: Path | None, git_dir: Path, open_repo: Callable[[], git.Repo]) -> None:
        self._open = open_repo
        self._opened: git.Repo | None = None
        self._lock = threading.RLock()
        self.git_dir = git_dir
        self.root = root
        # What `_still_there` checks, as strings (a Path costs more than the system call). A
        # linked worktree's git dir has no objects folder: its common dir has.
        self._readable = [(str(git_dir), os.R_OK | os.X_OK), (os.path.join(git_dir, "HEAD"), os.R_OK)]
        self._objects = os.path.join(git_dir, "objects")
        if os.path.isdir(self._objects):
            self._readable.append((self._objects, os.R_OK | os.X_OK))
        else:
            self._objects = str(git_dir)
        self._started_on: dict[str, tuple[int, int, int] | None] = {}  # helper -> `_objects_stamp` at its start
        self._env: dict[str, str] = {}  # extra environment of every git command (see `attributed`)
        self._read_only = False
        renew_after_fork(self)

    def renew_after_fork(self) -> None:
        """In a forked child: its own lock, and its own `cat-file` helpers at the next read (shared,
        each process read whichever answers came: another commit's prompt, silently)."""
        self._lock = threading.RLock()
        self._started_on.clear()
        if self._opened is None:
            return
        git = self._opened.git
        for name in ("cat_file_all", "cat_file_header"):
            helper = getattr(git, name)
            setattr(git, name, None)
            if helper is not None:
                # Kept, not ended or closed: GitPython would end the parent's helper, and closing
                # its pipe could flush a half-written request into it. A few descriptors a fork.
                _inherited_helpers.append(helper)

    @property
    def read_only(self) -> bool:
        """Set by a read-only session: every git command that writes is refused, none takes an optional lock."""
        return self._read_only

    @read_only.setter
    def read_only(self, value: bool) -> None:
        with self._lock:
            self._read_only = value
            base = {k: v for k, v in self._env.items() if k not in _READ_ONLY_ENV}
            self._env = {**base, **_READ_ONLY_ENV} if value else base

    @property
    def terminal_prompts(self) -> bool:
        """Whether git, and what it starts (ssh, credential helpers), may ask on the terminal: not
        in the app, which draws there (GIT_TERMINAL_PROMPT=0, and no controlling terminal)."""
        return "GIT_TERMINAL_PROMPT" not in self._env

    @terminal_prompts.setter
    def terminal_prompts(self, allowed: bool) -> None:
        with self._lock:
            base = {k: v for k, v in self._env.items() if k not in _NO_PROMPT_ENV}
            self._env = base if allowed else {**base, **_NO_PROMPT_ENV}
            self._detach(self._opened.git if self._opened is not None else None)

    def _detach(self, git: git.Git | None) -> None:
        """Git runs without a controlling terminal when it may not ask there (`vcs/detached.py`)."""
        from workbench.vcs.detached import detach  # GitPython is loaded: the repository is open

        detach(git, not self.terminal_prompts)

    def end_processes(self) -> None:
        """End the git started without a terminal, and its ssh (not under the lock a push holds)."""
        if self._opened is not None:
            from workbench.vcs.detached import end_processes

            end_processes(self._opened.git)

    @property
    def _repo(self) -> git.Repo:
        if self._opened is None:
            with self._lock:
                if self._opened is None:
                    repo = self._open()
                    self._confine(repo.git)
                    self._detach(repo.git)
                    self._opened = repo
        return self._opened

    @property
    def _place(self) -> Path:
        """Where git runs: the working tree's root, or the git dir of a bare repository."""
        return self.root or self.git_dir

    def _confine(self, git: git.Git) -> None:
        """Keep every git command to this repository, should it go away while open.

        Without a `.git` in the working tree's root, git would look for one in the folders
        above it (the application's own repository, for a prompt repository cloned inside
        it): GIT_CEILING_DIRECTORIES stops that search at the root. (A root that is gone
        altogether is refused before git runs: see `_require_place`.)
        """
        above = os.path.dirname(os.path.abspath(self._place))
        if above != os.path.abspath(self._place):
            ceilings = [c for c in os.environ.get("GIT_CEILING_DIRECTORIES", "").split(os.pathsep) if c]
            git.update_environment(GIT_CEILING_DIRECTORIES=os.pathsep.join([*ceilings, above]))

    def _require_place(self) -> None:
        """Refuse to run git when the repository's folder is gone: GitPython would then run it
        in this process's current directory, which may be another repository."""
        if not self._place.is_dir():
            raise GitUnreadable(["rev-parse"], 128, f"fatal: {self._place} no longer exists", where=self._place)

    @property
    def _git(self) -> git.Git:
        return self._repo.git

    @classmethod
    def _located(cls, path: Path | str, *, allow_bare: bool) -> Self:
        """The runner of the repository at or above `path`.

        A working copy whose `.git` is a directory is found by looking at the disk (as
        GitPython would find it) and opened later; anything else (a worktree's or submodule's
        `.git` file, a bare repository, no repository) is opened now, for GitPython's answer.
        """
        target = Path(path)
        if not target.exists():
            raise NotFound(f"{target} does not exist", hint="pass the path of a prompt repository with --repo")
        start = Path(os.path.abspath(target))
        for candidate in (start, *start.parents):
            dot_git = candidate / ".git"
            if dot_git.is_dir() and (dot_git / "HEAD").is_file() and (dot_git / "objects").is_dir():
                return cls(candidate, dot_git, functools.partial(cls._open_repo, candidate, allow_bare=allow_bare))
            if dot_git.exists() or (candidate / "HEAD").is_file():
                break
        repo = cls._open_repo(target, allow_bare=allow_bare)
        root = Path(repo.working_tree_dir) if repo.working_tree_dir else None
        return cls(root, Path(repo.git_dir), lambda: repo)

    @staticmethod
    def _open_repo(path: Path | str, *, allow_bare: bool) -> git.Repo:
        import git

        target = Path(path)
        if not target.exists():
            raise NotFound(f"{target} does not exist", hint="pass the path of a prompt repository with --repo")
        from workbench.vcs.detached import SessionRepo

        try:
            repo = SessionRepo(target, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise NotFound(
                f"{target} is not inside a Git repository",
                hint="run `workbench init` (or `git init`) there, or pass --repo PATH",
            ) from None
        if repo.bare and not allow_bare:
            repo.close()
            raise RepoError(f"{target} is a bare repository (no working copy)", hint="clone it and work in the clone")
        return repo

    def close(self) -> None:
        """Stop the persistent cat-file processes and release the repository."""
        with self._lock:
            if self._opened is not None:
                self._opened.git.clear_cache()
                self._opened.close()

    # ----------------------------------------------------------------- running git
    def _run(self, *args: str, stdin: str | None = None, check: bool = True) -> str:
        """Run `git <args>` and return its stdout decoded as UTF-8 (undecodable bytes replaced)."""
        status, out, err = self._run_full(*args, stdin=stdin)
        if check and status != 0:
            raise self._error(args, status, err, out, unreadable=not self._opens())
        return out

    def _run_full(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        with self._lock:  # started as a process, so that the app can end it (`end_processes`)
            handle = self._start(*args, stdin=stdin)  # kept: dropping it would stop git
            out, err = handle.proc.communicate()
            status = handle.proc.returncode
        return int(status or 0), git_output(out), err.decode("utf-8", "replace")

    @contextmanager
    def attributed(self, *, when: datetime | None = None, author: tuple[str, str] | None = None) -> Iterator[None]:
        """Commits and tags made inside are dated `when` (author and committer dates, tagger
        date) and commits are authored by `author` (name, email); the committer and tagger stay
        the user. For imports of history (Langfuse versions keep their authors and dates)."""
        values: dict[str, str] = {}
        if when is not None:
            stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
            values.update(GIT_AUTHOR_DATE=stamp, GIT_COMMITTER_DATE=stamp)
        if author is not None:
            values.update(GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1])
        with self._lock:
            saved = self._env
            self._env = {**saved, **values}
            try:
                yield
            finally:
                self._env = saved

    def _start(self, *args: str, stdin: str | None = None) -> Any:
        """Start `git <args>` without waiting, so two git processes can run at once (2 cores).

        `stdin` goes through a temporary file, so a large input cannot block the pipe.
        """
        if self.read_only and writes(args):
            raise ReadOnlyError(f"git {args[0]}")
        self._require_place()
        env = dict(self._env) if self._env else None
        if stdin is None:
            return self._git.execute(["git", *args], as_process=True, env=env)
        with tempfile.TemporaryFile() as istream:
            istream.write(stdin.encode("utf-8"))
            istream.seek(0)
            return self._git.execute(["git", *args], as_process=True, istream=istream, env=env)

    def _later(self, parse: Callable[[str], T], *args: str, stdin: str | None = None) -> Deferred[T]:
        """`git <args>` started now (`_start`), its stdout parsed by `parse` when collected; a
        failure reads as "" (nothing found), unless git could not open the repository."""
        return Deferred(self._start(*args, stdin=stdin), parse, lambda status, err: self._check_answer(args, status, err))

    def _answer(self, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
        """Run a command whose failure is an answer (no such revision, not an ancestor, no such
        ref): (status, stdout, stderr), unless git could not open the repository (`_check_answer`)."""
        status, out, err = self._run_full(*args, stdin=stdin)
        if status != 0:
            self._check_answer(args, status, err, out)
        return status, out, err

    def _succeeds(self, *args: str) -> bool:
        return self._answer(*args)[0] == 0

    def _check_answer(self, args: Sequence[str], status: int, stderr: str, stdout: str = "") -> None:
        """Raise git's error when a failed command failed because git could not work in the
        repository at all (owned by another user: "detected dubious ownership", moved away, an
        unreadable or unsupported `.git`), rather than with an answer about what is in it.

        Exit status 1 is always an answer (`rev-parse --verify --quiet`, `merge-base
        --is-ancestor`, `symbolic-ref --quiet`, `config --get`); git dies with 128 both for an
        unknown revision and for a repository it refuses, so those are told apart by asking
        git to open the repository and nothing else. Git's messages are not parsed.
        """
        if status == 1:
            return
        if not self._opens():
            raise self._error(args, status, stderr, stdout, unreadable=True)

    def _opens(self) -> bool:
        """Whether git can open the repository (the question `_check_answer` asks)."""
        return self._probe() is None

    def _probe(self) -> RepoError | None:
        """None when git opens the repository; else why not, in git's words (`RepoUnreadable`)."""
        if not self._place.is_dir():  # git cannot even start there
            return GitUnreadable(["rev-parse"], 128, f"fatal: {self._place} no longer exists", where=self._place)
        status, out, err = self._run_full("rev-parse", "--git-dir")
        return None if status == 0 else self._error(["rev-parse", "--git-dir"], status, err, out, unreadable=True)

    def _require_repository(self) -> None:
        """Raise git's error when git cannot open the repository (see `_check_answer`)."""
        problem = self._probe()
        if problem is not None:
            raise problem

    def check_readable(self) -> None:
        """Raise `RepoUnreadable` (git's words) when git can no longer open the repository."""
        self._require_repository()

    def _error(self, args: Sequence[str], status: int, stderr: str, stdout: str = "", *, unreadable: bool = False) -> RepoError:
        if (lock := git_errors.held_lock(stderr, self.git_dir / "index.lock")) is not None:
            return git_errors.lock_error(lock)
        if unreadable:
            return GitUnreadable(args, status, stderr, stdout, where=self._place)
        return GitFailed(args, status, stderr, stdout)

    def _damaged(self, args: Sequence[str], status: int, stderr: str, *, reading: str | None = None) -> RepoError:
        """Git could not read an object the repository should hold (see `GitDamaged`), or a
        partial clone could not fetch it from its remote (`GitNotFetched`): decided here only."""
        kind = git_errors.GitNotFetched if git_errors.not_fetched(stderr, self._objects) else GitDamaged
        return kind(args, status, errors_in(stderr) or stderr, where=self._place, reading=reading)

    def _lock_error(self) -> RepoError:
        return git_errors.lock_error(self.git_dir / "index.lock")

    def check_writable(self) -> None:
        """Refuse early, with a clear message: a read-only session, or a stale `index.lock` that would make git fail."""
        if self.read_only:
            raise ReadOnlyError()
        if (self.git_dir / "index.lock").exists():
            raise self._lock_error()

    # ----------------------------------------------------------------- objects (cat-file, no fork)
    def _cat_file(self, call: Callable[[], T], helper: str = "cat_file_all") -> T:
        """Run a request on the persistent `cat-file` helpers; restart them once if they died.

        A killed helper shows as a broken pipe on write, or as an empty answer on read (which
        GitPython reports as ValueError, like a missing object: the helper's exit and the empty
        answer tell them apart). A helper that dies again at once never started: git refused
        the repository (another user's: "detected dubious ownership"), and its stderr is raised.
        A "missing" answer is believed only when the repository is still there and the helper
        said no `error:` on stderr (an object it cannot inflate is also "missing"); an error
        line left there by an earlier request would be taken for this one's, which is rare and
        only in a damaged repository.
        """
        with self._lock:
            for attempt in (1, 2):
                if getattr(self._git, helper) is None:  # the call starts it
                    self._require_place()
                    self._started_on[helper] = self._objects_stamp()
                try:
                    return call()
                except (BrokenPipeError, ConnectionResetError):
                    pass
                except ValueError as error:
                    if self._cat_file_alive() and not _no_answer(error):
                        if attempt == 1 and self._replaced(helper):
                            self._git.clear_cache()  # both helpers: the next call starts them here
                            self._started_on.clear()
                            continue
                        if not self._still_there():
                            # A helper started before `.git` went away (or became unreadable)
                            # answers "missing" for every object it has not read yet.
                            raise self._probe() or self._error(["cat-file"], 128, f"fatal: cannot read {self.git_dir}", unreadable=True) from None
                        damage = git_errors.helper_damage_in(unread(getattr(self._git, helper)))
                        if damage:  # an object git found but could not inflate: also "missing"
                            raise self._damaged(["cat-file"], 128, damage) from None
                        raise  # git answered: a missing object
                if attempt == 2:
                    raise self._cat_file_error()
                self._git.clear_cache()
            raise AssertionError("unreachable")

    def _still_there(self) -> bool:
        """The repository's `HEAD` and object folder can still be read (three system calls, ~2 µs:
        git is asked only when not)."""
        return all(os.access(path, mode) for path, mode in self._readable)

    def _objects_stamp(self) -> tuple[int, int, int] | None:
        """Which objects folder is at the path, and when its entries last changed."""
        try:
            found = os.stat(self._objects)
        except OSError:
            return None
        return found.st_dev, found.st_ino, found.st_ctime_ns

    def _replaced(self, helper: str) -> bool:
        """Whether the objects folder changed since `helper` started (asked on a "missing" answer
        only: one stat). A repository replaced at its path (rm -rf, then clone) left the helpers
        reading the deleted one: healthy prompts "did not exist" or were "damaged" for good. The
        inode alone could be reused by the new folder; the change time then differs."""
        started = self._started_on.get(helper)
        return started is not None and started != self._objects_stamp()

    def _cat_file_alive(self) -> bool:
        helpers = (self._git.cat_file_header, self._git.cat_file_all)
        return all(h is None or h.proc is None or h.proc.poll() is None for h in helpers)

    def _cat_file_error(self) -> RepoError:
        """Why a freshly started `cat-file` helper died at once, in git's words (its stderr):
        for one, a repository git refuses to open, or an object it cannot inflate (it dies on a
        corrupt loose object: "is corrupt"). Never read as a missing object."""
        status, stderr = 0, ""
        for helper in (self._git.cat_file_header, self._git.cat_file_all):
            proc = None if helper is None else helper.proc
            if proc is None or proc.stderr is None:
                continue
            with contextlib.suppress(OSError):
                proc.stdin.close()  # a helper still running ends at the end of its input
            stderr += proc.stderr.read().decode("utf-8", "replace")
            status = proc.wait() or status
        self._git.clear_cache()
        if self._probe() is None:  # git opens the repository: the helper died on an object
            return self._damaged(["cat-file", "--batch"], status, stderr)
        return self._error(["cat-file", "--batch"], status, stderr, unreadable=True)

    def _peel(self, spec: str) -> str | None:
        """Resolve an object name through the persistent `cat-file --batch-check` (no process)."""
        if not spec or "\n" in spec or "\0" in spec:  # cat-file reads a name up to either
            return None
        try:
            sha, _kind, _size = self._cat_file(lambda: self._git.get_object_header(spec), "cat_file_header")
        except ValueError:
            return None
        return _text(sha)

    def _header(self, spec: str) -> tuple[str, str] | None:
        """(sha, type) of an object, or None when it does not exist."""
        if not spec or "\n" in spec or "\0" in spec:  # cat-file reads a name up to either
            return None
        try:
            sha, kind, _size = self._cat_file(lambda: self._git.get_object_header(spec), "cat_file_header")
        except ValueError:
            self._check_absent(spec)
            return None
        return _text(sha), _text(kind)

    def read_object(self, spec: str) -> tuple[str, str, bytes] | None:
        """Read an object (`<rev>:<path>` or a sha): (sha, type, data), or None when absent."""
        if "\n" in spec or "\0" in spec:
            return None
        try:
            sha, kind, _size, data = self._cat_file(lambda: self._git.get_object_data(spec))
        except ValueError:
            self._check_absent(spec)
            return None
        return _text(sha), _text(kind), data

    def _check_absent(self, spec: str) -> None:
        """Git answered `<spec> missing`. For `<rev>:<path>` (and `<rev>^{tree}`) that is also its
        answer when the tree names the path but its object is gone: a damaged repository, raised
        as such (the tree above is read to tell them apart, in the same helper: no process)."""
        rev, colon, path = spec.partition(":")
        if colon and rev and path:
            parent, _, leaf = path.rstrip("/").rpartition("/")
            tree = self.read_object(f"{rev}:{parent}" if parent else f"{rev}^{{tree}}")
            sha = tree_entry(tree[2], leaf, len(tree[0]) // 2) if tree is not None and tree[1] == "tree" else None
        elif not colon and spec.endswith("^{tree}"):
            commit = self.read_object(spec.removesuffix("^{tree}") + "^{commit}")
            sha = commit_tree(commit[2]) if commit is not None else None
        else:
            return
        if sha:
            raise self._damaged(["cat-file"], 128, f"fatal: missing object {sha} for {spec}")

    # ----------------------------------------------------------------- configuration
    def identity(self) -> tuple[str, str]:
        """The committer (name, email) git would use.

        Raises:
            RepoError: no user.name / user.email configured (git would refuse to commit).
        """
        name = os.environ.get("GIT_COMMITTER_NAME") or self.config_value("user.name")
        email = os.environ.get("GIT_COMMITTER_EMAIL") or self.config_value("user.email") or os.environ.get("EMAIL")
        if not name or not email:
            raise RepoError(
                "Git does not know who you are (no user.name / user.email)",
                hint='run: git config --global user.name "Your Name" && git config --global user.email you@example.com',
            )
        return name, email

    def config_value(self, key: str) -> str | None:
        status, out, _ = self._run_full("config", "--get", "--", key)
        if status != 0:
            # Outside a repository it refuses, git reads only the user's configuration and
            # says "not set": check the repository before believing it.
            self._require_repository()
        return out.strip() or None if status == 0 else None

    def set_config(self, key: str, value: str) -> None:
        self._run("config", "--", key, value)


_inherited_helpers: list[Any] = []  # a forked child's copies of its parent's cat-file helpers


def _no_answer(error: ValueError) -> bool:
    """GitPython read an empty line from `cat-file`, which answers every question with a line
    (`<name> missing` for a missing object): the helper has ended (it may not be reaped yet)."""
    return "SHA is empty" in str(error)


def _text(value: str | bytes) -> str:
    """GitPython's cat-file helpers return bytes for sha and type despite their annotations."""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


def git_version() -> str:
    import git

    return str(git.Git().version())
