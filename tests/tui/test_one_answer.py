"""One answer per question in one repository state, whichever front end asks: the test result
that counts for a version, the rollback targets, what runs while the monitor judges it.

Each case builds real repositories (`test_parity.build`) and asks the app (Pilot), the CLI and
the services.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from test_parity import NAME, PROMPT, build, deploy, drive, git, outcome, press

from workbench.services import deployments
from workbench.services.session import RepoSession
from workbench.tui.app import WorkbenchApp


def commit_file(root: Path, path: str, text: str, message: str, date: str = "2026-01-04T12:00:00Z") -> str:
    (root / path).parent.mkdir(parents=True, exist_ok=True)
    (root / path).write_text(text)
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=root, check=True, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in its own process (an async test runs an event loop already)."""
    return subprocess.run([sys.executable, "-m", "workbench", "-C", str(root), *args], capture_output=True, text=True)


GUARD = "environments:\n  - dev\n  - staging\n  - name: prod\n    require_tests: pass\n"


async def test_a_working_copy_run_counts_nowhere_and_the_plan_says_so(tmp_path: Path) -> None:
    """A run of the working copy (clean: HEAD's text) stays in the local store. The promote plan
    showed `tests ✓ 1/1` beside `✗ require_tests: no stored test run of commit X`, and an event
    recorded `tests: ✓ 1/1` that no clone (nor `audit`) could find on the commit."""
    root = tmp_path / "repo"
    version = build(root)[-1]  # what HEAD names of the prompt (the guard's commit leaves it as is)
    head = commit_file(root, "workbench.yaml", GUARD, "guard prod")
    assert cli(root, "test", NAME).returncode == 0
    shown: list[str] = []

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        await press(pilot, "p")
        envs = [env for env, _ in getattr(app.screen, "_options", [])]
        await press(pilot, *["down"] * envs.index("prod"), "enter")
        shown.append(str(getattr(app.screen, "_title", "")) + "\n" + getattr(app.screen, "_body", "").plain)
        await press(pilot, "escape")

    await drive(root, keys)
    body = shown[0]
    assert "BLOCKED" in body and "✗ require_tests: no stored test run of commit" in body
    assert "tests ✓" not in body and "no test run recorded on this version" in body
    assert f"a local run ✓ 1/1 (of the working copy, a shard or --rerun-failed) is not on the commit: no run is recorded on {version[:7]}" in body
    with RepoSession.open(root) as session:
        plan = deployments.plan_promote(session, NAME, "staging")
        assert plan.tests is None and plan.tests_aside is not None
        event = deployments.execute(session, plan, "try it")
    assert event.tests is None  # what the event says of its tests is what travels with it
    assert cli(root, "test", NAME, "--rev", head[:10]).returncode == 0
    with RepoSession.open(root) as session:
        plan = deployments.plan_promote(session, NAME, "prod")
        assert plan.tests == "✓ 1/1" and plan.tests_aside is None and not plan.blocked
        assert deployments.execute(session, plan, "ship").tests == "✓ 1/1"
    assert cli(root, "audit").returncode == 0


SUITE = """\
- description: echoes the ticket
  vars: {ticket: refund please}
  assert: [{type: icontains, value: refund}]
"""
STRICTER = SUITE + """\
- description: says sorry
  vars: {ticket: refund please}
  assert: [{type: icontains, value: sorry}]
"""


