"""Scheduling model calls: a concurrency budget held only on the wire, retries first, a
backoff that adapts to the endpoint's health (client-side throttling, Google SRE book), and
no more calls to an endpoint that never took a connection."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from workbench.evals.providers import (
    CallError,
    Completion,
    ModelRequest,
    Provider,
)
from workbench.evals.run_model import RunOptions

if TYPE_CHECKING:
    from tenacity import RetryCallState


class Slots:
    """At most `limit` requests in flight, shared by every suite of a run; retries go first.

    A request holds a slot only while it is built (a case rendered just in time: well under a
    millisecond, at most the render limit) and on the wire: a request told to wait (429 with
    Retry-After, or a backoff) gives its slot back, so the others keep flowing up to the
    limit. When a slot frees, the waiter with the highest priority gets it (a retry's
    priority is its attempt number; a new case has 0), first come first served among equals:
    a retried case does not queue behind every case that has not started yet.
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self.busy = 0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    async def acquire(self, priority: int = 0) -> None:
        if self.busy < self.limit and not self._waiters:
            self.busy += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (-priority, next(self._order), granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self.release()  # handed over just as we were cancelled: pass it on
            raise

    def release(self) -> None:
        while self._waiters:
            _, _, granted = heapq.heappop(self._waiters)
            if not granted.done():
                granted.set_result(None)  # the slot changes hands; `busy` stays the same
                return
        self.busy -= 1


UNREACHABLE_AFTER = 3
"""Attempts in a row that made no connection, against an endpoint that never answered in the run,
after which its remaining calls fail without being sent. One or two can be chance (a lost
connection, a resolver's hiccup, a listener between two accepts); three in a row with not one
answer before is an endpoint that is down, misnamed or unreachable, and each further attempt
only costs time: nothing listening made every case spend its whole retry budget (40 cases at
-j 16: 83 s; packets dropped: the SDK's 5 s connect timeout an attempt). Low, as an endpoint that answered
once is never cut off by it: a server restarting mid-run is still ridden out by the retries."""


class EndpointHealth:
    """Recent attempt outcomes against one endpoint: is it overloaded, or are failures isolated?
    And has it ever taken a connection in this run?

    The rule is client-side adaptive throttling from Google's SRE book ("Handling Overload"),
    with K = 2: the endpoint counts as overloaded when fewer than half of the recent attempts
    succeeded. While it is healthy, a failed request retries after a short jittered backoff and
    gives up its slot meanwhile; once it is overloaded, the long backoff applies and waiting
    requests keep their slots, so the run slows down instead of piling onto the endpoint.

    Until the endpoint answers once (anything: a completion, a 429 or 500, a broken response),
    `UNREACHABLE_AFTER` attempts in a row that made no connection make it `unreachable`: a
    circuit breaker that stays open, as no call is sent to close it. One is shared per endpoint
    by all the suites of a run.
    """

    def __init__(self, window: int = 32, min_samples: int = 10) -> None:
        self._outcomes: deque[bool] = deque(maxlen=max(1, window))
        self._min_samples = min_samples
        self._answered = False
        self._unreached_in_a_row = 0
        self._last_unreached: CallError | None = None

    def record(self, ok: bool) -> None:
        """An attempt's outcome for `overloaded`; ok: it was answered."""
        self._outcomes.append(ok)
        if ok:
            self._answered = True

    def record_failure(self, error: CallError) -> None:
        """A failed attempt: retryable ones count for `overloaded`, all of them for `unreachable`."""
        if error.retryable:
            self._outcomes.append(False)
        if error.unreached:
            self._unreached_in_a_row += 1
            self._last_unreached = error
        else:  # the endpoint took the connection: it answers, if not as hoped
            self._answered = True
            self._unreached_in_a_row = 0

    def unreachable(self) -> CallError | None:
        """The error a call ends with, unsent, once the endpoint never answered and the last
        `UNREACHABLE_AFTER` attempts made no connection; None while calls should go out."""
        last = self._last_unreached
        if self._answered or last is None or self._unreached_in_a_row < UNREACHABLE_AFTER:
            return None
        return CallError(
            f"{last.message} — the endpoint answered nothing in this run ({self._unreached_in_a_row} attempts); the rest were not sent",
            retryable=False, unreached=True, hint=last.hint or "check that the server is running and that base_url points at it",
        )

    @property
    def overloaded(self) -> bool:
        seen = len(self._outcomes)
        if seen < min(self._min_samples, self._outcomes.maxlen or 1):
            return False
        return 2 * sum(self._outcomes) < seen


def _wait(options: RunOptions, health: EndpointHealth) -> Callable[[RetryCallState], float]:
    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:  # mandated by the endpoint: exactly that, capped
            return float(min(max(retry_after, 0.0), options.retry_after_cap_s))
        if not health.overloaded:  # an isolated failure: retry soon ("full jitter")
            ceiling = min(options.backoff_cap_s, options.healthy_backoff_base_s * 2 ** (state.attempt_number - 1))
            return random.uniform(0, ceiling)
        base = options.rate_limit_base_s if getattr(error, "status", None) == 429 else options.backoff_base_s
        ceiling = min(options.backoff_cap_s, base * 2 ** (state.attempt_number - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": never a hot retry loop

    return wait


def _retryable(error: BaseException) -> bool:
    return bool(getattr(error, "retryable", False))


async def call_with_retries(
    provider: Provider,
    request: ModelRequest | Callable[[], Awaitable[ModelRequest]],
    options: RunOptions,
    *,
    slots: Slots | None = None,
    health: EndpointHealth | None = None,
) -> tuple[Completion, int]:
    """One model call with timeout and retries; returns the completion and the attempts used.

    `request` may be an async function that builds it: it is awaited once, when the first attempt
    has its slot (a case rendered just before it is sent), and what it raises ends the call unsent.
    Each attempt holds one of `slots` (none given: no limit) only while it is on the wire;
    see `Slots` and `EndpointHealth` for who waits and how long. The retry budget is
    `options.max_attempts` attempts per call; no attempt is sent once `health` finds the
    endpoint unreachable (checked again after waiting for a slot). The retry machinery
    (tenacity) is set up only for a call whose first attempt failed: most never do.

    Raises:
        CallError: a non-retryable error, or the last error once the budget is spent;
        WorkbenchError: what building the request raised (a case that cannot render).
    """
    health = health or EndpointHealth()
    # A provider whose requests cannot be interrupted (the in-process model) gets no timeout.
    timeout_s = options.timeout_s if getattr(provider, "interruptible", True) else None
    attempts = 0
    held = False

    async def built() -> ModelRequest:
        nonlocal request
        if not isinstance(request, ModelRequest):
            request = await request()
        return request

    async def stop_if_unreachable() -> None:
        stop = health.unreachable()
        if stop is not None:
            await built()  # a request that cannot be built says so: no endpoint is needed to fix it
            raise stop

    async def attempt() -> Completion:
        nonlocal attempts, held
        await stop_if_unreachable()
        if slots is not None and not held:
            await slots.acquire(priority=attempts)
            held = True
            await stop_if_unreachable()  # found so while this call waited for a slot
        sent = await built()
        attempts += 1
        try:
            async with asyncio.timeout(timeout_s):  # no extra task per call, unlike wait_for
                completion = await provider.complete(sent)
        except (TimeoutError, CallError) as err:
            retryable = isinstance(err, TimeoutError) or _retryable(err)
            if isinstance(err, CallError):
                health.record_failure(err)
            else:  # connected or not, unknown: it counts for `overloaded` only
                health.record(ok=False)
            if held and slots is not None and not (retryable and health.overloaded):
                slots.release()  # wait (or give up) without blocking the others
                held = False
            if isinstance(err, TimeoutError):
                raise CallError(f"no answer within {options.timeout_s:g} s", retryable=True) from None
            raise
        health.record(ok=True)
        return completion

    try:
        try:
            completion = await attempt()
        except CallError as first:
            if not _retryable(first) or options.max_attempts <= 1:
                raise
            completion = await _retried(attempt, first, options, health)
    finally:
        if held and slots is not None:
            slots.release()
    return completion, attempts


async def _retried(attempt: Callable[[], Awaitable[Completion]], first: CallError, options: RunOptions, health: EndpointHealth) -> Completion:
    """The attempts after a first one that failed with `first`, under tenacity: the failed one
    is replayed as its first attempt, so waits and the budget count it as before."""
    from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

    replay = [first]

    async def next_attempt() -> Completion:
        if replay:
            raise replay.pop()
        return await attempt()

    retrying = AsyncRetrying(
        stop=stop_after_attempt(max(1, options.max_attempts)),
        wait=_wait(options, health),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    return await retrying(next_attempt)
