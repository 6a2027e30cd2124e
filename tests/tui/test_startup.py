"""What the app does (and does not do) on its way to the first full paint.

Speed itself is measured by `benchmarks/app_startup.py`; these tests pin the behaviours the
start-up time rests on, so that a change that undoes one of them fails here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from tui_helpers import clock, commit, diff_text, select, settle

from workbench.tui.app import make_app
from workbench.tui.panes.history import HistoryPane
from workbench.tui.panes.prompts import PromptsPane


async def test_footer_keys_are_not_restyled_one_by_one(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's FooterKey starts compact and is then told it is not: each key restyled on its
    own (~3 ms each, ~20 keys, every time the footer is rebuilt). Ours start as they end."""
    restyled: list[str] = []
    original = App.update_styles

    def update_styles(self: App[Any], node: Any, animate: bool = True) -> None:
        if type(node).__name__ == "FooterKey":
            restyled.append(str(getattr(node, "key", "")))
        original(self, node, animate)

    monkeypatch.setattr(App, "update_styles", update_styles)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.query_one(HistoryPane).row_count >= 1
        assert app.query("FooterKey"), "the footer shows the keys"
        assert restyled == []


async def test_the_footer_is_rebuilt_only_when_its_keys_change(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Textual's Footer remounts every key whenever the screen says its bindings changed (three
    times while the app opens, ~25 ms each here), even when they are the same keys."""
    from workbench.tui.footer import KeyFooter

    rebuilt: list[tuple[str, ...]] = []
    original = KeyFooter.compose

    def compose(self: KeyFooter) -> Any:
        widgets = list(original(self))
        if widgets:
            rebuilt.append(tuple(str(getattr(w, "key", "")) for w in widgets))
        return iter(widgets)

    monkeypatch.setattr(KeyFooter, "compose", compose)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert len(rebuilt) == 1, rebuilt
        await pilot.press("2", "1")  # focus moves: the same keys, nothing to rebuild
        await settle(pilot)
        assert len(rebuilt) == 1
        app.bind("x", "bell", description="Ring")  # a new key: shown
        app.screen.refresh_bindings()
        await settle(pilot)
        assert len(rebuilt) == 2 and "x" in rebuilt[1] and "x" not in rebuilt[0]
        assert [str(key.key) for key in app.query("FooterKey")] == list(rebuilt[1])
        app.screen.refresh_bindings()  # told again, the same keys: nothing to rebuild
        await settle(pilot)
        assert len(rebuilt) == 2


STARTUP_FREE = ("jinja2", "jsonschema", "openai", "httpx", "workbench.evals", "workbench.core.loader")


def test_importing_the_app_leaves_out_what_later_screens_need() -> None:
    """Templating, schema validation, the loader, evals and the OpenAI SDK are for later actions
    (or for a prompt whose parse is not cached): none is imported with the app."""
    code = (
        "import sys, workbench.tui.app\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {STARTUP_FREE!r} or m.startswith({STARTUP_FREE!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


async def test_reopening_shows_the_first_diff_without_parsing_it_again(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first prompt's version was checked in an earlier session: its verdict comes from the
    cache (`services.parse_cache`), so the first paint needs neither the loader nor jsonschema."""
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
    from workbench.core import loader

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("parsed again")

    monkeypatch.setattr(loader, "load_prompt", refuse)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert "sql_generator" in diff_text(app) or "added" in diff_text(app)