async def test_a_stored_result_counts_only_for_the_same_suite(tmp_path: Path) -> None:
    """The results' key covered the prompt file and its partials, not the tests file it reads
    with `tests: file://`: History showed the run of the first suite (✓ 1/1) on the commit that
    made the suite stricter (where it fails 1 of 2), and the working copy's run on both."""
    from workbench.services import test_results
    from workbench.tui.panes.history import HistoryPane

    root = tmp_path / "repo"
    build(root)
    prompt = PROMPT.replace("TONE", "warm").split("tests:")[0] + "tests: file://summarize.tests.yaml\n"
    (root / "prompts/support/summarize.tests.yaml").write_text(SUITE)
    first = commit_file(root, "prompts/support/summarize.yaml", prompt, "suite in a file")
    assert cli(root, "test", NAME, "--rev", "HEAD").returncode == 0
    stricter = commit_file(root, "prompts/support/summarize.tests.yaml", STRICTER, "a stricter suite", date="2026-01-05T12:00:00Z")
    shown: list[dict[str, str | None]] = []

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        shown.append({row.rev: row.tests for row in app.query_one(HistoryPane).entries if row.rev})

    await drive(root, keys)
    assert shown[0][first] == "✓ 1/1" and not shown[0][stricter]
    assert cli(root, "test", NAME).returncode == 1  # the working copy: the stricter suite, 1 of 2
    await drive(root, keys)
    assert shown[1][first] == "✓ 1/1" and shown[1][stricter] == "✗ 1/2 local"  # not recorded on the commit
    with RepoSession.open(root) as session:
        marks = test_results.history_marks(session, NAME, [first, stricter])
    assert {c: m.label for c, m in marks.items()} == {first: "✓ 1/1", stricter: "✗ 1/2 local"}


async def test_history_tells_a_local_run_from_one_recorded_on_the_commit(tmp_path: Path) -> None:
    """A run of the working copy (its content then committed, or HEAD's) is in the local store
    only: History showed its `✓ 1/1` on the commit exactly as a run recorded there (on the note
    that `require_tests` and `audit` read). The app and `workbench log` show it apart now."""
    import json

    from workbench.services import test_results
    from workbench.tui.panes.history import HistoryPane

    root = tmp_path / "repo"
    commits = build(root)
    assert cli(root, "test", NAME).returncode == 0  # the working copy: HEAD's text
    assert cli(root, "test", NAME, "--rev", commits[1][:10]).returncode == 0  # recorded on the commit
    shown: list[dict[str, str | None]] = []

    async def marks(app: WorkbenchApp, pilot: Any) -> None:
        shown.append({row.rev: row.tests for row in app.query_one(HistoryPane).entries if row.rev})

    await drive(root, marks)
    assert shown[0] == {commits[2]: "✓ 1/1 local", commits[1]: "✓ 1/1", commits[0]: None}
    with RepoSession.open(root) as session:
        found = test_results.history_marks(session, NAME, commits)
    assert {c: (m.summary, m.recorded) for c, m in found.items()} == {commits[2]: ("✓ 1/1", False), commits[1]: ("✓ 1/1", True)}
    result = cli(root, "log", NAME)
    lines = {line.split()[0]: line for line in result.stdout.splitlines()}
    assert "✓ 1/1 local" in lines[commits[2][:10]] and "✓ 1/1" in lines[commits[1][:10]] and "local" not in lines[commits[1][:10]]
    assert "✓" not in lines[commits[0][:10]]
    entries = {e["commit"]["sha"]: e["tests"] for e in json.loads(cli(root, "log", NAME, "--json").stdout)}
    assert entries == {commits[2]: {"summary": "✓ 1/1", "recorded": False}, commits[1]: {"summary": "✓ 1/1", "recorded": True}, commits[0]: None}


def canary_only(root: Path) -> None:
    """prod ran v1, served v2 to 10% of keys, went back to v1 (the split ended), then ran v3."""
    deploy(root, [("prod", "promote", 0, None), ("prod", "promote", 1, 10.0)])
    with RepoSession.open(root) as session:
        deployments.rollback(session, NAME, "prod", reason="the canary misbehaved")
    deploy(root, [("prod", "promote", 2, None)])


