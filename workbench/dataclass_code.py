"""The compiled methods of dataclasses, kept between processes.

`@dataclass` writes each class's `__init__`, `__repr__`, `__eq__`, `__hash__` and (frozen)
`__setattr__`/`__delattr__` as source text and compiles it with `exec`. A cached `workbench
test` defines ~65 dataclasses and Rich, Typer and Textual more: compiling ~350 such methods
was a fifth of that process's CPU here (45-55 ms on Python 3.11; 3.13 compiles one text per
class, still the same work). The text depends on nothing but the class's fields, so the
compiled code is kept, keyed by that text, in one file beside the package's own bytecode
(`workbench/__pycache__/`: the same trust, and removed with the package).

`install` makes the `exec` that `dataclasses` calls look the text up first (a code object
compiled from a text is the same whoever compiles it); `save` writes what was compiled since.
A file that is missing, planted as a FIFO, too big, not `marshal` data, or written by another
Python (its magic number) is ignored and replaced. `PYTHONDONTWRITEBYTECODE` is respected, as
Python respects it for `.pyc` files.
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import importlib.util
import marshal
import sys
import threading
from pathlib import Path
from types import CodeType
from typing import Any

from workbench.services.atomic_files import read_regular_file, write_atomically

MAX_BYTES = 4 * 1024 * 1024  # ~350 methods take ~0.4 MB
MAX_METHODS = 4096  # past this (dataclasses made at run time?) nothing more is kept
CACHE_PATH = Path(__file__).with_name("__pycache__") / f"dataclass-methods.{sys.implementation.cache_tag}.marshal"

_lock = threading.Lock()
_known: dict[str, CodeType] = {}
_new: dict[str, CodeType] = {}
_installed = False


def _cached_exec(source: Any, globals_: Any = None, locals_: Any = None, /) -> None:
    if isinstance(source, str):
        code = _known.get(source)
        if code is None:
            code = compile(source, "<string>", "exec", dont_inherit=True)  # as exec(source) compiles it
            with _lock:
                if len(_known) < MAX_METHODS:
                    _known[source] = _new[source] = code
        source = code
    # The call dataclasses makes; without globals, exec would have used dataclasses' own.
    exec(source, vars(dataclasses) if globals_ is None else globals_, locals_)


def install(path: Path = CACHE_PATH) -> None:
    """Read the kept methods and have `dataclasses` use them (idempotent; before the imports)."""
    global _installed
    if _installed:
        return
    _installed = True
    _known.update(_read(path))
    dataclasses.exec = _cached_exec  # type: ignore[attr-defined]  # a module global shadows the builtin
    atexit.register(save, path)  # what later imports compiled (the SDK's, a command's own)


def save(path: Path = CACHE_PATH) -> None:
    """Keep the methods compiled since `install` or the last save (after the imports)."""
    if not _new or sys.dont_write_bytecode:
        return
    with _lock:
        kept = {**_read(path), **_known}
        _new.clear()
    data = importlib.util.MAGIC_NUMBER + marshal.dumps(dict(list(kept.items())[:MAX_METHODS]))
    with contextlib.suppress(OSError):  # a read-only install: compiled again next time, as before
        write_atomically(path, data)


def _read(path: Path) -> dict[str, CodeType]:
    data = read_regular_file(path, MAX_BYTES)
    magic = importlib.util.MAGIC_NUMBER
    if data is None or len(data) > MAX_BYTES or not data.startswith(magic):
        return {}
    try:
        kept = marshal.loads(data[len(magic) :])
    except (ValueError, EOFError, TypeError):
        return {}
    if not isinstance(kept, dict):
        return {}
    return {k: v for k, v in kept.items() if isinstance(k, str) and isinstance(v, CodeType)}
