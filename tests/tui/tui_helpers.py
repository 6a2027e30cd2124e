"""Helpers for the app's tests: a fixed clock, dated commits, and waiting for the app to settle.

(A module of its own, not conftest: `from conftest import ...` picks whichever conftest was
imported first when several test folders run together.)
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from textual.worker import WorkerState

from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.prompts import PromptsPane

NOW = datetime(2026, 2, 1, 12, 0, tzinfo=UTC)


def clock() -> datetime:
    return NOW


def commit(root: Path, message: str, date: str, author: str = "Ana Lopez <ana@example.com>") -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-q", "--author", author, "-m", message], cwd=root, check=True, env=env)


def git(root: Path, *args: str, date: str = "2026-01-29T10:00:00Z") -> str:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True, text=True).stdout.strip()


def edit(root: Path, path: str, old: str, new: str) -> None:
    file = root / path
    file.write_text(file.read_text().replace(old, new, 1))


async def settle(pilot, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until loaders and service calls are done; flows waiting on a dialog do not count.

    Done is `app.idle` with no worker started but not yet running (a message handled in one
    pause may start one, which runs from the next turn of the loop), 8 pauses in a row; each
    pause first handles every message already queued. Those pauses are short (2 ms): what they
    wait for is messages and turns of the loop, not time; while the app is busy they are 10 ms."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    quiet = 0
    while quiet < 8 and loop.time() < deadline:
        await pilot.pause(0.002 if quiet else 0.01)
        app = pilot.app
        starting = any(worker.state is WorkerState.PENDING for worker in app.workers)
        quiet = quiet + 1 if app.idle and not starting else 0


async def until(pilot, condition, what: str, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    """Wait until `condition()` holds: what a flow shows after a call of its own (a dialog pushed
    once Git has answered), which `settle` does not wait for (flows waiting on a dialog do not count)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, f"not shown after {timeout:.0f} s: {what}"
        await pilot.pause(0.01)


async def dialog(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    """Wait until the screen on top is the dialog `name`, mounted: a keypress sent before it is up
    goes to the screen below it, one sent before its input has the focus is lost."""
    await until(pilot, lambda: type(pilot.app.screen).__name__ == name, name)
    await settle(pilot)


async def ab_run(pilot, name: str = "support/summarize") -> None:  # type: ignore[no-untyped-def]
    """Mark the older version of `name` as the base and run A/B against the newer."""
    await settle(pilot)
    await select(pilot, name)
    await pilot.press("2", "j", "m", "k")
    await settle(pilot)
    await pilot.press("T")
    await settle(pilot)


async def open_review(pilot) -> None:  # type: ignore[no-untyped-def]
    """`v`, then the first branch offered: the review view."""
    await settle(pilot)
    await pilot.press("v")
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    assert type(pilot.app.screen).__name__ == "ReviewScreen"


async def editor_refused(pilot, name: str = "support/summarize") -> str:  # type: ignore[no-untyped-def]
    """`E` on `name`, a file the in-app editor must not open: no editor comes up. Returns the
    errors the app shows instead (`shown_errors`)."""
    from workbench.tui.screens.editor import EditorScreen

    await settle(pilot)
    await select(pilot, name)
    await pilot.press("E")
    await settle(pilot)
    assert not isinstance(pilot.app.screen, EditorScreen)
    return shown_errors(pilot.app)


def diff_text(app) -> str:  # type: ignore[no-untyped-def]
    return str(app.query_one(DiffPane).text)


def shown_errors(app) -> str:  # type: ignore[no-untyped-def]
    """Every error the app shows: error dialogs, then notifications."""
    from workbench.tui.screens.error import ErrorScreen

    screens = [s for s in app.screen_stack if isinstance(s, ErrorScreen)]
    texts = ["\n".join(str(w.render()) for w in s.query("Static")) for s in screens]
    return "\n".join(texts + [str(n.message) for n in app._notifications])


async def select(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    pane = pilot.app.query_one(PromptsPane)
    target = next(node for node in walk(pane.prompt_tree.root) if node.data == name)
    pane.prompt_tree.move_cursor(target)
    await settle(pilot)


def walk(node):  # type: ignore[no-untyped-def]
    for child in node.children:
        yield child
        yield from walk(child)
