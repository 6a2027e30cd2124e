"""`5` on the demo: the intent classifier's v2 regressed in prod; the banner leads to the rollback."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static
from tui_helpers import select, settle

from workbench.tui.app import make_app


async def test_monitor_banner_and_rollback_key(demo_repo: Path) -> None:
    app = make_app(demo_repo)
    async with app.run_test(size=(140, 44)) as pilot:
        await settle(pilot)
        await select(pilot, "support/classify_intent")
        await pilot.press("5")
        await settle(pilot)
        screen = app.screen
        assert screen.__class__.__name__ == "MonitorScreen"
        text = "\n".join(str(s.render()) for s in screen.query(Static))
        assert "REGRESSED in prod" in text and "press R to roll back" in text and "▲" in text
        await pilot.press("R")
        await settle(pilot)
        assert app.screen.__class__.__name__ == "ChoiceScreen"  # the rollback flow, environment first
        await pilot.press("escape")
        await select(pilot, "support/escalation_check")
        await pilot.press("5")
        await settle(pilot)
        text = "\n".join(str(s.render()) for s in app.screen.query(Static))
        assert "REGRESSED" not in text


def test_deployment_markers_sit_at_the_sequence_s_time() -> None:
    """The chart placed `▲`/`↺` by the message's `when` and raised on one that is no time (a tag
    written by hand): the screen failed. It places them where the monitor starts each window."""
    from types import SimpleNamespace

    from workbench.tui.screens.monitor import marker_line

    day = 1767225600.0  # 2026-01-01
    events = [SimpleNamespace(when="", action="rollback", seq="20260102120000000-aaaaaaaa"), SimpleNamespace(when="2026-01-01T00:00:00Z", action="promote", seq="2026-bad")]
    assert marker_line([day, day + 86400], events, 10) == " ↺"
