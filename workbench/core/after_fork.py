"""Objects made whole again in a process forked after they were built.

A server that builds its objects before it forks its workers (gunicorn's `--preload`,
multiprocessing's `fork`) gives each worker a copy of them: of a lock another thread held at
the fork (held for ever in the child), of the pipes to a helper process the parent still talks
to (each process then reads answers meant for another), of a thread that does not run in the
child. Such an object registers here and renews those parts in every child forked later.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import Protocol


class Renewable(Protocol):
    def renew_after_fork(self) -> None:
        """Called in a forked child, before the child's own code runs on."""


# Weak keys in the order they came: an object renews after the ones it was built on.
_renewable: weakref.WeakKeyDictionary[Renewable, None] = weakref.WeakKeyDictionary()


def renew_after_fork(thing: Renewable) -> None:
    """Call `thing.renew_after_fork()` in every child forked from now on, while `thing` lives."""
    _renewable[thing] = None


def _renew_in_child() -> None:
    for thing in list(_renewable):
        with contextlib.suppress(Exception):  # the child runs on: at worst as it did before
            thing.renew_after_fork()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_in_child)