async def test_a_version_prod_ran_only_as_a_canary_is_a_rollback_target_in_both(tmp_path: Path) -> None:
    """`rollback --to v2` rolls back to a version prod only ran as a canary (its policy applies);
    the app, with v2 selected in History, offered only the previous version: `has_run` leaves
    splits out. Both follow one rule now, and the plan says what kind of rollback it is."""
    commits = build(tmp_path / "cli")
    assert build(tmp_path / "app") == commits
    for root in (tmp_path / "cli", tmp_path / "app"):
        canary_only(root)
    result = cli(tmp_path / "cli", "rollback", NAME, "--env", "prod", "--to", "v2", "-m", "v2 after all")
    assert result.returncode == 0, result.stderr
    shown: list[str] = []

    async def keys(app: WorkbenchApp, pilot: Any) -> None:
        app.selected_rev = commits[1]
        await press(pilot, "R", "enter")
        shown.append(str(getattr(app.screen, "_options", "")))
        await press(pilot, "2")
        shown.append(getattr(app.screen, "_body", "").plain)
        await press(pilot, *"v2 after all", "enter", "y")

    await drive(tmp_path / "app", keys)
    assert "the selected version: support/summarize@v2 (prod ran v2 only as a canary" in shown[0]
    assert "prod ran v2 only as a canary: this rollback follows the policy of prod like a promotion" in shown[1]
    assert outcome(tmp_path / "cli") == outcome(tmp_path / "app")
    assert outcome(tmp_path / "app")[:3] == ("rollback", f"{NAME}@v2", commits[1])


def test_the_cli_says_what_kind_of_rollback_it_wrote(tmp_path: Path) -> None:
    """The plan's note ("prod ran v2 only as a canary: this rollback follows the policy of prod
    like a promotion") was shown by the app alone: the CLI printed the event and its checks."""
    build(tmp_path / "cli")
    canary_only(tmp_path / "cli")
    result = cli(tmp_path / "cli", "rollback", NAME, "--env", "prod", "--to", "v2", "-m", "v2 after all")
    assert result.returncode == 0, result.stderr
    assert "prod ran v2 only as a canary: this rollback follows the policy of prod like a promotion" in result.stdout


def test_the_rollback_choices_are_one_answer_of_the_services(tmp_path: Path) -> None:
    """Which versions a rollback offers (the previous one; the selected one if prod served it,
    in full or as a canary, and serves it no more) was decided in the app's controller: the
    Python API could not ask it. One services function answers it, for any caller."""
    commits = build(tmp_path / "repo")
    canary_only(tmp_path / "repo")  # prod ran v1, v2 only as a canary, now v3
    with RepoSession.open(tmp_path / "repo") as session:
        previous, selected = deployments.rollback_choices(session, NAME, "prod", commits[1])
        assert (previous.version, previous.served_before) == (f"{NAME}@v1", "in full")
        assert selected is not None and (selected.version, selected.served_before) == (f"{NAME}@v2", "as a canary")
        assert deployments.rollback_choices(session, NAME, "prod", commits[2])[1] is None  # what runs now
        assert deployments.rollback_choices(session, NAME, "prod", commits[0])[1] is None  # the previous one: offered once
        assert deployments.rollback_choices(session, NAME, "prod", None)[1] is None


def test_a_rollback_plan_lists_the_environment_s_events_once(tmp_path: Path) -> None:
    """The plan listed prod's deployment tags up to four times (what runs now, whether prod ran
    the target in full, as a canary, and again for the policy): one listing answers them all."""
    commits = build(tmp_path / "repo")
    canary_only(tmp_path / "repo")
    with RepoSession.open(tmp_path / "repo") as session:
        listed: list[str] = []
        ref_names = session.store.ref_names

        def counting(pattern: str, *args: Any, **kwargs: Any) -> Any:
            listed.append(pattern)
            return ref_names(pattern, *args, **kwargs)

        session.store.ref_names = counting  # type: ignore[method-assign]
        plan = deployments.plan_rollback(session, NAME, "prod", commits[1])
    assert plan.served_before == "as a canary"
    assert len([p for p in listed if p.startswith("refs/tags/deploy/prod/")]) == 1, listed
