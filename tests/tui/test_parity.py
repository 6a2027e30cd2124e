"""The app and the CLI decide the same: each flow that exists in both, run once through each on
two identical repositories, leaves the same outcome in the repository.

Among them the on-call case that once diverged: prod runs v2 with a 10% canary of v3, and a
rollback must end the split and stay on v2 (not go back to v1) from the app as from the CLI.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from tui_helpers import clock, select, settle, shown_errors

from workbench.cli.common import run_app
from workbench.services import deployment_events, deployments, releases
from workbench.services.session import RepoSession
from workbench.tui.app import WorkbenchApp, make_app

NAME = "support/summarize"
PROMPT = """\
description: Summarise a support ticket
model: {provider: echo}
inputs:
  ticket: {type: string, required: true}
messages:
  - role: system
    content: You summarise support tickets in a TONE tone.
  - role: user
    content: "Ticket: {{ ticket }}"
tests:
  - description: echoes the ticket
    vars: {ticket: refund please}
    assert: [{type: icontains, value: refund}]
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def build(root: Path) -> list[str]:
    """Three versions of one prompt at fixed dates: both copies get the same commit ids."""
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    (root / ".gitignore").write_text(".workbench/\n")
    commits = []
    for day, tone in enumerate(("neutral", "calm", "warm"), 1):
        path = root / "prompts" / "support" / "summarize.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(PROMPT.replace("TONE", tone))
        date = f"2026-01-0{day}T12:00:00Z"
        env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(["git", "commit", "-qm", f"{tone} tone"], cwd=root, check=True, env=env)
        commits.append(git(root, "rev-parse", "HEAD").strip())
    return commits


def deploy(root: Path, steps: list[tuple[str, str, int, float | None]]) -> None:
    """(env, action, version index, split %) in order, through the services."""
    commits = [git(root, "rev-list", "--reverse", "HEAD").split()[i] for i in range(3)]
    with RepoSession.open(root) as session:
        for index, commit in enumerate(commits):
            releases.ensure_release(session, NAME, commit, f"v{index + 1}")
        for env, action, version, split in steps:
            if action == "promote":
                deployments.promote(session, NAME, env, commits[version], "setup", split_percent=split)


def outcome(root: Path, env: str = "prod") -> tuple[Any, ...]:
    with RepoSession.open(root) as session:
        event = deployment_events.current_event(session, NAME, env)
    assert event is not None
    return (event.action, event.version, event.commit, event.canary.version if event.canary else None, event.reason)


async def drive(root: Path, keys: Callable[[WorkbenchApp, Any], Awaitable[None]]) -> None:
    app = make_app(root, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, NAME)
        await keys(app, pilot)
        await settle(pilot)


async def press(pilot: Any, *keys: str) -> None:
    for key in keys:
        await pilot.press(key)
        await settle(pilot)


