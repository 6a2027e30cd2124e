"""The first screen read while Textual loads (`tui/first_screen.py`), and the big tree's closed
folders filled when opened: what the app shows must not change, only when it shows it."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path
from typing import Any

import pytest
from tui_helpers import clock, diff_text, settle, shown_errors, until, walk

from workbench.services import diffing, history, parse_cache, prompt_files
from workbench.services.session import RepoSession
from workbench.tui.app import WorkbenchApp, make_app
from workbench.tui.first_screen import ReadsAhead, tree_data
from workbench.tui.panes.history import HistoryPane
from workbench.tui.panes.prompts import PromptsPane

FIRST_SCREEN_READS = ((prompt_files, "working_states"), (history, "history"), (parse_cache, "check_at"), (diffing, "diff"), (diffing, "introduction"))


def count_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(service, thread) of every call of the services the first screen needs."""
    reads: list[tuple[str, str]] = []
    for module, name in FIRST_SCREEN_READS:
        original = getattr(module, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            reads.append((_name, threading.current_thread().name))
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    return reads


def gated_history(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """`history.history` waits until the returned event is set (a slow first read)."""
    gate = threading.Event()
    original = history.history

    def slow(*args: Any, **kwargs: Any) -> Any:
        gate.wait(10)
        return original(*args, **kwargs)

    monkeypatch.setattr(history, "history", slow)
    return gate


def first_screen(app: WorkbenchApp) -> tuple[Any, ...]:
    pane = app.query_one(HistoryPane)
    return (
        [row.name for row in app.query_one(PromptsPane)._rows],
        app.selected_prompt,
        app.selected_rev,
        pane.row_count,
        app.comparison_pair(),
        diff_text(app),
    )


async def test_the_first_screen_is_read_ahead_once_and_shown_as_without(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbench ui` starts the first screen's reads before it imports Textual: the app takes
    those answers instead of reading the tree, the first history, the check and the diff again
    (each a worker after the step before was drawn), and shows exactly what it shows without."""
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        expected = first_screen(app)
    reads = count_reads(monkeypatch)
    ahead = ReadsAhead.start(app_repo)
    ahead.join(30)
    assert {thread for _, thread in reads} == {"workbench-reads-ahead"}
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert first_screen(app) == expected
        assert [name for name, _ in reads][:3] == ["working_states", "history", "check_at"], reads
        assert [name for name, _ in reads][3:] in (["diff"], ["introduction"]), reads
        assert {thread for _, thread in reads} == {"workbench-reads-ahead"}
        assert ahead.take(tree_data, (), {}) is None  # the first paint ended the reads ahead


async def test_a_terminal_reporting_its_focus_at_once_does_not_read_the_first_screen_again(
    app_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Terminals that report focus send one as soon as the app asks for reports: the app took it
    for a return from another window and read everything again, dropping the reads ahead. Only
    a focus after a blur reloads (the repository may have changed in another terminal)."""
    from textual import events

    gate = gated_history(monkeypatch)
    reads = count_reads(monkeypatch)
    ahead = ReadsAhead.start(app_repo)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        while app.session is None:
            await pilot.pause(0.02)
        app.post_message(events.AppFocus())  # the terminal's first report, before the first screen
        await pilot.pause(0.1)
        gate.set()
        await settle(pilot)
        assert [name for name, _ in reads].count("working_states") == 1, reads
        assert {thread for _, thread in reads} == {"workbench-reads-ahead"}
        app.post_message(events.AppBlur())
        app.post_message(events.AppFocus())  # back from another window
        await settle(pilot)
        assert [name for name, _ in reads].count("working_states") == 2, reads


async def test_reads_still_under_way_are_waited_for_not_made_twice(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app asking before the thread has answered waits for that answer."""
    gate = gated_history(monkeypatch)
    reads = count_reads(monkeypatch)
    ahead = ReadsAhead.start(app_repo)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause(0.3)
        gate.set()
        await settle(pilot)
        assert app.query_one(HistoryPane).row_count >= 1 and diff_text(app)
        assert [name for name, _ in reads].count("history") == 1, reads


async def test_a_folder_that_is_no_repository_is_said_as_before(tmp_path: Path) -> None:
    ahead = ReadsAhead.start(tmp_path)
    app = make_app(tmp_path, reads_ahead=ahead)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert app.session is None
        assert "cannot open" in diff_text(app) and "git" in shown_errors(app).lower()


async def test_a_failed_read_ahead_is_the_apps_error(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A read that failed ahead fails where the app asked for it, with the same words."""

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("history unreadable")

    monkeypatch.setattr(history, "history", broken)
    ahead = ReadsAhead.start(app_repo)
    ahead.join(30)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert "history unreadable" in shown_errors(app)
        assert app.is_running and app.query_one(PromptsPane)._rows


async def test_a_failure_between_the_reads_ahead_prints_nothing_and_the_app_reads_itself(
    app_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not a service call failing (the app shows those) but the thread's own steps: its
    traceback was printed over the app, or after it."""
    from workbench.tui import first_screen

    def broken(*_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("a defect between the reads")

    escaped: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: escaped.append(args.exc_value))
    monkeypatch.setattr(first_screen, "shows_working_copy", broken)
    ahead = ReadsAhead.start(app_repo)
    ahead.join(30)
    assert escaped == []
    monkeypatch.undo()
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert shown_errors(app) == "" and app.selected_prompt == FIRST
        assert diff_text(app).strip() and "opening repository" not in diff_text(app)


def test_answers_not_taken_are_dropped_and_an_unclaimed_session_closed(app_repo: Path) -> None:
    """Once the first screen is drawn, an answer read ahead could be stale: none is given out.
    An app that ends before it took the session (quit at once) leaves no git running."""
    ahead = ReadsAhead.start(app_repo)
    ahead.join(30)
    session = ahead.session.result()
    helpers = [h.proc for h in (session.store._git.cat_file_all, session.store._git.cat_file_header) if h is not None and h.proc is not None]
    assert helpers, "the reads started git's cat-file helpers"
    ahead.stop(unclaimed=True)
    assert ahead.take(tree_data, (), {}) is None
    for proc in helpers:
        proc.wait(timeout=10)


async def test_a_closed_folder_gets_its_prompts_when_opened(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big tree adds a closed folder's prompts when it opens (thousands of unseen nodes cost a
    tenth of a second before the first paint); opening it from the keyboard, or going to one of
    its versions from the timeline, shows them as before."""
    from workbench.tui.panes import prompts

    monkeypatch.setattr(prompts, "EXPAND_ALL_ROWS", 3)  # the sample repository has 9 prompts
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(PromptsPane)
        tree = pane.prompt_tree
        folders = {str(node.label): node for node in tree.root.children}
        assert not folders["support/"].is_expanded and not folders["support/"].children  # not added yet
        assert folders["analytics/"].children
        names = [row.name for row in pane._rows if row.name.startswith("support/")]
        tree.move_cursor(folders["support/"])
        await pilot.press("enter")
        await settle(pilot)
        assert [node.data for node in folders["support/"].children] == names
        await pilot.press("enter")  # closed again, and opened: not added twice
        await pilot.press("enter")
        await settle(pilot)
        assert [node.data for node in folders["support/"].children] == names
        assert not folders["rag/"].children
        rag = next(row.name for row in pane._rows if row.name.startswith("rag/"))
        entries = history.history(app.session, rag) if app.session else []
        app.browse.open_version(rag, entries[0].commit.sha, None)  # the timeline's enter
        await settle(pilot)
        assert folders["rag/"].is_expanded and pane.selected == rag == app.selected_prompt


@pytest.mark.parametrize("opens", [True, False])
async def test_the_collector_paused_for_start_up_is_resumed(app_repo: Path, tmp_path: Path, opens: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """`workbench ui` pauses the garbage collector until the first screen is drawn
    (workbench/start_up.py); the app resumes it then, or, when there is nothing to draw (no
    repository), after START_UP_GC_PAUSE_S."""
    import gc

    from workbench import start_up
    from workbench.tui import app as app_module

    monkeypatch.setattr(app_module, "START_UP_GC_PAUSE_S", 0.5)
    root = app_repo if opens else tmp_path
    start_up.pause()
    try:
        app = make_app(root, clock=clock, reads_ahead=ReadsAhead.start(root))
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            if opens:
                assert app.browse.first_paint.is_set() and gc.isenabled()
            await pilot.pause(0.6)
            assert gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def thread_failures(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ended a thread with an exception (printed on the terminal, over or after the app)."""
    failures: list[str] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: failures.append(f"{args.thread}: {args.exc_value!r}"))
    return failures


async def test_quitting_while_the_repository_opens_closes_it_quietly(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`q` before the session is open: the app's wait for it is cancelled, which cancelled the
    thread's answer; the thread then failed setting it (a traceback after the app) and the
    session it opened was never closed."""
    failures = thread_failures(monkeypatch)
    gate = threading.Event()
    opening = RepoSession.open.__func__  # type: ignore[attr-defined]
    closed: list[RepoSession] = []
    close = RepoSession.close

    def slow_open(cls: type[RepoSession], *args: Any, **kwargs: Any) -> RepoSession:
        gate.wait(10)
        return opening(cls, *args, **kwargs)  # type: ignore[no-any-return]

    def counted_close(self: RepoSession) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(RepoSession, "open", classmethod(slow_open))
    monkeypatch.setattr(RepoSession, "close", counted_close)
    ahead = ReadsAhead.start(app_repo)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("q")
    gate.set()
    ahead.join(30)
    assert not ahead._thread.is_alive()
    assert failures == []
    assert closed == [ahead.session.result()]


async def test_moving_on_while_a_read_ahead_is_under_way(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user moves to the next prompt while the first one's history is still read ahead: the
    app stops waiting for it (its worker cancelled), the thread finishes quietly."""
    failures = thread_failures(monkeypatch)
    gate = gated_history(monkeypatch)
    ahead = ReadsAhead.start(app_repo)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        while app.browse.history_asked is None:
            await pilot.pause(0.05)
        tree = app.query_one(PromptsPane).prompt_tree
        for _ in range(600):  # the tree's cursor is on it (a fixed pause was too short under load)
            if app.selected_prompt is not None and tree.cursor_node is not None and tree.cursor_node.data == app.selected_prompt:
                break
            await pilot.pause(0.05)
        first = app.selected_prompt
        tree.move_cursor(next(node for node in walk(tree.root) if node.data not in (None, first)))
        for _ in range(600):
            if app.selected_prompt != first:
                break
            await pilot.pause(0.05)
        gate.set()
        ahead.join(30)
        await settle(pilot)
        assert app.selected_prompt != first and app.browse.entries_of == app.selected_prompt
        assert shown_errors(app) == "" and diff_text(app)
    assert failures == []


def held_history(name: str, *, until: threading.Event, app_waits_for: ReadsAhead | None = None) -> Any:
    """history.history for the monkeypatch: the thread's read of `name` waits for `until`; the
    app's reads wait for the reads ahead to end (`app_waits_for`: they end first, every time)."""
    original = history.history

    def held(session: RepoSession, asked: str, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread().name == "workbench-reads-ahead":
            until.wait(10)
        elif app_waits_for is not None:
            app_waits_for.join(10)
        return original(session, asked, *args, **kwargs)

    return held


FIRST = "analytics/sql_generator"  # the first prompt of the sample repository


def edit_first(root: Path, words: str) -> None:
    """The first prompt's description in the working copy: `edited <words>`."""
    path = root / "prompts" / f"{FIRST}.yaml"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(f"description: edited {words}\n" if line.startswith("description:") else line for line in lines))


async def test_a_reload_is_never_answered_from_the_reads_ahead(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`r` pressed while the first screen is still read ahead (a slow history) after an edit in
    another terminal: the reload showed the working copy read ahead, from before the edit."""
    edit_first(app_repo, "draft-one")  # before the app opens
    gate = threading.Event()
    ahead = ReadsAhead.start(app_repo)
    monkeypatch.setattr(history, "history", held_history(FIRST, until=gate, app_waits_for=ahead))
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        while app.browse.history_asked is None:
            await pilot.pause(0.05)
        edit_first(app_repo, "draft-two")  # in another terminal
        await pilot.press("r")
        await pilot.pause(0.2)
        gate.set()
        await settle(pilot)
        assert app.selected_prompt == FIRST and app.selected_rev is None
        assert "draft-two" in diff_text(app) and "draft-one" not in diff_text(app), diff_text(app)


async def test_answers_read_ahead_for_a_prompt_left_are_dropped(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The user leaves the first prompt before its diff is drawn, for one whose history cannot be
    read: coming back to it later showed its working copy as read ahead, not as it is now."""
    edit_first(app_repo, "draft-one")  # before the app opens
    gate = threading.Event()
    held = held_history(FIRST, until=gate)
    other = "support/summarize"

    def history_of(session: RepoSession, name: str, *args: Any, **kwargs: Any) -> Any:
        if name == other:
            raise RuntimeError("history unreadable")
        return held(session, name, *args, **kwargs)

    monkeypatch.setattr(history, "history", history_of)
    ahead = ReadsAhead.start(app_repo)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        while app.browse.history_asked is None:
            await pilot.pause(0.05)
        tree = app.query_one(PromptsPane).prompt_tree
        for _ in range(200):  # the tree's cursor is on the first prompt (a fixed pause lost the race under load)
            if tree.cursor_node is not None and tree.cursor_node.data == FIRST:
                break
            await pilot.pause(0.05)
        await pilot.pause(0.1)
        tree.move_cursor(next(node for node in walk(tree.root) if node.data == other))
        # The user is away before the read ahead goes on: then it may (settle alone would wait
        # for the read's own 10 s time-out, the app's read of the other prompt waiting behind it).
        await until(pilot, lambda: app.selected_prompt == other, "the other prompt selected")
        gate.set()
        await settle(pilot)
        assert app.selected_prompt == other and "history unreadable" in shown_errors(app)
        ahead.join(30)
        edit_first(app_repo, "draft-two")  # in another terminal
        tree.move_cursor(next(node for node in walk(tree.root) if node.data == FIRST))
        await settle(pilot)
        assert app.selected_prompt == FIRST and app.selected_rev is None
        assert "draft-two" in diff_text(app) and "draft-one" not in diff_text(app), diff_text(app)


async def test_a_folder_event_from_before_a_reload_fills_no_folder_of_the_new_tree(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload clears the tree, and Textual numbers the new nodes from 0 again: a folder opened
    or closed just before (its message handled after the reload) took the rows of the new folder
    of the same number, which then opened empty."""
    from workbench.tui.panes import prompts

    monkeypatch.setattr(prompts, "EXPAND_ALL_ROWS", 3)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        pane = app.query_one(PromptsPane)
        tree = pane.prompt_tree
        before = {str(node.label): node for node in tree.root.children}["support/"]
        pane.set_rows(pane._rows, app.selected_prompt)  # the environments arrive, the user comes back (focus)...
        before.expand()  # ...while the folder's event was on its way
        await settle(pilot)
        after = {str(node.label): node for node in tree.root.children}["support/"]
        assert after is not before and after.id == before.id
        tree.move_cursor(after)
        await pilot.press("space")
        await settle(pilot)
        assert after.is_expanded
        assert [node.data for node in after.children] == [row.name for row in pane._rows if row.name.startswith("support/")]


async def test_the_first_screen_shows_the_test_results_of_its_history(app_repo: Path) -> None:
    """The first history's test summaries are asked while answers read ahead are still waiting
    (the diff's): the key of that call holds a list, which cannot be a key (TypeError), and the
    summaries were never shown."""
    from workbench.services import test_results

    with RepoSession.open(app_repo) as session:
        head = history.history(session, FIRST)[0].commit.sha
        test_results.record_note(session, head, test_results.note_line(FIRST, "✓ 2/2", "echo"))
    ahead = ReadsAhead.start(app_repo)
    ahead.join(30)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.selected_prompt == FIRST
        assert {row.rev: row.tests for row in app.query_one(HistoryPane)._all}.get(head) == "✓ 2/2"


async def test_a_filter_cleared_gives_back_the_folders_the_user_opened(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A big tree keeps the folders the user opened across reloads; a filter (`/`) rebuilt the
    tree from the filtered one, so clearing it closed every folder the user had opened."""
    from workbench.tui.panes import prompts

    monkeypatch.setattr(prompts, "EXPAND_ALL_ROWS", 3)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        tree = app.query_one(PromptsPane).prompt_tree
        tree.move_cursor({str(node.label): node for node in tree.root.children}["support/"])
        await pilot.press("space")
        await settle(pilot)
        await pilot.press("slash", "r", "a", "g")
        await settle(pilot)
        assert [str(node.label) for node in tree.root.children] == ["rag/"]
        await pilot.press("escape")
        await settle(pilot)
        folders = {str(node.label): node for node in tree.root.children}
        assert folders["support/"].is_expanded and len(folders["support/"].children) == 6


@pytest.mark.parametrize("how", ["--read-only", "WORKBENCH_READ_ONLY"])
async def test_reads_ahead_of_a_read_only_app_write_nothing(app_repo: Path, monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """The thread opens the session read-only as the app would: no verdict, no index refreshed
    by `git status` (a file touched: its stat data changed), nothing under `.git` or `.workbench`."""
    from repo_state import changes, tree_state

    edit_first(app_repo, "draft-one")
    (app_repo / "prompts" / "support" / "summarize.yaml").touch()
    (app_repo / "workbench.yaml").touch()
    before = tree_state(app_repo)
    if how == "WORKBENCH_READ_ONLY":
        monkeypatch.setenv("WORKBENCH_READ_ONLY", "1")
    flag = how == "--read-only"
    ahead = ReadsAhead.start(app_repo, read_only=flag)
    app = make_app(app_repo, clock=clock, read_only=flag, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.read_only and "draft-one" in diff_text(app)
    assert changes(before, tree_state(app_repo)) == []


async def test_an_invalid_prompt_sorting_first_is_not_what_opens(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The app opened on the first prompt in the tree even when that prompt could not load (an
    untracked `0draft@2.yaml`): the first screen was that prompt's error. It opens on the first
    prompt that loads, and the reads ahead read that same prompt."""
    shutil.copy(app_repo / "prompts" / "support" / "summarize.yaml", app_repo / "prompts" / "0draft@2.yaml")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        names = [row.name for row in app.query_one(PromptsPane)._rows]
        assert names[0] == "0draft@2"
        assert app.selected_prompt == names[1]
        assert shown_errors(app) == "" and app.query_one(HistoryPane).row_count > 0
        expected = first_screen(app)
    reads = count_reads(monkeypatch)
    ahead = ReadsAhead.start(app_repo)
    ahead.join(30)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert first_screen(app) == expected
        assert {thread for _, thread in reads} == {"workbench-reads-ahead"}, reads


async def test_an_answer_is_given_out_only_once_the_next_question_is_expected(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The thread gave out the tree, then expected the history: a thread slowed between the two
    (a loaded machine) lost the race, and the app read the history itself (a flaky test in CI)."""
    import time

    original = prompt_files.first_prompt

    def slow(*args: Any) -> Any:
        if threading.current_thread().name == "workbench-reads-ahead":
            time.sleep(0.3)
        return original(*args)

    monkeypatch.setattr(prompt_files, "first_prompt", slow)
    reads = count_reads(monkeypatch)
    ahead = ReadsAhead.start(app_repo)
    app = make_app(app_repo, clock=clock, reads_ahead=ahead)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert {thread for _, thread in reads} == {"workbench-reads-ahead"}, reads
        assert app.query_one(HistoryPane).row_count > 0
