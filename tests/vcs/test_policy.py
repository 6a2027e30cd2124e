"""Guarded environments: each rule blocks and then allows, overrides are recorded, rollbacks pass,
approvals by the promoter do not count, and everything travels between clones."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from vcs_helpers import SUMMARIZE, commit_all, run_git, write

from workbench.errors import PolicyError, WorkbenchError
from workbench.services import approvals, deployment_events, deployments, sync, test_results
from workbench.services.session import RepoSession

NAME = "support/summarize"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def guarded(repo: Path, prod: str) -> None:
    write(repo, "workbench.yaml", f"environments:\n  - dev\n  - staging\n  - name: prod\n{prod}")
    commit_all(repo, "Guard prod")


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def session_on(repo: Path, clock: Clock) -> RepoSession:
    session = RepoSession.open(repo)
    session.clock = clock
    return session


@pytest.fixture
def other_person(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run the block as another Git identity (what a second person's machine would use)."""

    def as_other() -> None:
        monkeypatch.setenv("GIT_COMMITTER_NAME", "Rita Reviewer")
        monkeypatch.setenv("GIT_COMMITTER_EMAIL", "rita@example.com")

    yield as_other  # type: ignore[misc]


def tags(repo: Path) -> list[str]:
    return run_git(repo, "tag", "-l").split()


def test_from_blocks_then_allows(repo: Path, clock: Clock) -> None:
    guarded(repo, "    from: staging\n")
    with session_on(repo, clock) as ws:
        before = tags(repo)
        with pytest.raises(PolicyError) as err:
            deployments.promote(ws, NAME, "prod", reason="ship")
        text = str(err.value)
        assert "staging has never run" in text and f"workbench promote {NAME} --env staging" in text
        assert tags(repo) == before  # nothing written, not even the release
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert plan.blocked and [c.rule for c in plan.checks] == ["from"] and plan.policy_sources
        deployments.promote(ws, NAME, "staging", reason="try it")
        clock.advance(minutes=1)
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert not plan.blocked and plan.checks[0].ok and "staging ran v1" in plan.checks[0].found
        event = deployments.execute(ws, plan, "ship")
        assert event.override == ()
        # dev has no policy: anything goes
        assert deployments.plan_promote(ws, NAME, "dev").checks == ()


def test_require_tests_blocks_until_the_latest_run_passes(repo: Path, clock: Clock) -> None:
    guarded(repo, "    require_tests: pass\n")
    head = run_git(repo, "rev-parse", "HEAD").strip()
    with session_on(repo, clock) as ws:
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert plan.blocked and plan.checks[0].found == f"no stored test run of commit {head[:10]}" and "workbench test" in plan.checks[0].fix
        test_results.record_note(ws, head, test_results.note_line(NAME, "✗ 0/1", "echo", when=T0.timestamp()))
        assert "✗ 0/1" in deployments.plan_promote(ws, NAME, "prod").checks[0].found
        with pytest.raises(PolicyError):
            deployments.promote(ws, NAME, "prod", reason="ship")
        test_results.record_note(ws, head, test_results.note_line(NAME, "✓ 1/1", "echo", when=T0.timestamp() + 60))
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert not plan.blocked and plan.checks[0].found == "latest test run ✓ 1/1"
        deployments.execute(ws, plan, "tests pass")


