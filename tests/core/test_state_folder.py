"""`.workbench/` keeps Git out with a `.gitignore` of its own, written only where nothing is."""

from __future__ import annotations

import os
from pathlib import Path

from workbench.core.state_folder import make_store_folder


def test_the_state_folder_ignores_itself_once(tmp_path: Path) -> None:
    make_store_folder(tmp_path / ".workbench" / "events")
    ignore = tmp_path / ".workbench" / ".gitignore"
    assert ignore.read_text().splitlines()[-1] == "*"
    ignore.write_text("results.sqlite\n")  # the user's own: kept
    make_store_folder(tmp_path / ".workbench")
    assert ignore.read_text() == "results.sqlite\n"


def test_a_link_planted_in_its_place_is_never_written_through(tmp_path: Path) -> None:
    state = tmp_path / "repo" / ".workbench"
    state.mkdir(parents=True)
    target = tmp_path / "outside"
    os.symlink(target, state / ".gitignore")  # dangling: a plain write would create `outside`
    make_store_folder(state)
    assert not target.exists()
    assert state.is_dir()


def test_a_folder_outside_any_state_folder_gets_no_ignore_file(tmp_path: Path) -> None:
    make_store_folder(tmp_path / "elsewhere")
    assert list((tmp_path / "elsewhere").iterdir()) == []
