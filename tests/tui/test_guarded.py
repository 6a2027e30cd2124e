"""Guarded environments in the app: the rules before confirming, overrides, approvals, read-only mode."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tui_helpers import clock, commit, dialog, open_review, select, settle

from workbench.services import approvals, deployment_events, deployments
from workbench.services.session import RepoSession
from workbench.tui.app import make_app
from workbench.tui.panes.history import HistoryPane


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def guarded_repo(app_repo: Path) -> Path:
    (app_repo / "workbench.yaml").write_text(
        "model: {provider: echo}\nenvironments:\n  - dev\n  - staging\n  - name: prod\n    from: staging\n    approvals: 1\n"
    )
    commit(app_repo, "Guard prod", "2026-01-12T10:00:00Z")
    return app_repo


def dialog_text(app) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(str(w.render()) for w in app.screen.query("Static"))


async def test_promote_shows_the_rules_and_a_blocked_plan_needs_an_override(guarded_repo: Path) -> None:
    app = make_app(guarded_repo, clock=clock)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("p")
        await dialog(pilot, "ChoiceScreen")
        await pilot.press("end", "enter")  # prod, the last environment
        await settle(pilot)
        text = dialog_text(app)
        assert "BLOCKED by policy" in text and "Policy of prod" in text
        assert "✗ from: staging has never run" in text and "✗ approvals: 0 of 1 approval(s)" in text
        assert "to satisfy it: promote it to staging first" in text and "emergency override" in text
        await pilot.press(*"incident 12", "enter")
        await pilot.pause()
        assert "OVERRIDES the policy of prod" in dialog_text(app)
        await pilot.press("y")
        await settle(pilot)
    with RepoSession.open(guarded_repo) as ws:
        event = deployment_events.current_event(ws, "support/summarize", "prod")
        assert event is not None and event.reason == "incident 12" and len(event.override) == 2


async def test_environments_view_shows_the_rules_and_approves(guarded_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with RepoSession.open(guarded_repo) as ws:
        deployments.promote(ws, "support/summarize", "staging", reason="stage")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Rita Reviewer")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "rita@example.com")
    app = make_app(guarded_repo, clock=clock)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        assert screen.__class__.__name__ == "EnvironmentsScreen"
        text = dialog_text(app)
        assert "Guarded:" in text and "prod: from staging: only versions staging has run" in text
        row = [r.name for r in screen.status.rows].index("support/summarize")  # type: ignore[attr-defined]
        screen.query_one("DataTable").move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("a")
        await settle(pilot)
        text = dialog_text(app)
        assert "Approve support/summarize v1 for prod" in text and "✓ from: staging ran v1" in text
        await pilot.press(*"diff reviewed", "enter")
        await settle(pilot)
    with RepoSession.open(guarded_repo) as ws:
        (approval,) = approvals.approvals(ws, "prod", "support/summarize")
        assert approval.who == "Rita Reviewer <rita@example.com>" and approval.reason == "diff reviewed"
        assert approval.version == "support/summarize@v1"


def _branch_with_a_change(repo: Path) -> str:
    """A `feature/x` branch with one commit changing support/summarize (its head), then back on main."""
    git(repo, "switch", "-qc", "feature/x")
    path = repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("two short", "three short"))
    git(repo, "commit", "-qam", "Back to three")
    head = git(repo, "rev-parse", "HEAD").strip()
    git(repo, "switch", "-q", "main")
    return head


async def test_review_view_approves_the_branch_version(guarded_repo: Path) -> None:
    head = _branch_with_a_change(guarded_repo)
    app = make_app(guarded_repo, clock=clock)
    async with app.run_test(size=(150, 50)) as pilot:
        await open_review(pilot)
        await pilot.press("a")
        await dialog(pilot, "ChoiceScreen")
        await pilot.press("enter")  # the default: prod, the environment that needs approvals
        await settle(pilot)
        await pilot.press(*"looks right", "enter")
        await settle(pilot)
    with RepoSession.open(guarded_repo) as ws:
        (approval,) = approvals.approvals(ws, "prod", "support/summarize")
        assert approval.commit == head and approval.reason == "looks right"


async def test_a_read_only_app_refuses_every_write_with_a_notice(guarded_repo: Path) -> None:
    with RepoSession.open(guarded_repo) as ws:
        deployments.promote(ws, "support/summarize", "staging", reason="stage")
    tags_before = git(guarded_repo, "tag", "-l")
    head_before = git(guarded_repo, "rev-parse", "HEAD")
    app = make_app(guarded_repo, clock=clock, read_only=True)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        assert "READ-ONLY" in str(app.query_one("#status-bar").render())
        for key in ("p", "R", "c", "r", "t", "P", "f", "e"):
            await pilot.press(key)
            await settle(pilot)
            assert app.screen is app.screen_stack[0], key  # no dialog opened
        notices = [str(n.message) for n in app._notifications]
        assert any(n.startswith("read-only: promote would change the repository") for n in notices), notices
        assert all("ui --read-only" in n for n in notices if n.startswith("read-only:")), notices  # not only `serve`
        assert any("read-only: run tests" in n for n in notices) and any("read-only: push" in n for n in notices)
        # The flows that write from inside a view are refused too (approve and promote from the environments view)
        await pilot.press("w")
        await settle(pilot)
        screen = app.screen
        row = [r.name for r in screen.status.rows].index("support/summarize")  # type: ignore[attr-defined]
        screen.query_one("DataTable").move_cursor(row=row)  # type: ignore[attr-defined]
        await pilot.press("a")
        await settle(pilot)
        assert any("read-only: approving" in str(n.message) for n in app._notifications)
        assert app.session is not None and app.session.store.read_only
    assert git(guarded_repo, "tag", "-l") == tags_before and git(guarded_repo, "rev-parse", "HEAD") == head_before
    assert not (guarded_repo / ".workbench" / "results.sqlite").exists()


def test_the_git_layer_refuses_writes_in_a_read_only_session(guarded_repo: Path) -> None:
    from workbench.errors import RepoError

    with RepoSession.open(guarded_repo) as ws:
        ws.store.read_only = True
        with pytest.raises(RepoError, match="read-only"):
            approvals.approve(ws, "support/summarize", "prod", reason="x")
        with pytest.raises(RepoError, match="read-only"):
            ws.store.create_branch("nope", "HEAD")
        assert ws.store.branches()  # reading still works


async def test_a_read_only_app_writes_nothing_while_it_opens(guarded_repo: Path) -> None:
    """Not even the verdict of `workbench.yaml` (written by a session's opening when there is
    none yet): the app opens its session read-only from the start."""
    from repo_state import changes, tree_state

    (guarded_repo / "workbench.yaml").touch()  # a changed file: its old verdict does not count
    before = tree_state(guarded_repo)
    app = make_app(guarded_repo, clock=clock, read_only=True)
    async with app.run_test(size=(150, 50)) as pilot:
        await settle(pilot)
        assert app.query_one(HistoryPane).row_count >= 1
    assert changes(before, tree_state(guarded_repo)) == []


async def test_a_read_only_review_refuses_approving_before_asking_anything(guarded_repo: Path) -> None:
    _branch_with_a_change(guarded_repo)
    app = make_app(guarded_repo, clock=clock, read_only=True)
    async with app.run_test(size=(150, 50)) as pilot:
        await open_review(pilot)
        await pilot.press("a")
        await settle(pilot)
        assert app.screen is app.screen_stack[0]  # no "approve for which environment?" first
        assert any("read-only: approving" in str(n.message) for n in app._notifications)
