"""Snapshot tests (pytest-textual-snapshot) of the main screen, the diff, an A/B run and the
rollback dialog, at 80x24 and 160x48. Dates, authors and the clock are fixed, so the SVGs are
stable; update them with `pytest --snapshot-update` after a deliberate change.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import NOW, clock, select, settle

from workbench.services import deployments
from workbench.tui.app import make_app

SIZES = [(80, 24), (160, 48)]


def _deployed(repo: Path) -> Path:
    from workbench.services.session import RepoSession

    with RepoSession.open(repo) as ws:
        ws.clock = lambda: NOW
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="first release")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="shorter summaries")
    return repo


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_main_screen(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")

    assert snap_compare(make_app(_deployed(app_repo), clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_diff_pane(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("3", "n")
        await settle(pilot)

    assert snap_compare(make_app(app_repo, clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_finished_ab_run(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2", "j", "m", "k")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)

    assert snap_compare(make_app(app_repo, clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rollback_dialog(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("R", "enter")
        await settle(pilot)
        await pilot.press(*"summaries lost the refund keyword")

    assert snap_compare(make_app(_deployed(app_repo), clock=clock), terminal_size=size, run_before=run_before)
