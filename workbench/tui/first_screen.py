"""The first screen's reads, made while Textual is still being imported.

The app's first paint waited on a chain: open the repository, then read the tree, then the
first prompt's history, then its diff, each step a worker started once the step before had
been drawn. None of these reads needs the screen. `ReadsAhead` makes them in a thread from
the moment `workbench ui` starts, so Git works while Textual loads and lays the screen out;
the app takes each answer when it asks the same question of the same service (`take`) and
asks Git itself for anything else, so a wrong guess costs only the reads.

Nothing here imports Textual: that is what the reads overlap with.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from workbench.core.versions import HistoryEntry, WorkingState
from workbench.services import branches, diffing, history, parse_cache, prompt_files
from workbench.services.session import RepoSession, end_git_on_exit_signals

HISTORY_PAGE = 200
T = TypeVar("T")


@dataclass(frozen=True)
class TreeData:
    states: dict[str, WorkingState]
    branch: str | None
    ahead: int
    behind: int
    broken: frozenset[str] = frozenset()  # clean prompts whose content does not load (those checked so far)

    @property
    def first(self) -> str | None:
        """The prompt the app opens on."""
        return prompt_files.first_prompt(self.states, self.broken)


def tree_data(session: RepoSession) -> TreeData:
    """The prompts with their working-copy state, and the branch (the tree's first answer); the
    clean prompts before the first that loads are checked, so the app opens on one that does."""
    states = prompt_files.working_states(session)
    broken = parse_cache.broken_before_first(session, states)
    branch = branches.current_branch(session)
    info = next((b for b in branches.branches(session) if b.name == branch), None) if branch else None
    return TreeData(states, branch, info.ahead if info else 0, info.behind if info else 0, broken)


def shows_working_copy(entries: list[HistoryEntry], state: str | None) -> bool:
    """History starts with the working copy when it differs from HEAD, or nothing is committed."""
    return (state is not None and state != "clean") or not entries


def previous_pair(revs: list[str | None], right: str | None) -> tuple[str | None, str | None]:
    """(left, right) to diff `right` with: the next older version in `revs` (newest first); the
    oldest is diffed with nothing (`right, right`), the working copy of nothing with HEAD."""
    if right in revs:
        older = [rev for rev in revs[revs.index(right) + 1 :] if rev is not None]
        if older:
            return older[0], right
    return (right, right) if right is not None else ("HEAD", None)


def is_deleted_copy(state: str | None, rev: str | None) -> bool:
    """The working copy of a prompt whose file is deleted: what the Diff pane shows is the
    deletion, not a check's "does not exist at working copy"."""
    return rev is None and state == "deleted"


def diff_read(
    name: str, rev: str | None, left: str | None, right: str | None
) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """The service call that makes the Diff pane's content: a first version is an introduction."""
    if left == right and left is not None:
        return diffing.introduction, (name, rev)
    return diffing.diff, (name, left, right)


async def answer(future: Future[T]) -> T:
    """A future's answer, without a turn of the event loop when it is there already: the first
    screen is then laid out once, with everything in it, rather than step by step."""
    return future.result() if future.done() else await asyncio.wrap_future(future)


def _key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    return fn, args, tuple(sorted(kwargs.items()))


class _Over(Exception):
    """The app no longer wants reads ahead (or a read failed: the app will ask, and see why)."""


class ReadsAhead:
    """The first screen's service calls, made in a thread before the app asks for them."""

    def __init__(self, root: Path, *, read_only: bool) -> None:
        self.session: Future[RepoSession] = _under_way()
        self._answers: dict[Hashable, Future[Any]] = {}
        self._lock = threading.Lock()
        self._over = False
        self._thread = threading.Thread(
            target=self._read, args=(root, read_only), name="workbench-reads-ahead", daemon=True
        )

    @classmethod
    def start(cls, root: Path | str, *, read_only: bool = False) -> ReadsAhead:
        reads = cls(Path(root), read_only=read_only)
        end_git_on_exit_signals()  # the thread's git runs without a terminal: a kill ends it too
        reads._thread.start()
        return reads

    def take(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Future[Any] | None:
        """The answer to `fn(session, *args, **kwargs)` made (or being made) ahead, once."""
        with self._lock:
            if not self._answers:
                return None
            try:
                return self._answers.pop(_key(fn, args, kwargs), None)
            except TypeError:  # an argument that cannot be a key (a list of commits): not read ahead
                return None

    def stop(self, *, unclaimed: bool = False) -> None:
        """No more reads, and answers not taken are dropped: later they could be stale.

        `unclaimed`: the app ends without having taken the session; it is closed here (at once,
        or by the thread when it has opened it).
        """
        with self._lock:
            self._over = True
            self._answers.clear()
        if unclaimed:
            self.session.add_done_callback(_close_opened)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _read(self, root: Path, read_only: bool) -> None:
        try:
            session = RepoSession.open(root, read_only=read_only or None)
            session.store.terminal_prompts = False  # as the app's session: git may not ask on its screen
        except Exception as err:  # the app shows it, as when it opens the repository itself
            self.session.set_exception(err)
            return
        tree_answer = self._expect(tree_data)  # before the session is out: the app's first question
        self.session.set_result(session)
        try:
            if tree_answer is not None:
                self._first_screen(session, tree_answer)
        except _Over:
            pass
        except Exception:  # a defect between the reads: no traceback over the app, which reads for itself
            self.stop()

    def _first_screen(self, session: RepoSession, tree_answer: Future[Any]) -> None:
        """What the app asks first, in its order: the tree, the first prompt's history, its check,
        its diff. Each answer is given out only once the next question is expected: the app asks
        the next at once, and one not expected yet it reads for itself (under load the thread
        lost that race, and the app read the history or the diff twice)."""
        tree = self._compute(session, tree_answer, tree_data)
        try:
            name = tree.first
            history_answer = self._expect(history.history, name, limit=HISTORY_PAGE) if name else None
        finally:
            tree_answer.set_result(tree)
        if name is None or history_answer is None:
            return
        entries = self._compute(session, history_answer, history.history, name, limit=HISTORY_PAGE)
        try:
            state = str(tree.states[name].value)
            revs: list[str | None] = [None] if shows_working_copy(entries, state) else []
            revs += [entry.commit.sha for entry in entries]
            rev = revs[0]
            # A deleted working copy is not checked: the app reads its deletion for itself.
            check_answer = None if is_deleted_copy(state, rev) else self._expect(parse_cache.check_at, name, rev)
        finally:
            history_answer.set_result(entries)
        if check_answer is None:
            return
        checked = self._compute(session, check_answer, parse_cache.check_at, name, rev)
        diff_answer = None
        try:
            if checked.ok or not checked.errors:
                fn, args = diff_read(name, rev, *previous_pair(revs, rev))
                diff_answer = self._expect(fn, *args)
        finally:
            check_answer.set_result(checked)
        if diff_answer is not None:
            diff_answer.set_result(self._compute(session, diff_answer, fn, *args))

    def _expect(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Future[Any] | None:
        """The answer the app will take for `fn(session, *args, **kwargs)`, under way from now;
        None when the app no longer wants reads ahead."""
        answer: Future[Any] = _under_way()
        with self._lock:
            if self._over:
                return None
            self._answers[_key(fn, args, kwargs)] = answer
        return answer

    def _compute(self, session: RepoSession, answer: Future[Any], fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """`fn`'s result, not yet given out; a failure is `answer`'s (the app will see why)."""
        try:
            with session.lock:
                return fn(session, *args, **kwargs)
        except Exception as err:
            answer.set_exception(err)
            raise _Over from None


def _under_way() -> Future[Any]:
    """A future only the thread ends: the app that stops waiting for it (a cancelled worker:
    another prompt selected, the app quitting) cannot cancel it under the thread."""
    future: Future[Any] = Future()
    future.set_running_or_notify_cancel()
    return future


def _close_opened(opened: Future[RepoSession]) -> None:
    if opened.exception() is None:
        session = opened.result()
        session.store.end_processes()
        with session.lock:
            session.close()
