"""A shallow clone (CI's `fetch-depth: 1`, a quick `--depth` clone) holds only the newest
commits: a prompt's history ended at the boundary and read as complete, its oldest commit shown
as the one that added the prompt. `log`, the Python API and the app's History say it is cut."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_parity import NAME, build, drive, git

from workbench.cli.common import run_app
from workbench.services import history
from workbench.services.session import RepoSession
from workbench.tui.app import WorkbenchApp
from workbench.tui.panes.history import HistoryPane


def shallow_clone(tmp_path: Path, depth: int) -> tuple[Path, list[str]]:
    commits = build(tmp_path / "full")
    clone = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", str(depth), (tmp_path / "full").as_uri(), str(clone))
    return clone, commits


def test_log_says_where_a_shallow_clone_cuts_a_prompt_s_history(tmp_path: Path, capsys: Any) -> None:
    clone, commits = shallow_clone(tmp_path, depth=2)
    with RepoSession.open(clone) as session:
        entries = history.history(session, NAME)
        assert [e.commit.sha for e in entries] == [commits[2], commits[1]]
        cut = history.cut_short(session, entries)
    assert cut is not None and commits[1][:10] in cut and "git fetch --unshallow" in cut
    assert run_app(["-C", str(clone), "log", NAME]) == 0
    out = capsys.readouterr().out
    assert "shallow clone" in out and commits[1][:10] in out
    assert run_app(["-C", str(clone), "log", NAME, "--json"]) == 0  # the JSON stays a list; the note goes to stderr
    captured = capsys.readouterr()
    assert len(json.loads(captured.out)) == 2 and "shallow clone" in captured.err


def test_only_a_shallow_clone_s_history_says_it_is_cut(tmp_path: Path, capsys: Any) -> None:
    clone, _ = shallow_clone(tmp_path, depth=3)  # the commit that added the prompt is the boundary: what came before is unknown
    with RepoSession.open(clone) as session:
        assert history.cut_short(session, history.history(session, NAME)) is not None
    full = tmp_path / "full"
    with RepoSession.open(full) as session:
        assert history.cut_short(session, history.history(session, NAME)) is None
    assert run_app(["-C", str(full), "log", NAME]) == 0
    assert "shallow" not in capsys.readouterr().out


async def test_the_app_s_history_says_it_is_cut(tmp_path: Path) -> None:
    clone, commits = shallow_clone(tmp_path, depth=2)
    shown: list[str] = []

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        pane = app.query_one(HistoryPane)
        shown.append(str(pane.border_subtitle or ""))

    await drive(clone, keys)
    assert "shallow clone" in shown[0] and commits[1][:10] in shown[0], shown