async def test_a_big_tree_opens_with_only_the_selected_folder_expanded(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With thousands of prompts, every folder open means thousands of tree lines to measure and
    lay out before the first paint (and a wall to scroll): a big tree opens with the selected
    prompt's folder only; a small one (the demo, the snapshots) with every folder open."""
    from workbench.tui.panes import prompts

    def folders(app: Any) -> dict[str, bool]:
        tree = app.query_one(PromptsPane).prompt_tree
        return {str(node.label): node.is_expanded for node in tree.root.children}

    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert all(folders(app).values())
    monkeypatch.setattr(prompts, "EXPAND_ALL_ROWS", 3)  # the sample repository has 9 prompts
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.selected_prompt == "analytics/sql_generator"
        assert folders(app) == {"analytics/": True, "rag/": False, "support/": False}
        await select_folder_prompt(pilot, "support/")
        assert app.selected_prompt is not None and app.selected_prompt.startswith("support/")
        await pilot.press("ctrl+r")  # reload: the folders the user opened stay open
        await settle(pilot)
        assert folders(app) == {"analytics/": True, "rag/": False, "support/": True}


async def select_folder_prompt(pilot: Any, folder: str) -> None:
    """Open a collapsed folder from the keyboard and select its first prompt."""
    tree = pilot.app.query_one(PromptsPane).prompt_tree
    node = next(n for n in tree.root.children if str(n.label) == folder)
    tree.move_cursor(node)
    await pilot.press("enter")  # Tree: enter toggles the folder
    await settle(pilot)
    tree.move_cursor(node.children[0])
    await settle(pilot)


_FIRST_DIFF_PROBE = """
import asyncio, sys
from workbench.tui.app import make_app
from workbench.tui.panes.diff import DiffPane

shown = []
original = DiffPane.show_diff
def show_diff(self, diff):
    original(self, diff)
    if not shown:
        shown.append(sorted(m for m in sys.modules if m in {names!r}))
DiffPane.show_diff = show_diff

async def main():
    app = make_app(sys.argv[1])
    async with app.run_test(size=(120, 36)) as pilot:
        while not shown:
            await pilot.pause(0.005)
        await app.workers.wait_for_complete()  # quit once loaded, not midway
        await pilot.pause()
    print(shown[0])

asyncio.run(main())
"""


def _first_diff_modules(repo: Path) -> str:
    """Which of jsonschema, jinja2 and the loader a fresh app had imported at its first diff."""
    probe = _FIRST_DIFF_PROBE.format(names=("jsonschema", "jinja2", "workbench.core.loader"))
    done = subprocess.run([sys.executable, "-c", probe, str(repo)], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_reopening_paints_the_first_diff_without_the_schema_or_template_libraries(app_repo: Path) -> None:
    """The repository's workbench.yaml and the first prompt were checked in an earlier session:
    the signed verdicts answer, so neither jsonschema (0.08-0.17 s to import) nor jinja2 and the
    loader are imported before the first diff is on screen."""
    _first_diff_modules(app_repo)  # the first session checks both and remembers
    assert _first_diff_modules(app_repo) == "[]"


def test_reopening_paints_the_first_diff_of_a_suite_that_names_files_without_the_loader(app_repo: Path) -> None:
    """The first prompt's suite names a file (`value: file://checks/count.txt`): History and the
    diff parsed each version shown to learn which files its assertions name, importing the
    loader, jinja2 and jsonschema before the first diff again. The verdicts remember them."""
    sql = app_repo / "prompts" / "analytics" / "sql_generator.yaml"
    sql.write_text(sql.read_text().replace("value: count", "value: file://checks/count.txt", 1))
    (app_repo / "checks").mkdir()
    (app_repo / "checks" / "count.txt").write_text("count\n")
    commit(app_repo, "The expected word from a file", "2026-01-20T10:00:00Z")
    (app_repo / "checks" / "count.txt").write_text("COUNT\n")
    commit(app_repo, "The expected word in capitals", "2026-01-21T10:00:00Z")  # the first diff: this file only
    _first_diff_modules(app_repo)
    assert _first_diff_modules(app_repo) == "[]"


async def test_opening_reads_the_first_prompts_history_once(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree selecting its first prompt (and announcing it twice: as selected, then as
    highlighted) is the selection the app already made: not two more `git log`s, each waiting
    for the one before under the session lock."""
    from workbench.services import history

    reads: list[str] = []
    original = history.history

    def counted(session: Any, name: str, **kwargs: Any) -> Any:
        reads.append(name)
        return original(session, name, **kwargs)

    monkeypatch.setattr(history, "history", counted)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.query_one(HistoryPane).row_count >= 1
        first = app.selected_prompt
        assert reads == [first]
        await select(pilot, "support/summarize")  # another prompt: its history is read, once
        assert reads == [first, "support/summarize"]
        await select(pilot, first)  # and back: read again (it may have changed meanwhile)
        assert reads == [first, "support/summarize", first]


async def test_opening_makes_the_first_diff_once(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """History putting its cursor on the version the app chose announces it: that diff is
    already on its way, not to be checked and made again."""
    from workbench.services import diffing, parse_cache

    made: list[str] = []
    for module, name in ((diffing, "diff"), (diffing, "introduction"), (parse_cache, "check_at")):
        original = getattr(module, name)

        def counted(*args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            made.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert made.count("check_at") == 1 and made.count("diff") + made.count("introduction") == 1, made
        await select(pilot, "support/summarize")
        made.clear()
        await pilot.press("2", "j")  # another version: its diff
        await settle(pilot)
        await pilot.press("k")  # and back: made again
        await settle(pilot)
        assert made.count("check_at") == 2 and made.count("diff") + made.count("introduction") == 2, made


async def test_data_arriving_while_the_app_closes_is_dropped(app_repo: Path) -> None:
    """A loader's answer (the environments come after the first paint) can reach the app after
    its panes were taken down: it is dropped, not a crash on the way out."""
    from workbench.tui.messages import DiffLoaded, HistoryLoaded, TreeLoaded

    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        rows = app.query_one(PromptsPane)._rows
        name = app.selected_prompt
    assert not app.is_running
    app._tree_loaded(TreeLoaded(rows, "main", 0, 0, 0, statuses=True))
    app._tree_loaded(TreeLoaded(rows, "main", 0, 0, 0))
    app._history_loaded(HistoryLoaded(str(name), [], {}))
    app._diff_loaded(DiffLoaded(str(name), message="late"))


async def test_the_apps_git_never_asks_on_its_terminal(app_repo: Path) -> None:
    """A push needing a password fails with git's message rather than prompting on the screen the
    app draws, and git's processes (the cat-file helpers the panes started here) have no
    controlling terminal, so ssh cannot ask there either (tests/vcs/test_sync_secrets.py and
    test_no_terminal.py push from a real terminal both ways)."""
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.session is not None and app.session.store.terminal_prompts is False
        git = app.session.store._git
        helpers = [h.proc for h in (git.cat_file_all, git.cat_file_header) if h is not None and h.proc is not None]
        assert helpers and all(os.getsid(p.pid) == p.pid for p in helpers)  # each leads a session of its own