def test_the_test_run_that_lets_a_promotion_through_is_the_one_audit_reads(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run of the working copy (clean: HEAD's text) is stored locally but written to no git
    note. `promote` let HEAD through on it (✓ require_tests) and `audit`, which reads the notes
    that travel with the repository, flagged that very event at once: "no stored test run"."""
    from workbench.cli import run_app

    guarded(repo, "    require_tests: pass\n")
    head = run_git(repo, "rev-parse", "HEAD").strip()
    assert run_app(["-C", str(repo), "test", NAME]) == 0
    before = tags(repo)
    assert run_app(["-C", str(repo), "promote", NAME, "--env", "prod", "-m", "ship"]) == 1
    err = capsys.readouterr().err
    assert "✗ require_tests: no stored test run" in err and f"workbench test {NAME} --rev {head[:10]}" in err
    assert tags(repo) == before  # nothing written
    assert run_app(["-C", str(repo), "test", NAME, "--rev", head[:10]]) == 0
    assert run_app(["-C", str(repo), "promote", NAME, "--env", "prod", "-m", "ship"]) == 0
    assert run_app(["-C", str(repo), "audit", "--env", "prod"]) == 0


def test_soak_blocks_until_the_version_ran_long_enough(repo: Path, clock: Clock) -> None:
    guarded(repo, "    from: staging\n    soak: 1h\n")
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "staging", reason="soak it")
        clock.advance(minutes=30)
        plan = deployments.plan_promote(ws, NAME, "prod", from_env="staging")
        soak = next(c for c in plan.checks if c.rule == "soak")
        assert not soak.ok and "ran 30m in staging (needs 1h)" in soak.found and "another 30m" in soak.fix
        with pytest.raises(PolicyError, match="soak"):
            deployments.execute(ws, plan, "too early")
        clock.advance(minutes=31)
        plan = deployments.plan_promote(ws, NAME, "prod", from_env="staging")
        assert not plan.blocked
        deployments.execute(ws, plan, "soaked")


def test_soak_counts_an_unbroken_run(repo: Path, clock: Clock) -> None:
    """A version rolled back out of `from` after 40 minutes, then back for 40, has not soaked 1h."""
    guarded(repo, "    from: staging\n    soak: 1h\n")
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "staging", rev="HEAD~3", reason="old")
        clock.advance(minutes=1)
        deployments.promote(ws, NAME, "staging", reason="new")
        clock.advance(minutes=40)
        deployments.rollback(ws, NAME, "staging", reason="oops")
        clock.advance(minutes=5)
        deployments.promote(ws, NAME, "staging", reason="again")
        clock.advance(minutes=40)
        soak = next(c for c in deployments.plan_promote(ws, NAME, "prod").checks if c.rule == "soak")
        assert not soak.ok and "ran 40m in staging" in soak.found


def test_approvals_by_the_promoter_do_not_count(repo: Path, clock: Clock, other_person) -> None:  # type: ignore[no-untyped-def]
    guarded(repo, "    approvals: 1\n")
    with session_on(repo, clock) as ws:
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert plan.blocked and "0 of 1 approval(s)" in plan.checks[0].found and "workbench approve" in plan.checks[0].fix
        mine = approvals.approve(ws, NAME, "prod", reason="I like it")
        assert mine.who == "Test User <test@example.com>" and mine.tag.startswith(f"approve/prod/{NAME}/")
        check = deployments.plan_promote(ws, NAME, "prod").checks[0]
        assert not check.ok and "your own approval does not count" in check.found
        # an approval of another version, or for another environment, does not count either
        other_person()
        approvals.approve(ws, NAME, "prod", rev="HEAD~1", reason="older one")
        approvals.approve(ws, NAME, "staging", reason="wrong env")
        with pytest.raises(WorkbenchError, match="needs a reason"):
            approvals.approve(ws, NAME, "prod", reason=" ")
    # Rita's approval, then Test User promotes
    with session_on(repo, clock) as ws:
        approvals.approve(ws, NAME, "prod", reason="reviewed the diff")
    for var in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        import os

        os.environ.pop(var, None)
    with session_on(repo, clock) as ws:
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert not plan.blocked and "1 of 1 approval(s) (rita@example.com)" in plan.checks[0].found
        deployments.execute(ws, plan, "approved")
        # ...but Rita cannot promote on her own approval
        listed = approvals.approvals(ws, "prod", NAME)
        assert [a.who for a in listed].count("Rita Reviewer <rita@example.com>") == 2
    message = run_git(repo, "tag", "-l", "--format=%(contents)", listed[-1].tag)
    assert "reviewed the diff" in message and "approve support/summarize for prod" in message


def test_override_is_recorded_in_the_event(repo: Path, clock: Clock) -> None:
    guarded(repo, "    from: staging\n    approvals: 2\n")
    with session_on(repo, clock) as ws:
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert len(plan.failed_checks) == 2
        event = deployments.execute(ws, plan, "incident 42: hotfix", override=True)
        assert event.override and event.override[0].startswith("from: staging has never run")
        message = run_git(repo, "tag", "-l", "--format=%(contents)", event.tag)
        assert message.startswith("OVERRIDE: promote") and '"approvals: 0 of 2 approval(s)"' in message
    with session_on(repo, clock) as ws:  # read back from Git by a fresh session
        (current,) = deployment_events.deployments(ws, NAME, "prod")
        assert current.override == event.override and current.reason == "incident 42: hotfix"


def test_a_rollback_to_a_version_the_environment_ran_is_never_blocked(repo: Path, clock: Clock) -> None:
    guarded(repo, "    require_tests: pass\n")
    head = run_git(repo, "rev-parse", "HEAD").strip()
    older = run_git(repo, "rev-parse", "HEAD~1").strip()
    with session_on(repo, clock) as ws:
        for commit in (older, head):
            test_results.record_note(ws, commit, test_results.note_line(NAME, "✓ 1/1", "echo", when=T0.timestamp()))
        # HEAD~1 has the same prompt content as HEAD: give prod two different versions
        deployments.promote(ws, NAME, "prod", rev="HEAD~2", reason="v1", override=True)
        deployments.promote(ws, NAME, "prod", reason="v2")
        # the old version's tests now fail: a promotion of it would be blocked, a rollback is not
        plan = deployments.plan_rollback(ws, NAME, "prod")
        assert not plan.blocked and plan.checks[0].rule == "rollback" and "never blocked" in plan.checks[0].found
        event = deployments.execute(ws, plan, "v2 misbehaves")
        assert event.action == "rollback" and not event.override


def test_a_rollback_to_a_version_never_run_there_follows_the_policy(repo: Path, clock: Clock) -> None:
    guarded(repo, "    from: staging\n")
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "staging", rev="HEAD~3", reason="v1")
        deployments.promote(ws, NAME, "prod", rev="HEAD~3", reason="v1")
        deployments.promote(ws, NAME, "staging", reason="v2")
        deployments.promote(ws, NAME, "prod", reason="v2")
        plan = deployments.plan_rollback(ws, NAME, "prod", to="HEAD~2")
        assert plan.blocked and plan.checks[0].rule == "from"


def test_a_policy_on_main_cannot_be_dodged_by_a_branch_that_drops_it(repo: Path, clock: Clock) -> None:
    guarded(repo, "    approvals: 1\n")
    run_git(repo, "switch", "-q", "-c", "loose")
    write(repo, "workbench.yaml", "environments: [dev, staging, prod]\n")
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "loose"))
    commit_all(repo, "Drop the guard")
    with session_on(repo, clock) as ws:
        assert ws.config.policies == {}
        plan = deployments.plan_promote(ws, NAME, "prod")
        assert plan.blocked and plan.policy_sources == ("main " + run_git(repo, "rev-parse", "--short=7", "main").strip(),)


def test_approvals_and_events_travel_between_clones(tmp_path: Path, repo: Path, clock: Clock, other_person) -> None:  # type: ignore[no-untyped-def]
    guarded(repo, "    from: staging\n    approvals: 1\n")
    remote = tmp_path / "remote.git"
    run_git(tmp_path, "clone", "-q", "--bare", str(repo), str(remote))
    run_git(repo, "remote", "add", "origin", str(remote))
    second = tmp_path / "second"
    run_git(tmp_path, "clone", "-q", str(remote), str(second))
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "staging", reason="stage it")
        assert sync.push(ws).ok
    other_person()
    clock.advance(minutes=5)
    with session_on(second, clock) as other:
        assert sync.fetch(other).ok
        staged = deployment_events.current_event(other, NAME, "staging")
        assert staged is not None and staged.version == f"{NAME}@v1"
        approval = approvals.approve(other, NAME, "prod", rev=f"{NAME}@v1", reason="looks right")
        assert sync.push(other).ok
    import os

    for var in ("GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        os.environ.pop(var, None)
    with session_on(repo, clock) as ws:
        assert sync.fetch(ws).ok
        (seen,) = approvals.approvals(ws, "prod", NAME)
        assert seen.tag == approval.tag and seen.who == "Rita Reviewer <rita@example.com>" and seen.reason == "looks right"
        plan = deployments.plan_promote(ws, NAME, "prod", from_env="staging")
        assert not plan.blocked, plan.checks
        deployments.execute(ws, plan, "approved by Rita")
