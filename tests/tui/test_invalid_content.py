"""Committed prompt files whose *content* does not load (bad YAML, a schema error, bytes that
are not UTF-8): the tree marks them as it marks invalid names, the app opens on the first prompt
that loads, and selecting one shows its own error with the app alive.

Before, only an invalid *name* was marked: these looked like good prompts, and the app opened on
the first of them, the first screen one file's error.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from tui_helpers import clock, commit, diff_text, select, settle

from workbench.core.versions import WorkingState
from workbench.services import parse_cache
from workbench.services.session import RepoSession
from workbench.tui.app import make_app
from workbench.tui.first_screen import ReadsAhead, tree_data
from workbench.tui.panes.prompts import PromptsPane, prompt_label

BROKEN = {
    "aaa_yaml": b"messages: [\n",  # sorted before every sample prompt: the tree's first row
    "aab_schema": b"messages: 3\n",
    "aac_binary": b"\xff\xfe\x00bad",
}
FIRST_VALID = "analytics/sql_generator"


@pytest.fixture
def broken_repo(app_repo: Path) -> Path:
    for name, data in BROKEN.items():
        (app_repo / "prompts" / f"{name}.yaml").write_bytes(data)
    commit(app_repo, "Prompts that do not load", "2026-01-12T10:00:00Z")
    return app_repo


def _validate_line(repo: Path, name: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(repo), "validate", f"prompts/{name}.yaml"], capture_output=True, text=True, check=False
    )
    return done.stdout.strip().splitlines()[0]


@pytest.mark.parametrize("ahead", [False, True], ids=["app reads", "read ahead"])
async def test_the_app_opens_on_the_first_prompt_that_loads_and_marks_the_others(broken_repo: Path, ahead: bool) -> None:
    reads = ReadsAhead.start(broken_repo) if ahead else None
    app = make_app(broken_repo, clock=clock, reads_ahead=reads)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.selected_prompt == FIRST_VALID
        assert "is invalid" not in diff_text(app)
        pane = app.query_one(PromptsPane)
        rows = {row.name: row for row in pane._rows}
        assert {name: str(rows[name].state) for name in BROKEN} == dict.fromkeys(BROKEN, "invalid")
        assert str(prompt_label(rows["aac_binary"], "aac_binary.yaml")).startswith("!")  # the badge of an invalid name
        assert str(rows[FIRST_VALID].state) == "clean" and str(rows["support/summarize"].state) == "clean"
        for name in BROKEN:  # each one's own error, the app alive
            await select(pilot, name)
            shown = diff_text(app)
            assert f"{name} (" in shown and "is invalid" in shown and app.is_running, shown
        assert "not UTF-8 text" in shown and ":0:0:" not in shown and "invalid YAML" not in shown


async def test_the_history_of_a_committed_invalid_prompt_has_no_working_copy_row(broken_repo: Path) -> None:
    """The mark says the content does not load; the working copy is still the committed one."""
    app = make_app(broken_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "aab_schema")
        assert [row.rev is not None for row in app.browse.rows] == [True]


def test_the_binary_file_says_in_the_app_what_validate_says(broken_repo: Path) -> None:
    line = _validate_line(broken_repo, "aac_binary")
    with RepoSession.open(broken_repo) as ws:
        shown = [p.format() for p in parse_cache.check_at(ws, "aac_binary", ws.store.resolve("HEAD")).problems]
    assert shown == [line] and ":1:1: error: not UTF-8 text" in line


def test_the_tree_checks_only_the_prompts_before_the_first_that_loads(broken_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tree's first answer parses no more than it must: on a big repository every file
    checked before the first paint was what the lazy tree avoids."""
    from workbench.core import loader

    parsed: list[str] = []
    original = loader.load_prompt

    def counted(text: str, path: str, **kwargs: object) -> object:
        parsed.append(path)
        return original(text, path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "load_prompt", counted)
    with RepoSession.open(broken_repo) as ws:
        data = tree_data(ws)
    assert sorted(data.broken) == sorted(BROKEN)
    assert data.states["aaa_yaml"] is WorkingState.CLEAN  # its working copy is the committed one
    assert parsed == [f"prompts/{name}.yaml" for name in BROKEN if name != "aac_binary"] + [f"prompts/{FIRST_VALID}.yaml"]
