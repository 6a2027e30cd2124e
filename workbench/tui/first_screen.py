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


def tree_data(session: RepoSession) -> TreeData:
    """The prompts with their working-copy state, and the branch (the tree's first answer)."""
    states = prompt_files.working_states(session)
    branch = branches.current_branch(session)
    info = next((b for b in branches.branches(session) if b.name == branch), None) if branch else None
    return TreeData(states, branch, info.ahead if info else 0, info.behind if info else 0)


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
        self.session.set_result(session)
        try:
            self._first_screen(session)
        except _Over:
            pass
        except Exception:  # a defect between the reads: no traceback over the app, which reads for itself
            self.stop()

    def _first_screen(self, session: RepoSession) -> None:
        """What the app asks first, in its order: the tree, the first prompt's history, its diff."""
        tree = self._ask(session, tree_data)
        name = prompt_files.first_prompt(tree.states)
        if name is None:
            return
        state = str(tree.states[name].value)
        entries = self._ask(session, history.history, name, limit=HISTORY_PAGE)
        revs: list[str | None] = [None] if shows_working_copy(entries, state) else []
        revs += [entry.commit.sha for entry in entries]
        rev = revs[0]
        checked = self._ask(session, parse_cache.check_at, name, rev)
        if not checked.ok and checked.errors:
            return
        fn, args = diff_read(name, rev, *previous_pair(revs, rev))
        self._ask(session, fn, *args)

    def _ask(self, session: RepoSession, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        answer: Future[Any] = _under_way()
        with self._lock:
            if self._over:
                raise _Over
            self._answers[_key(fn, args, kwargs)] = answer
        try:
            with session.lock:
                result = fn(session, *args, **kwargs)
        except Exception as err:
            answer.set_exception(err)
            raise _Over from None
        answer.set_result(result)
        return result


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
