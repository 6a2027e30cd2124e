"""Shared CLI plumbing: the Typer app, global options, output and error handling.

Exit codes: 0 ok, 1 findings or failures, 2 usage or input error.
"""

from __future__ import annotations

import copy
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO, cast

import typer

from workbench.cli.stream_text import can_encode, encoded
from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from rich.console import Console

    from workbench.services.session import RepoSession

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_TERMINATED = 143  # 128 + SIGTERM
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE: what a shell reports for `git log | head -1`

app = typer.Typer(
    name="workbench",
    help="Prompt Workbench: prompts as code: validate, version, test, promote, roll back.",
    no_args_is_help=False,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@dataclass
class CliState:
    repo: Path | None = None
    debug: bool = False

    def repo_root(self) -> Path:
        """The prompt repository: --repo, else WORKBENCH_REPO, else the current directory."""
        if self.repo is not None:
            return self.repo
        env = os.environ.get("WORKBENCH_REPO")
        return Path(env) if env else Path.cwd()


state = CliState()


def console(*, stderr: bool = False) -> Console:
    """The console every command prints through: untrusted text is passed as `Text`, markup
    and highlighting are off, and output piped into another program is never wrapped (a
    `diff --unified | git apply` or a `status | grep` sees whole lines)."""
    stream = sys.stderr if stderr else output()
    piped = not stream.isatty()
    return _console_class()(file=stream, highlight=False, markup=False, emoji=False, soft_wrap=piped, width=100_000 if piped else None)


def output() -> TextIO:
    """stdout, each write whole or a clean error (`_WholeWrites`): the one way output is written."""
    stdout: TextIO | None = sys.stdout
    return stdout if isinstance(stdout, _WholeWrites) else cast("TextIO", _WholeWrites(stdout))


@contextmanager
def _only_whole_writes() -> Iterator[TextIO]:
    """stdout is `output()` while a command runs, so that `print`, click's help and any later
    command write through it too: those that wrote past it said "unexpected error: OSError"
    on a full disk and "AttributeError" with stdout closed."""
    stdout = sys.stdout
    sys.stdout = output()
    try:
        yield sys.stdout
    finally:
        sys.stdout = stdout


class ReaderGone(Exception):
    """The program reading the output closed it (`| head -1`): exit 141, as git does."""


def _reader_gone() -> NoReturn:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())  # nothing else to write, nothing to complain at exit
    raise ReaderGone


def write_whole(stream: TextIO, text: str, *, utf8: bool = False) -> None:
    """All of `text` on `stream`, or ReaderGone.

    A reader that leaves mid-output (`list --json | head -1`, output bigger than the pipe) makes
    the kernel cut the write short; CPython's buffered stream then reports the part written,
    and its text layer drops the rest without a word: exit 0 where git says 141. Writing the
    bytes until all are taken makes the next write fail as it should. What the stream's
    encoding cannot carry is degraded (`stream_text.encoded`), never an error; with `utf8`
    (data for another program: `emit_data`) the bytes are UTF-8 whatever the stream's encoding.
    """
    buffer = getattr(stream, "buffer", None)
    try:
        if buffer is None:  # not a file (an embedding's stream): its own writes
            stream.write(text)
            return
        stream.flush()
        data = text.encode("utf-8", "surrogateescape") if utf8 else encoded(text, stream.encoding or "utf-8", stream.errors or "strict")
        view = memoryview(data)
        while view:
            view = view[buffer.write(view) :]
        buffer.flush()
    except BrokenPipeError:
        _reader_gone()
    except OSError as err:  # a full disk (`> /dev/full`): the output is lost, say so
        fail(f"cannot write the output: {err}")


class _WholeWrites:
    """stdout for every command: each write whole (`write_whole`); a stdout the process was
    started without (`>&-`: None) fails the first write, as a full disk does, where a `print`
    lost it without a word (`validate >&-` exited 1, its problems unseen)."""

    def __init__(self, stream: TextIO | None) -> None:
        self._stream = stream

    def write(self, text: str, *, utf8: bool = False) -> int:
        if not isinstance(text, str):  # what a text stream says: click probes for a binary one
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if not text:
            return 0
        if self._stream is None:
            fail("cannot write the output: standard output is closed")
        write_whole(self._stream, text, utf8=utf8)
        return len(text)

    def flush(self) -> None:
        """Each write has flushed."""

    def isatty(self) -> bool:
        return self._stream is not None and self._stream.isatty()

    @property
    def encoding(self) -> str:
        return "utf-8" if self._stream is None else self._stream.encoding

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class PipeAwareConsole(Console):
        def on_broken_pipe(self) -> None:
            # Rich's own answer silences stdout and exits 1, which reads as "findings".
            self.quiet = True
            _reader_gone()

    return PipeAwareConsole


# SIGTERM (a cancelled CI job, `kill`) that arrived during a write: it ends the command as Ctrl+C
# does, after the write, but says "terminated" and exits 143 (Typer turns both into Exit(130)).
_terminated: list[bool] = []


