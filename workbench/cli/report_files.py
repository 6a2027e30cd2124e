"""Report files named on the command line (`--junit`, `--markdown`, `--json-file`, `ci --json`).

Each path is checked before a run spends a model call (`check_report_paths`), and each report is
written on its own (`write_reports`): one that cannot be written is named in one error, exit 2,
and the others are still written. A report is written in place, not through a temporary file
and a rename: `--junit /dev/stdout` and a FIFO are files a CI may name too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from workbench.cli.common import fail
from workbench.errors import WorkbenchError
from workbench.services.write_paths import file_problem, write_error

Writer = tuple[Path | None, Callable[[Path], object]]


def check_report_paths(*paths: Path | None) -> None:
    """Refuse a report path that cannot be written, before anything runs.

    Raises:
        WorkbenchError: `cannot write PATH: why` (the first such path).
    """
    for path in paths:
        problem = file_problem(path) if path is not None else None
        if problem is not None:
            fail(f"cannot write {path}: {problem}", hint="give a file in a folder that exists (the run has not started)")


def write_reports(writers: Sequence[Writer]) -> WorkbenchError | None:
    """Write each report whose path is given; the error naming every one that failed, or None.

    The caller prints what it has to print (the verdicts, `--json`), then raises it: a full disk
    under one report neither loses the others nor hides the run's result.
    """
    failed: list[str] = []
    written: list[str] = []
    for path, write in writers:
        if path is None:
            continue
        try:
            write(path)
        except OSError as err:
            failed.append(write_error(path, err, "").message)
        else:
            written.append(str(path))
    if not failed:
        return None
    others = f"; the other reports were written ({', '.join(written)})" if written else ""
    return WorkbenchError("; ".join(failed), hint=f"give a path that can be written{others}")
