"""Branch lanes in History (`a`) and the repository timeline (`6`), driven with Pilot."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from textual.widgets import DataTable
from tui_helpers import clock, diff_text, git, select, settle

from workbench.tui.app import make_app
from workbench.tui.panes.history import HistoryPane
from workbench.tui.screens.dialogs import ChoiceScreen
from workbench.tui.screens.timeline import TimelineScreen


async def all_branches(pilot) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await select(pilot, "support/summarize")
    await pilot.press("2", "a")
    await settle(pilot)


async def timeline(pilot) -> TimelineScreen:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await pilot.press("6")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, TimelineScreen)
    return screen


async def open_event(pilot, kind: str, key: str = "enter") -> None:  # type: ignore[no-untyped-def]
    screen = pilot.app.screen
    assert isinstance(screen, TimelineScreen)
    screen.query_one(DataTable).move_cursor(row=next(i for i, e in enumerate(screen.shown) if e.kind == kind))
    await pilot.press(key)
    await settle(pilot)


def history_subjects(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [row.subject for row in app.query_one(HistoryPane).entries]


async def test_a_shows_every_branch_with_lanes_heads_and_badges(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        assert "One sentence only" not in history_subjects(app)  # the current branch only
        await pilot.press("2", "a")
        await settle(pilot)
        pane = app.query_one(HistoryPane)
        rows = pane.entries
        assert [r.subject for r in rows[:3]] == ["One sentence only", "Merge feature/tone", "Warm tone"]
        assert rows[0].heads == ("experiment/short",) and rows[1].heads == ("main",) and rows[2].heads == ("feature/tone",)
        assert any(r.releases for r in rows) and any("prod" in r.deployments for r in rows)
        assert "all branches" in str(pane.border_title)
        first = "".join(c.plain for c in pane.get_row_at(0))
        assert "(experiment/short)" in first and "One sentence only" in first
        await pilot.press("a")
        await settle(pilot)
        assert "One sentence only" not in history_subjects(app) and "all branches" not in str(pane.border_title)
        assert all(r.graph == "" for r in pane.entries)


async def test_graph_rows_of_a_branch_that_forked_and_merged(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await all_branches(pilot)
        graphs = {r.subject: r.graph for r in app.query_one(HistoryPane).entries}
        # The merge opens a lane for the branch; the branch's commit sits in it; the lane closes
        # where the branch forked; the unmerged experiment has a lane of its own.
        assert graphs["Merge feature/tone"].count("◎") == 1 and graphs["Merge feature/tone"].endswith("╮")
        assert graphs["Warm tone"].endswith("●") and graphs["Warm tone"].startswith("│")
        assert "╯" in graphs["Mention the product too, so that on-call knows which team"]


async def test_a_commit_on_another_branch_diffs_against_its_own_line(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await all_branches(pilot)
        pane = app.query_one(HistoryPane)
        experiment = next(r for r in pane.entries if r.subject == "One sentence only")
        pane.move_cursor(row=pane.entries.index(experiment))
        await settle(pilot)
        assert app.selected_rev == experiment.rev
        text = diff_text(app)
        # Its own parent (main before the merge), not the row below it (the merge).
        assert "Write one" in text and "warm" not in text


async def test_timeline_lists_events_newest_first_and_filters(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await timeline(pilot)
        kinds = [(e.kind, e.env) for e in screen.shown]
        deployments_only = [k for k in kinds if k[0] not in ("release", "merge")]
        assert deployments_only[:2] == [("rollback", "prod"), ("promote", "prod")]
        assert ("merge", None) in kinds and ("release", None) in kinds
        assert [e.when for e in screen.shown] == sorted((e.when for e in screen.shown), reverse=True)
        table = screen.query_one(DataTable)
        assert table.row_count == len(screen.events)
        rollback = kinds.index(("rollback", "prod"))
        assert "orders named twice" in "".join(c.plain for c in table.get_row_at(rollback))
        await pilot.press("e")  # environments cycle: all → dev
        assert {e.env for e in screen.shown} == {"dev"} and table.row_count == len(screen.shown)
        await pilot.press("e", "e", "e")  # staging, prod, all
        assert screen.env is None and len(screen.shown) == len(screen.events)
        await pilot.press("slash")
        await settle(pilot)
        await pilot.press(*"nothing-like-this", "enter")
        await settle(pilot)
        assert app.screen is screen and screen.shown == [] and "no events" in str(screen.query_one("#timeline-title").render())
        await pilot.press("escape")
        await settle(pilot)
        assert not isinstance(app.screen, TimelineScreen)


async def test_enter_opens_the_prompt_at_that_version_diffed_against_the_one_it_replaced(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/reply_drafter")  # another prompt is selected
        await pilot.press("6")
        await settle(pilot)
        await open_event(pilot, "rollback")  # v3 → v2 in prod
        await settle(pilot)
        assert not isinstance(app.screen, TimelineScreen)
        assert app.selected_prompt == "support/summarize" and app.focused is app.query_one(HistoryPane)
        pane = app.query_one(HistoryPane)
        selected = next(r for r in pane.entries if r.rev == app.selected_rev)
        assert "v2" in selected.releases[0] and "prod" in selected.deployments
        assert app.base_marked and "v3" in next(r for r in pane.entries if r.rev == app.base_rev).releases[0]
        header = diff_text(app).splitlines()[0]
        assert "v3" in header.split("+++")[0] and "v2" in header.split("+++")[1]


async def test_enter_on_a_version_of_another_branch_shows_all_branches(branched_repo: Path) -> None:
    """An event whose version is not on the current branch opens History in all-branches mode."""
    git(branched_repo, "switch", "-q", "experiment/short")
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await timeline(pilot)
        await open_event(pilot, "merge")
        assert app.browse.all_branches and "all branches" in str(app.query_one(HistoryPane).border_title)
        assert app.selected_rev in {r.rev for r in app.query_one(HistoryPane).entries}


async def test_R_on_a_prod_event_starts_the_rollback_flow_and_elsewhere_says_why_not(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await timeline(pilot)
        await open_event(pilot, "release", key="R")
        assert app.screen is screen  # not a prod event: nothing starts
        await open_event(pilot, "rollback", key="R")
        await settle(pilot)
        assert isinstance(app.screen, ChoiceScreen) and "support/summarize" in app.screen._title
        await pilot.press("escape")
        await settle(pilot)


async def test_R_from_the_timeline_is_refused_in_a_read_only_app(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock, read_only=True)
    async with app.run_test(size=(120, 36)) as pilot:
        await timeline(pilot)
        await open_event(pilot, "rollback", key="R")
        assert not isinstance(app.screen, ChoiceScreen)
        assert any("read-only" in str(n.message) for n in app._notifications)


async def test_the_timeline_title_stays_on_screen_at_80x24(branched_repo: Path) -> None:
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        events = (await timeline(pilot)).events
        await pilot.press("escape")
        await settle(pilot)
        screen = TimelineScreen(events * 8, ["dev", "staging", "prod"], clock=clock)  # more rows than lines
        app.push_screen(screen)
        await settle(pilot)
        await pilot.press("G")  # the last event: the table scrolls, the title does not
        await settle(pilot)
        title = screen.query_one("#timeline-title")
        table = screen.query_one(DataTable)
        assert title.region.y == 0 and title.region.height >= 1
        assert table.region.y >= title.region.height and table.region.bottom <= 23


async def test_at_80x24_the_timeline_fits_the_width_and_keeps_why(branched_repo: Path) -> None:
    """`who` and `why` were past the right edge at 80 columns: the columns that matter least
    give way (who, then tests) and `why` is cut to the width left, so nothing needs scrolling."""
    app = make_app(branched_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await timeline(pilot)
        table = screen.query_one(DataTable)
        labels = [str(column.label) for column in table.columns.values()]
        assert "why" in labels and "who" not in labels and "tests" not in labels
        assert table.virtual_size.width <= table.size.width
        # A long prompt name (the demo's rag/answer_with_citations) is cut too, rather than
        # push `why` past the edge.
        long = [replace(e, prompts=("rag/answer_with_citations_and_more",)) for e in screen.events]
        wide = TimelineScreen(long, ["dev", "staging", "prod"], clock=clock)
        app.push_screen(wide)
        await settle(pilot)
        wide_table = wide.query_one(DataTable)
        assert wide_table.virtual_size.width <= wide_table.size.width
        assert "…" in wide_table.get_row_at(0)[3].plain
        wide.dismiss(None)
        await settle(pilot)
        rollback = next(i for i, e in enumerate(screen.shown) if e.kind == "rollback")
        assert "orders" in "".join(c.plain for c in table.get_row_at(rollback))
        table.move_cursor(row=rollback)
        await pilot.resize_terminal(140, 36)
        await settle(pilot)
        assert table.cursor_row == rollback  # the row the user was on
        labels = [str(column.label) for column in table.columns.values()]
        assert labels == ["when", "what", "env", "prompt", "version", "tests", "who", "why"]
        assert table.virtual_size.width <= table.size.width


async def test_help_on_the_timeline_shows_the_timeline_s_keys_first(released_repo: Path) -> None:
    """`?` on the timeline listed the prompts pane's keys first (and `q Quit`, which there closes
    the timeline): its own enter / R / e / / were not shown at all."""
    from workbench.tui.screens.help import HelpScreen

    app = make_app(released_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await timeline(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        help_screen = app.screen
        assert isinstance(help_screen, HelpScreen)
        title = str(help_screen.query_one(".dialog-title").render())
        assert "timeline first" in title
        rows = help_screen._rows()
        assert [key for key, _, _ in rows[:5]] == ["esc / q / 6", "enter", "R", "e", "/"]
        assert rows[1][1] == "Open at this version" and rows[1][2] == "timeline"
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, TimelineScreen)


def test_a_malformed_event_says_so_in_its_why_cell() -> None:
    """The CLI's timeline marked an event whose message was read in part; the app's showed it as
    any other, and an on-call engineer would read its version as what the tag meant."""
    from workbench.services.timeline import TimelineEvent
    from workbench.tui.screens.timeline import COLUMNS, event_cells

    event = TimelineEvent(when="2026-12-01T10:00:00Z", kind="split", prompts=("p",), commit="c" * 40, env="prod", why="canary", problem="canary.percent 'ten' is not a number")
    why = event_cells(event, None)[COLUMNS.index("why")]
    assert why.plain == "⚠ malformed: canary.percent 'ten' is not a number · canary"
    assert event_cells(replace(event, problem=""), None)[COLUMNS.index("why")].plain == "canary"


async def test_an_environment_running_a_malformed_event_is_marked_in_the_tree_and_history(released_repo: Path) -> None:
    """The tree's and History's badges showed `[prod]` as if all were well while prod's event was
    malformed (read in part: its split ignored); only the timeline said so. The badge says it too."""
    from tui_helpers import walk

    from workbench.tui.panes.prompts import PromptsPane

    head = git(released_repo, "rev-parse", "HEAD").strip()
    message = (
        'split\n\nprompt: "support/summarize"\nenv: "prod"\naction: "split"\n'
        f'commit: "{head}"\ncanary: {{"version": null, "commit": "{head}", "percent": "ten"}}\n'
    )
    git(released_repo, "tag", "-a", "deploy/prod/support/summarize/20991231000000000-deadbeef", "-m", message, head)
    app = make_app(released_repo, clock=clock)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        tree = app.query_one(PromptsPane).prompt_tree
        label = next(node.label for node in walk(tree.root) if node.data == "support/summarize")
        assert "[prod ⚠]" in label.plain and "[dev]" in label.plain
        prod_rows = [row for row in app.query_one(HistoryPane).entries if "prod" in row.deployments]
        assert prod_rows and all(row.troubled == ("prod",) for row in prod_rows)


def test_a_troubled_badge_reads_the_same_in_the_tree_and_in_history() -> None:
    from workbench.tui.text import env_badges

    assert env_badges(("dev", "prod"), ("prod",)).plain == "[dev] [prod ⚠]"
    assert env_badges(("dev", "prod"), ()).plain == "[dev] [prod]"
    assert env_badges(("production",), (), short=True).plain == "[prod]"
    assert env_badges(("[bold]x",), ()).plain == "[[bold]x]"