@pytest.fixture
def twins(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    commits = build(tmp_path / "cli")
    assert build(tmp_path / "app") == commits
    return tmp_path / "cli", tmp_path / "app", commits


SETUPS = {
    "three versions": [("prod", "promote", 0, None), ("prod", "promote", 1, None), ("prod", "promote", 2, None)],
    "canary running": [("prod", "promote", 0, None), ("prod", "promote", 1, None), ("prod", "promote", 2, 10.0)],
}


@pytest.mark.parametrize("setup", list(SETUPS))
async def test_rollback_goes_to_the_same_version(twins: tuple[Path, Path, list[str]], setup: str) -> None:
    cli, app_root, commits = twins
    for root in (cli, app_root):
        deploy(root, SETUPS[setup])
    assert run_app(["-C", str(cli), "rollback", NAME, "--env", "prod", "-m", "on call"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "R", "enter", *"on call", "enter", "y")

    await drive(app_root, keys)
    assert outcome(cli) == outcome(app_root)
    assert outcome(cli)[:4] == ("rollback", f"{NAME}@v2", commits[1], None)  # a split ends on the stable v2


async def test_rollback_to_a_named_version(twins: tuple[Path, Path, list[str]]) -> None:
    cli, app_root, commits = twins
    for root in (cli, app_root):
        deploy(root, SETUPS["three versions"])
    assert run_app(["-C", str(cli), "rollback", NAME, "--env", "prod", "--to", "v1", "-m", "back to the start"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        app.selected_rev = commits[0]
        await press(pilot, "R", "enter", "2", *"back to the start", "enter", "y")

    await drive(app_root, keys)
    assert outcome(cli) == outcome(app_root)
    assert outcome(cli)[1:3] == (f"{NAME}@v1", commits[0])


async def test_promote_from_another_environment(twins: tuple[Path, Path, list[str]]) -> None:
    cli, app_root, commits = twins
    steps = [("prod", "promote", 0, None), ("staging", "promote", 2, None)]
    for root in (cli, app_root):
        deploy(root, steps)
    assert run_app(["-C", str(cli), "promote", NAME, "--env", "prod", "--from", "staging", "-m", "staging is good"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "w")
        table = app.screen.query_one("DataTable")
        table.move_cursor(row=[r.name for r in app.screen.status.rows].index(NAME))  # type: ignore[attr-defined]
        await press(pilot, "p", *"staging is good", "enter", "y")

    await drive(app_root, keys)
    assert outcome(cli) == outcome(app_root)
    assert outcome(cli)[:3] == ("promote", f"{NAME}@v3", commits[2])


async def test_finish_a_split(twins: tuple[Path, Path, list[str]]) -> None:
    cli, app_root, commits = twins
    for root in (cli, app_root):
        deploy(root, SETUPS["canary running"])
    assert run_app(["-C", str(cli), "promote", NAME, "--env", "prod", "--finish", "-m", "canary is healthy"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "F", "enter", *"canary is healthy", "enter", "y")

    await drive(app_root, keys)
    assert outcome(cli) == outcome(app_root)
    assert outcome(cli)[:4] == ("finish", f"{NAME}@v3", commits[2], None)


async def test_start_a_split(twins: tuple[Path, Path, list[str]]) -> None:
    cli, app_root, commits = twins
    for root in (cli, app_root):
        deploy(root, [("prod", "promote", 1, None)])
    assert run_app(["-C", str(cli), "promote", NAME, "--env", "prod", "--split", "10", "-m", "try v3"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "S", "enter", "1", *"try v3", "enter", "y")

    await drive(app_root, keys)
    assert outcome(cli) == outcome(app_root)
    assert outcome(cli)[:4] == ("split", f"{NAME}@v2", commits[1], f"{NAME}@v3")


async def test_release_tag(twins: tuple[Path, Path, list[str]]) -> None:
    cli, app_root, _commits = twins
    assert run_app(["-C", str(cli), "tag", NAME, "-m", "#1 first cut"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "r", *"#1 first cut", "enter")

    await drive(app_root, keys)
    listing = ["tag", "-l", "--format=%(refname:short) %(*objectname) %(contents)"]
    assert git(cli, *listing) == git(app_root, *listing)
    assert "#1 first cut" in git(cli, *listing)  # kept verbatim, not stripped as a comment


async def test_switch_with_stash(twins: tuple[Path, Path, list[str]]) -> None:
    cli, app_root, _commits = twins
    for root in (cli, app_root):
        git(root, "branch", "feature")
        (root / "prompts" / "support" / "summarize.yaml").write_text(PROMPT.replace("TONE", "brisk"))
    assert run_app(["-C", str(cli), "switch", "feature", "--stash"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "b", *"feature", "enter", "1")

    await drive(app_root, keys)
    for root in (cli, app_root):
        assert git(root, "branch", "--show-current").strip() == "feature"
        assert git(root, "status", "--porcelain") == ""
        assert "brisk" in git(root, "stash", "show", "-p")


def back_to_the_first(root: Path) -> None:
    """prod ran v1 then v2 and was rolled back to v1: no earlier version is left to go back to."""
    deploy(root, [("prod", "promote", 0, None), ("prod", "promote", 1, None)])
    with RepoSession.open(root) as session:
        deployments.rollback(session, NAME, "prod", reason="setup")


async def test_no_earlier_version_hints_how_to_pick_one_where_it_is_said(twins: tuple[Path, Path, list[str]], capsys: Any) -> None:
    """The app said "hint: name one with --to", a flag it does not have; the CLI keeps it."""
    cli, app_root, _ = twins
    for root in (cli, app_root):
        back_to_the_first(root)
    assert run_app(["-C", str(cli), "rollback", NAME, "--env", "prod", "-m", "again"]) == 2
    assert "hint: name one with --to" in capsys.readouterr().err
    shown: list[str] = []

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "R", "enter")
        shown.append(shown_errors(app))

    await drive(app_root, keys)
    assert "prod has no earlier version of support/summarize to roll back to" in shown[0]
    assert "--to" not in shown[0] and "select the version in History (2), then R" in shown[0]


async def test_no_earlier_version_rolls_back_to_the_version_selected_in_history(twins: tuple[Path, Path, list[str]]) -> None:
    """What the hint says works: a version prod ran, selected in History, is the target."""
    cli, app_root, commits = twins
    for root in (cli, app_root):
        back_to_the_first(root)
    assert run_app(["-C", str(cli), "rollback", NAME, "--env", "prod", "--to", "v2", "-m", "v2 after all"]) == 0

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        app.selected_rev = commits[1]
        await press(pilot, "R", "enter", *"v2 after all", "enter", "y")

    await drive(app_root, keys)
    assert outcome(cli) == outcome(app_root)
    assert outcome(app_root)[:3] == ("rollback", f"{NAME}@v2", commits[1])


async def test_release_of_content_already_released_names_that_release(twins: tuple[Path, Path, list[str]], capsys: Any) -> None:
    """HEAD restores v1's text: the CLI's `tag` reuses v1; the app's dialog said "Create the
    release tag support/summarize@v2", asked for a note, and then reused v1 all the same."""
    cli, app_root, commits = twins
    for root in (cli, app_root):
        with RepoSession.open(root) as session:
            releases.ensure_release(session, NAME, commits[0])
        (root / "prompts" / "support" / "summarize.yaml").write_text(PROMPT.replace("TONE", "neutral"))
        date = "2026-01-04T12:00:00Z"
        env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
        subprocess.run(["git", "commit", "-qam", "neutral again"], cwd=root, check=True, env=env)
    assert run_app(["-C", str(cli), "tag", NAME]) == 0
    said = capsys.readouterr().out
    assert "already released as support/summarize@v1" in said
    shown: list[str] = []

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "r")
        shown.append(getattr(app.screen, "_title", "") + str(getattr(app.screen, "_body", "")) + shown_errors(app))

    await drive(app_root, keys)
    assert "already released as support/summarize@v1" in shown[0] and "support/summarize@v2" not in shown[0]
    listing = ["tag", "-l", "--format=%(refname:short) %(*objectname)"]
    assert git(cli, *listing) == git(app_root, *listing)


async def test_a_running_split_is_shown_where_the_app_says_what_runs(twins: tuple[Path, Path, list[str]], capsys: Any) -> None:
    """prod runs v2 and serves v3 to 10% of keys (`status`, `PromptRepo.get`): the app's status
    bar said `prod=v2`, History marked v2 alone and the rollback's choices said "now: v2"."""
    from workbench import PromptRepo
    from workbench.tui.panes.history import HistoryPane
    from workbench.tui.status_bar import status_line

    _cli, root, commits = twins
    deploy(root, SETUPS["canary running"])
    with PromptRepo(root) as repo:
        served = {repo.get(NAME, env="prod", key=key).version for key in range(200)}
    assert served == {f"{NAME}@v2", f"{NAME}@v3"}
    assert run_app(["-C", str(root), "status"]) == 0
    assert "v2 (10% → v3)" in capsys.readouterr().out  # the label the app shows (`env_status.serving`)
    shown: dict[str, Any] = {}

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        shown["bar"] = str(status_line(app))
        shown["rows"] = {row.rev: row for row in app.query_one(HistoryPane).entries}
        await press(pilot, "R")
        shown["choices"] = str(getattr(app.screen, "_options", ""))

    await drive(root, keys)
    assert "prod=v2 (10% → v3)" in shown["bar"]
    assert shown["rows"][commits[2]].canaries == (("prod", 10.0),) and shown["rows"][commits[1]].deployments == ("prod",)
    assert "now: support/summarize@v2 (10% → support/summarize@v3)" in shown["choices"]
