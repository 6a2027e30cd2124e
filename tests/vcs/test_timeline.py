"""The repository timeline (`workbench timeline`) and the all-branches history with its graph."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from vcs_helpers import SUMMARIZE, run_git, write

from workbench.cli import run_app
from workbench.services import deployment_events, deployments, releases
from workbench.services.history import branch_history
from workbench.services.session import RepoSession
from workbench.services.timeline import timeline


def _dated_commit(root: Path, message: str, date: str) -> None:
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=root, check=True, env=env)


@pytest.fixture
def merged(repo: Path) -> Path:
    """`repo` plus a feature branch that changed summarize and was merged into main."""
    run_git(repo, "switch", "-qc", "feature/tone")
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "warm"))
    _dated_commit(repo, "Warm tone", "2026-01-02T10:00:00Z")
    run_git(repo, "switch", "-q", "main")
    write(repo, "notes.txt", "unrelated\n")
    _dated_commit(repo, "Unrelated", "2026-01-03T10:00:00Z")
    env = dict(os.environ, GIT_AUTHOR_DATE="2026-01-04T10:00:00Z", GIT_COMMITTER_DATE="2026-01-04T10:00:00Z")
    subprocess.run(["git", "merge", "-q", "--no-ff", "feature/tone", "-m", "Merge feature/tone"], cwd=repo, check=True, env=env)
    return repo


def test_releases_made_in_one_second_list_the_later_first(repo: Path, ws: RepoSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tag dates have whole seconds: releases made in one second were listed oldest first, and
    the order flipped whenever making them crossed a second (a flaky snapshot)."""
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2026-01-05T10:00:00Z")
    for rev in ("HEAD~2", "HEAD~1", "HEAD"):
        releases.tag_release(ws, "support/summarize", rev)
    assert [e.version for e in timeline(ws) if e.kind == "release"] == [f"support/summarize@v{n}" for n in (3, 2, 1)]


def test_timeline_lists_every_kind_newest_first_and_filters(repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str]) -> None:
    deployments.promote(ws, "support/summarize", "staging", rev="HEAD~2", reason="first")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="ship")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="calmer")
    deployments.rollback(ws, "support/summarize", "prod", reason="too calm")
    releases.tag_release(ws, "greeting")
    found = timeline(ws)
    kinds = [e.kind for e in found]
    assert kinds.count("release") == 3 and kinds.count("promote") == 3 and kinds.count("rollback") == 1
    assert [e.kind for e in timeline(ws, env="prod")] == ["rollback", "promote", "promote"]
    assert {e.prompt for e in timeline(ws, prompt="greeting")} == {"greeting"}
    rollback = timeline(ws, env="prod")[0]
    assert rollback.version == "support/summarize@v1" and rollback.previous_version == "support/summarize@v2" and rollback.why == "too calm"
    assert run_app(["-C", str(repo), "timeline", "--env", "prod", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [e["kind"] for e in data] == ["rollback", "promote", "promote"] and data[0]["env"] == "prod"
    assert run_app(["-C", str(repo), "timeline", "--since", "1h"]) == 0
    assert "rollback" in capsys.readouterr().out
    assert run_app(["-C", str(repo), "timeline", "--since", "soon"]) == 2


def test_events_written_by_a_clock_that_is_behind_keep_the_order_that_decides_what_runs(
    repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str]
) -> None:
    """A rollback written on a clone whose clock is two hours behind sorts after the events it
    saw (its sequence), and is what prod runs; the timeline listed it oldest (by the message's
    `when`), so its first prod row named a version prod no longer ran."""
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="ship")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="calmer")
    real = ws.clock
    ws.clock = lambda: real() - timedelta(hours=2)
    rolled = deployments.rollback(ws, "support/summarize", "prod", reason="too calm")
    newest = deployment_events.deployments(ws, "support/summarize", "prod")[0]
    assert newest.tag == rolled.tag == deployment_events.current_event(ws, "support/summarize", "prod").tag  # type: ignore[union-attr]
    assert timeline(ws, env="prod")[0].tag == rolled.tag
    assert run_app(["-C", str(repo), "timeline", "--env", "prod", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)[0]
    assert (first["kind"], first["version"]) == ("rollback", "support/summarize@v1")


def test_timeline_shows_merges_to_main_that_changed_prompts(merged: Path) -> None:
    with RepoSession.open(merged) as ws:
        merges = [e for e in timeline(ws) if e.kind == "merge"]
        assert [(e.why, e.prompts) for e in merges] == [("Merge feature/tone", ("support/summarize",))]
        assert not [e for e in timeline(ws, prompt="greeting") if e.kind == "merge"]
        assert not [e for e in timeline(ws, since="1h") if e.kind == "merge"]  # merged on 2026-01-04

def test_branch_history_draws_the_fork_and_the_merge(merged: Path) -> None:
    with RepoSession.open(merged) as ws:
        history = branch_history(ws, "support/summarize")
    subjects = [e.commit.subject for e in history.entries]
    assert subjects[:2] == ["Merge feature/tone", "Warm tone"] and "Unrelated" not in subjects
    assert [row.cells for row in history.graph][:3] == ["◎ ╮", "│ ●", "● ╯"]
    heads = {name: sha for sha, names in history.heads.items() for name in names}
    assert heads["main"] == history.entries[0].commit.sha and heads["feature/tone"] == history.entries[1].commit.sha
