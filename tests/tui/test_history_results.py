"""History's test column: each row shows the result of that prompt at that commit, and no other's."""

from __future__ import annotations

from pathlib import Path

from tui_helpers import clock, select, settle

from workbench.services import history, test_results
from workbench.services.session import RepoSession
from workbench.tui.app import make_app
from workbench.tui.messages import RepoChanged
from workbench.tui.panes.history import HistoryPane

TESTED = "support/classify_intent"
UNTESTED = "analytics/sql_generator"


def shown_tests(app) -> dict[str | None, str | None]:  # type: ignore[no-untyped-def]
    return {row.rev: row.tests for row in app.query_one(HistoryPane).entries}


async def test_a_prompt_never_shows_another_prompts_result_at_the_same_commit(app_repo: Path) -> None:
    """Both prompts have a version at the first commit; only one was tested there. History kept
    the results of the rows it showed before by commit alone, so the untested prompt showed the
    other's `✓ 2/2` once the other had been visited (and a tested prompt showed it over its own
    failure or absence the same way)."""
    with RepoSession.open(app_repo) as session:
        first = history.history(session, TESTED)[-1].commit.sha
        assert first == history.history(session, UNTESTED)[-1].commit.sha
        test_results.record_note(session, first, test_results.note_line(TESTED, "✓ 2/2", "echo"))
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.selected_prompt == UNTESTED
        assert shown_tests(app).get(first) is None
        await select(pilot, TESTED)
        assert shown_tests(app).get(first) == "✓ 2/2"
        await pilot.press("1", "j", "2")  # the keys of the report: the next prompt in the tree
        await settle(pilot)
        assert app.selected_prompt == "support/escalation_check"
        assert shown_tests(app) and all(tests is None for tests in shown_tests(app).values())
        await select(pilot, UNTESTED)
        assert shown_tests(app).get(first) is None


async def test_the_same_prompts_results_stay_while_its_rows_are_redrawn(app_repo: Path) -> None:
    """The environments arrive after History (its badges redrawn without Git): the results
    already shown stay on screen rather than blinking out until they are read again."""
    with RepoSession.open(app_repo) as session:
        first = history.history(session, TESTED)[-1].commit.sha
        test_results.record_note(session, first, test_results.note_line(TESTED, "✓ 2/2", "echo"))
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, TESTED)
        assert shown_tests(app).get(first) == "✓ 2/2"
        app.browse.statuses_loaded(TESTED)  # synchronous: no summaries read in between
        assert shown_tests(app).get(first) == "✓ 2/2"


async def test_a_new_result_replaces_the_one_shown(app_repo: Path) -> None:
    """A run ends (`RepoChanged`): History is read again and its rows drawn with the results kept
    from before, which the fresh ones then did not replace: the old result stayed on screen."""
    with RepoSession.open(app_repo) as session:
        first = history.history(session, TESTED)[-1].commit.sha
        test_results.record_note(session, first, test_results.note_line(TESTED, "✓ 2/2", "echo"))
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, TESTED)
        assert shown_tests(app).get(first) == "✓ 2/2"
        with RepoSession.open(app_repo) as session:
            test_results.record_note(session, first, test_results.note_line(TESTED, "✗ 1/2", "echo"))
        app.post_message(RepoChanged(frozenset({"history"})))
        await settle(pilot)
        assert shown_tests(app).get(first) == "✗ 1/2"


async def test_a_local_result_keeps_its_counts_in_the_column(app_repo: Path) -> None:
    """`✓ 4/6 local` (a run only in this clone's store) pushed its counts out of the column of
    right-aligned counts that `✓ 12/12` keeps: they end in the same column now, `local` after them."""
    from workbench.services.test_results import ResultMark

    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        pane = app.query_one(HistoryPane)
        newer, older = [row.rev for row in pane.entries if row.rev]
        pane.set_tests("support/summarize", {newer: ResultMark("✓ 12/12", recorded=True), older: ResultMark("✗ 4/6", recorded=False)})
        await settle(pilot)
        recorded, local = (pane.get_cell(rev, "tests").plain for rev in (newer, older))
        assert recorded.index("12/12") + len("12/12") == local.index("4/6") + len("4/6")
        assert recorded.startswith("✓ ") and local.startswith("✗ ") and "local" in local and "local" not in recorded
        assert len(recorded) == len(local)
        assert shown_tests(app) == {newer: "✓ 12/12", older: "✗ 4/6 local"}  # the label `workbench log` prints


async def test_the_tests_columns_tag_slot_is_measured_once_per_render(long_history_repo: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Each row's tests cell measured the ` local` slot over every row again (`tag_slot`): a
    render of n rows took n x n steps. It is measured once per render now, whatever the rows."""
    from workbench.services.test_results import ResultMark
    from workbench.tui.panes import history as pane_module

    measured: list[int] = []
    real = pane_module.tag_slot
    monkeypatch.setattr(pane_module, "tag_slot", lambda rows: measured.append(len(rows)) or real(rows))
    app = make_app(long_history_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        pane = app.query_one(HistoryPane)
        revs = [row.rev for row in pane.entries if row.rev]
        assert len(revs) >= 20
        measured.clear()
        pane.set_tests("support/summarize", {rev: ResultMark("✓ 1/1", recorded=i % 2 == 0) for i, rev in enumerate(revs)})
        assert 1 <= len(measured) <= 2, len(measured)  # the column's width and the cells' slot