@contextmanager
def interrupt_after() -> Iterator[None]:
    """Ctrl+C and SIGTERM wait for the block's end, so a write and its report are not parted: a
    promote interrupted between writing its event and printing it exited 130 without a word of
    what it wrote, and one terminated between its release tag and its event ended at once. Git
    starts with Ctrl+C held back (`vcs/detached.py`) and SIGTERM reaches this process alone, so
    the write under way ends whole; a hook is its own program, free to die of it (git then
    refuses, and says so)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {number: signal.signal(number, lambda number, _frame: received.append(number)) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    if signal.SIGTERM in received:
        _terminated.append(True)
    if received:
        raise KeyboardInterrupt


@contextmanager
def open_session() -> Iterator[RepoSession]:
    """The repository of this command (--repo, WORKBENCH_REPO or the current directory)."""
    from workbench.services.session import RepoSession

    with RepoSession.open(state.repo_root()) as session:
        yield session


def prompt_name(value: str) -> str:
    """A prompt NAME argument as the prompt it means (`services.prompts.typed_name`: a name typed
    with U+00E9 finds the macOS file spelled e + U+0301), so every command that takes a name,
    `tag` and `promote` too, acts on the file's own spelling. The `parser` of those arguments."""
    from workbench.services.prompts import find_root, typed_name

    try:
        return typed_name(find_root(state.repo_root()), value)
    except OSError:  # no readable working copy: the command reports what it finds
        return value


def emit_json(data: Any) -> None:
    """Print machine-readable output on stdout: on a stream that cannot encode all of it (an
    ASCII locale), with `\\u` escapes, the same JSON, never a degraded one."""
    from workbench.core.json_document import ascii_json, json_document

    stream = output()
    text = json_document(data)
    stream.write(text if can_encode(text, stream.encoding) else ascii_json(text))


def emit_data(text: str) -> None:
    """Print data another program reads (a unified diff for `git apply`, a rendered prompt piped
    on) as UTF-8 bytes, whatever the locale, as git writes a patch: degraded for an ASCII or
    latin-1 stream (`é` as `?`), a patch no longer applied. A file name's byte that is not
    UTF-8 (a lone surrogate) is written as that byte."""
    cast("_WholeWrites", output()).write(text, utf8=True)


def fail(message: str, *, hint: str | None = None) -> NoReturn:
    """Report a usage or input error: printed on stderr by `run_app`, exit code 2."""
    raise WorkbenchError(message, hint=hint)


_GLOBAL_OPTIONS_WITH_VALUES = ("--repo", "-C")


def _app_for(argv: list[str]) -> typer.Typer:
    """`app` with only the command `argv` names (and the global options).

    Typer turns every registered command into a click command before parsing: ~35 function
    signatures read and converted, 40-80 ms of every run. Only the named one is needed (none
    for `--version`); the whole app is kept for `--help`, no command and an unknown one.
    """
    position = 0
    while position < len(argv):
        token = argv[position]
        if token in _GLOBAL_OPTIONS_WITH_VALUES:
            position += 2
        elif token.startswith("-"):
            if token == "--version":  # answered while the options are parsed: no command is read
                return _with_commands(app, [], [])
            if token.split("=", 1)[0] in ("--help", "-h", "--"):
                return app
            position += 1
        else:
            break
    else:
        return app
    name = argv[position]
    commands = [c for c in app.registered_commands if c.name == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    return _with_commands(app, commands, groups)


def _with_commands(whole: typer.Typer, commands: list[Any], groups: list[Any]) -> typer.Typer:
    only = copy.copy(whole)
    only.registered_commands, only.registered_groups = commands, groups
    return only


def run_app(argv: list[str]) -> int:
    """Run the CLI, mapping WorkbenchError to a clean message and exit code 2."""
    with _only_whole_writes() as stdout:
        return _run(argv, stdout)


def _interrupted() -> int:
    if _terminated:
        sys.stderr.write("workbench: terminated\n")
        return EXIT_TERMINATED
    sys.stderr.write("workbench: interrupted\n")
    return EXIT_INTERRUPTED


def _run(argv: list[str], stdout: TextIO) -> int:
    try:
        # Non-standalone click swallows `typer.Exit(code)` and returns the code instead.
        result = _app_for(argv)(args=argv, prog_name="workbench", standalone_mode=False)
        if isinstance(result, int):
            if result == EXIT_INTERRUPTED:  # Typer's own answer to Ctrl+C in a command: 130, no word
                return _interrupted()
            return result
    except WorkbenchError as err:
        if state.debug:
            raise
        from workbench.evals.secrets import scrub  # light: no SDK, only the redaction rule

        sys.stderr.write(f"workbench: {err.title.lower()}: {scrub(err.message)}\n")
        if err.hint:
            sys.stderr.write(f"  hint: {scrub(err.hint)}\n")
        return EXIT_USAGE
    except ReaderGone:
        return EXIT_BROKEN_PIPE
    except typer.Exit as exit_:
        return int(exit_.exit_code or 0)
    except SystemExit as exit_:
        if sys.stdout is not stdout and exit_.code == 1:
            # Typer's answer to a reader that went away (`| head -1`): it swaps stdout for a
            # quiet one and exits 1, which reads as "findings" in a `set -o pipefail` script.
            return EXIT_BROKEN_PIPE
        return int(exit_.code or 0) if isinstance(exit_.code, int) else EXIT_USAGE
    except KeyboardInterrupt:
        return _interrupted()
    except Exception as exc:  # usage errors (Typer's click) and anything unexpected
        if type(exc).__name__ == "Abort":
            sys.stderr.write("workbench: aborted\n")
            return EXIT_USAGE
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            # A usage error (Typer's own click): it prints the usage line, a `--help` hint and the problem.
            show()
            return EXIT_USAGE
        if state.debug:
            raise
        from workbench.evals.secrets import scrub

        sys.stderr.write(f"workbench: unexpected error: {type(exc).__name__}: {scrub(str(exc))}\n  (run with --debug for the traceback)\n")
        return EXIT_USAGE
    return EXIT_OK
