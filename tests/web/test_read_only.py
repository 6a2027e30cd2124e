"""A read-only `workbench serve` writes nothing into the repository: not a file, not a folder entry.

The served app is driven over its websocket as the browser's page drives it (keys in, screen
out); every file and folder of the repository, `.git` and `.workbench` included, is compared
before and after: content and modification time (a folder's time changes when anything is
created or removed in it, even a lock or a temporary file).
"""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from repo_state import changes, tree_state
from web_helpers import AppSocket, app_socket, start_server, stop_server

DIFF_DRAWN = "+++ "


async def visit_prompts(app: AppSocket, count: int) -> int:
    """Walk down the prompt tree; each prompt's history and diff load (a folder row loads nothing)."""
    visited = 0
    for _ in range(count * 2):
        await app.press("j")
        try:
            await app.wait_for(DIFF_DRAWN, timeout_s=10)
        except AssertionError:
            continue  # a folder: nothing to load
        visited += 1
        if visited == count:
            break
    return visited


async def close(app: AppSocket) -> None:
    """Escape, alone: an escape followed at once by a key reads as alt+key."""
    await app.settle()
    await app.press("\x1b")
    await app.settle()


async def browse(app: AppSocket) -> None:
    await app.wait_for("READ-ONLY", "support/", DIFF_DRAWN)  # the tree, the first prompt's history and diff
    assert await visit_prompts(app, 4) == 4
    await app.press("2", "j")  # History: an older version, its diff against the one before
    await app.wait_for(DIFF_DRAWN)
    await app.press("5")  # production metrics, read from the monitor store
    await app.wait_for("errors (95% CI)", "esc: close")
    await close(app)
    await app.press("6")  # the timeline of every release and deployment
    await app.wait_for("Roll back (prod)")
    await close(app)
    await app.press("4")  # the tests pane (the results store)
    await app.wait_for("Open case")
    await app.press("q")


def test_a_read_only_served_session_writes_nothing_into_the_repository(demo_repo: Path) -> None:
    subprocess.run(["git", "-C", str(demo_repo), "status", "--porcelain"], check=True, capture_output=True)  # index stat data fresh
    before = tree_state(demo_repo)
    served = start_server(demo_repo)
    try:

        async def session() -> None:
            async with app_socket(served) as app:
                await browse(app)

        asyncio.run(session())
    finally:
        stop_server(served)
    written = changes(before, tree_state(demo_repo))
    assert not written, "\n".join(written)


def test_a_read_only_served_session_runs_no_test_from_the_review(demo_repo: Path) -> None:
    """Review (v) → a branch → T ran an A/B test run in a read-only served app: the model was called
    (money with a paid endpoint; here the local model loaded) and `.workbench/cache.sqlite` written.
    Every other writing flow of the review (approve, merge) was refused; this one now is too."""
    before = tree_state(demo_repo)
    served = start_server(demo_repo)
    try:

        async def session() -> None:
            async with app_socket(served) as app:
                await app.wait_for("READ-ONLY", "support/", DIFF_DRAWN)
                await app.settle()
                await app.press("v")
                await app.wait_for("Review which branch against main?")
                await app.settle()
                await app.press("1")
                await app.wait_for("T: A/B run base vs branch")
                await app.settle()
                await app.press("T")
                drawn = await app.wait_for("read-only:", timeout_s=20)
                assert "A 7" not in drawn and "%" not in drawn  # no run's table, no progress bar
                await app.settle(quiet_s=2)
                assert "%━" not in app.text and "━ " not in app.text[app.seen :]

        asyncio.run(session())
    finally:
        stop_server(served)
    written = changes(before, tree_state(demo_repo))
    assert not written, "\n".join(written)
