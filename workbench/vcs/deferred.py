"""A git process started now and read later: reads that run side by side."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from workbench.vcs.records import git_output

T = TypeVar("T")


class Deferred(Generic[T]):
    """A git process started now whose parsed output is collected later (`result()`)."""

    def __init__(self, handle: Any, parse: Callable[[str], T], check: Callable[[int, str], None] | None = None) -> None:
        self._handle = handle
        self._parse = parse
        self._check = check  # called with (status, stderr) when git failed; may raise

    def result(self) -> T:
        """The parsed output ("" parsed when git failed, after `check` had its say)."""
        out, err = self._handle.proc.communicate()
        status = self._handle.proc.returncode
        if status:
            if self._check is not None:
                self._check(status, err.decode("utf-8", "replace") if isinstance(err, bytes) else str(err or ""))
            return self._parse("")
        return self._parse(git_output(out))
