"""User-influenced work of a test run, off the event loop's thread: one rule for regex matches and
for the user's `python` assertions and transforms.

On the loop's thread, such work stalled every other request of the run (none sent, no answer
read) and Ctrl-C for as long as it took: a backtracking pattern up to its limit, each match; a
`python` assertion that slept or looped 2 s, 2 s. `in_thread_off_the_loop` runs it in a thread of
its own and awaits it, so the loop goes on with the other cases (a busy loop in user code still
shares the GIL, in 5 ms turns); results stay in the order the caller awaits them.

A thread cannot be stopped. When the awaiting task is cancelled (Ctrl-C), the run goes on without
it: a regex wait sees `abandoned()` set and ends within its poll; user code runs to its end,
unawaited. The thread is a daemon, not one of asyncio's default executor: `asyncio.run` waits
at its end for every executor thread, so a `while True:` assertion held the process after Ctrl-C,
and six slow assertions took every executor thread that the runner's other work waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable
from typing import Any, TypeVar

_abandoned: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("off_loop_abandoned", default=None)
"""Set by `in_thread_off_the_loop` for the thread it starts (the thread runs in a copy of the context)."""

_Result = TypeVar("_Result")


def abandoned() -> threading.Event | None:
    """Set once the task awaiting this thread's work was cancelled; None outside `in_thread_off_the_loop`."""
    return _abandoned.get()


async def in_thread_off_the_loop(function: Callable[..., _Result], *args: Any) -> _Result:
    """`function(*args)` in a daemon thread, its outcome (value or exception) awaited; when the
    awaiting task is cancelled, `abandoned()` is set for it and its outcome is dropped."""
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[_Result] = loop.create_future()
    event = threading.Event()
    token = _abandoned.set(event)
    try:
        context = contextvars.copy_context()
    finally:
        _abandoned.reset(token)

    def deliver(value: Any, error: BaseException | None) -> None:
        if outcome.done():  # cancelled meanwhile
            return
        if error is not None:
            outcome.set_exception(error)
        else:
            outcome.set_result(value)

    def work() -> None:
        value: Any = None
        failure: BaseException | None = None
        try:
            value = context.run(function, *args)
        except BaseException as error:  # a SystemExit or KeyboardInterrupt of user code too: the caller's to judge
            failure = error
        if not event.is_set():
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody awaits it any more
                loop.call_soon_threadsafe(deliver, value, failure)

    threading.Thread(target=work, name="workbench-off-loop", daemon=True).start()
    try:
        return await outcome
    except asyncio.CancelledError:
        event.set()
        raise


__all__ = ["abandoned", "in_thread_off_the_loop"]
