"""Snapshot tests (pytest-textual-snapshot) of the main screen and an A/B run at 80x24, 100x30,
120x36 and 160x48; the diff and the rollback dialog at 80x24 and 160x48; the History of a prompt
with releases and deployments, help scrolled to its end, zoomed panes and the light theme at the
sizes people use. Dates, authors and the clock are fixed, so the SVGs are stable; update them with
`pytest --snapshot-update` after a deliberate change (and after reading the new pictures).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tui_helpers import NOW, ab_run, clock, dialog, select, settle

from workbench.services import deployments
from workbench.tui.app import make_app

SIZES = [(80, 24), (160, 48)]
ALL_SIZES = [(80, 24), (100, 30), (120, 36), (160, 48)]
USED_SIZES = [(100, 30), (120, 36)]


def _deployed(repo: Path) -> Path:
    from workbench.services.session import RepoSession

    with RepoSession.open(repo) as ws:
        ws.clock = lambda: NOW
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="first release")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="shorter summaries")
    return repo


@pytest.mark.parametrize("size", ALL_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
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


@pytest.mark.parametrize("size", ALL_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_finished_ab_run(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await ab_run(pilot)
        pilot.app.clear_notifications()  # the "base: …" toast would cover the verdict
        await pilot.pause()

    assert snap_compare(make_app(app_repo, clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_rollback_dialog(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        # R asks Git who writes before its dialog is up: an enter sent at once went to the tree
        # when Git answered late (under load), and the picture was the environment's dialog.
        await pilot.press("R")
        await dialog(pilot, "ChoiceScreen")
        await pilot.press("enter")
        await dialog(pilot, "TextPromptScreen")
        await pilot.press(*"summaries lost the refund keyword")

    assert snap_compare(make_app(_deployed(app_repo), clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", USED_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_history_with_releases_and_deployments(released_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(make_app(released_repo, clock=clock), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_help_scrolled_to_its_end(app_repo: Path, snap_compare, size: tuple[int, int]) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        await pilot.press("G")
        await pilot.pause()

    assert snap_compare(make_app(app_repo, clock=clock), terminal_size=size, run_before=run_before)


def test_zoomed_ab_run_half_screen_at_120x36(app_repo: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await ab_run(pilot)
        await pilot.press("plus")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(make_app(app_repo, clock=clock), terminal_size=(120, 36), run_before=run_before)


def test_zoomed_history_full_screen_at_80x24(released_repo: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2", "plus", "plus")
        await settle(pilot)

    assert snap_compare(make_app(released_repo, clock=clock), terminal_size=(80, 24), run_before=run_before)


def test_light_theme_in_colour_at_120x36(released_repo: Path, snap_compare, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("NO_COLOR", raising=False)

    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2")
        await settle(pilot)

    assert snap_compare(make_app(released_repo, clock=clock, theme="textual-light"), terminal_size=(120, 36), run_before=run_before)


def test_history_of_every_branch_at_120x36(branched_repo: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2", "a")
        await settle(pilot)

    assert snap_compare(make_app(branched_repo, clock=clock), terminal_size=(120, 36), run_before=run_before)


def test_timeline_at_120x36(branched_repo: Path, snap_compare) -> None:  # type: ignore[no-untyped-def]
    async def run_before(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)

    assert snap_compare(make_app(branched_repo, clock=clock), terminal_size=(120, 36), run_before=run_before)
