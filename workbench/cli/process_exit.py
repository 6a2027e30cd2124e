"""Ending the `workbench` process without the interpreter's teardown.

At exit CPython tears down every module and object it holds (~900 modules and 70,000 objects
after a `test` run that used the OpenAI SDK): 0.1-0.15 s of every CLI run on this machine,
a fifth of a cached rerun, for memory the OS frees anyway. Only the console script ends this
way; `run_app` (tests, the Python API) returns as before.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn

from workbench.cli.common import EXIT_BROKEN_PIPE, EXIT_USAGE


def open_closed_streams() -> None:
    """A process started with its stderr or stdout closed (`2>&-`, `>&-`) has `sys.stderr` or
    `sys.stdout` None. Descriptors 1 and 2 are taken by /dev/null, or the first file opened
    later would take them and a child process inherit it as its output.

    stderr: an error message written there raised AttributeError, and the process ended 1
    ("findings") instead of 2; messages go to /dev/null instead. stdout stays None: output
    written there is an error, "cannot write the output" (`common._WholeWrites`)."""
    for descriptor_number in (1, 2):
        if (sys.stdout, sys.stderr)[descriptor_number - 1] is not None:
            continue
        try:
            descriptor = os.open(os.devnull, os.O_WRONLY)
            if descriptor != descriptor_number:
                os.dup2(descriptor, descriptor_number)
                os.close(descriptor)
            if descriptor_number == 2:
                sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115  the process's own
        except OSError:
            pass


def exit_process(code: int) -> NoReturn:
    """Do what an ordinary exit must (exit hooks, flushed output), then leave at once.

    While a thread other than the main one still works (one that is not a daemon), the
    ordinary exit waits for it, so this exits the ordinary way too. The hooks registered with
    `atexit` (temporary folders, logging) run as at any exit; stores and repositories are
    closed by the commands themselves (a SQLite store left open would keep its last writes
    in its `-wal`, which a read-only reader does not read).

    Output that cannot be written at the end (a full disk: `> /dev/full`) is an error, exit 2
    with git's kind of message, where Python's own exit says 120: never a silent success.
    """
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:
            code = code or EXIT_BROKEN_PIPE  # the reader went away before the last line
        except OSError as err:  # the output is lost: say so (stderr may still work)
            code = max(code, EXIT_USAGE)
            if stream is sys.stdout:
                _report(f"workbench: cannot write the output: {err}\n")
        except ValueError:  # closed
            pass
    os._exit(code)


def _report(message: str) -> None:
    try:
        if sys.stderr is not None:
            sys.stderr.write(message)
            sys.stderr.flush()
    except (OSError, ValueError):
        pass
