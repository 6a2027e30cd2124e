"""`workbench audit` and the policy commands through the real CLI, on real repositories."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cli import cli
from test_policy import NAME, T0, Clock, guarded, session_on
from vcs_helpers import run_git, write

from workbench.services import approvals, audit, deployments


def test_promote_is_blocked_with_the_rule_and_its_fix_then_allowed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guarded(repo, "    from: staging\n")
    before = run_git(repo, "tag", "-l")
    code, out, err = cli(capsys, repo, "promote", NAME, "--env", "prod", "-m", "ship")
    assert code == 1 and out == ""
    assert "blocked by the policy of prod" in err and "✗ from: staging has never run v1" in err
    assert f"to satisfy it: promote it to staging first: workbench promote {NAME} --env staging" in err
    assert "--override -m REASON" in err
    assert run_git(repo, "tag", "-l") == before  # nothing written
    code, out, _ = cli(capsys, repo, "promote", NAME, "--env", "prod", "-m", "ship", "--json")
    assert code == 1 and json.loads(out)["blocked"] is True
    assert cli(capsys, repo, "promote", NAME, "--env", "staging", "-m", "stage")[0] == 0
    code, out, _ = cli(capsys, repo, "promote", NAME, "--env", "prod", "--from", "staging", "-m", "ship")
    assert code == 0 and "✓ from: staging ran v1" in out


def test_override_rollback_approve_and_audit_commands(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guarded(repo, "    from: staging\n    approvals: 1\n")
    code, out, _ = cli(capsys, repo, "promote", NAME, "--env", "prod", "--rev", "HEAD~3", "-m", "incident 7", "--override")
    assert code == 0 and "OVERRIDE recorded" in out and "✗ approvals: 0 of 1" in out
    code, out, _ = cli(capsys, repo, "approve", NAME, "--env", "prod", "-m", "fine by me", "--json")
    assert code == 0 and json.loads(out)["who"] == "Test User <test@example.com>"
    code, out, _ = cli(capsys, repo, "approve", NAME, "--env", "dev", "-m", "also fine")
    assert code == 0 and "dev requires no approvals" in out
    code, out, _ = cli(capsys, repo, "promote", NAME, "--env", "prod", "-m", "my own approval", "--override")
    assert code == 0
    code, out, _ = cli(capsys, repo, "rollback", NAME, "--env", "prod", "-m", "back")
    assert code == 0 and "✓ rollback: prod already ran v1: a rollback to it is never blocked" in out
    code, out, _ = cli(capsys, repo, "audit")
    assert code == 0, out  # overrides are listed, not violations
    assert "3 deployment event(s)" in out and "2 override(s), 0 violation(s)" in out and "1 rollback(s)" in out
    assert out.count("OVERRIDE deploy/prod/") == 2 and "reason: incident 7" in out
    code, out, _ = cli(capsys, repo, "history", NAME, "--env", "prod")
    assert out.count("OVERRIDE of the policy") == 2 and "“incident 7”" in out
    code, out, _ = cli(capsys, repo, "audit", "--env", "staging", "--json")
    assert code == 0 and json.loads(out)["events"] == []


def _seq(moment_ms: int = 0) -> str:
    return f"{int(T0.strftime('%Y%m%d%H%M%S')) * 1000 + moment_ms:017d}-deadbeef"


def test_audit_finds_a_deployment_tag_made_by_hand(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    guarded(repo, "    from: staging\n    require_tests: pass\n")
    clock = Clock()
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "staging", reason="stage", override=False)
    assert cli(capsys, repo, "audit")[0] == 0
    # Someone bypasses the workbench: a plain lightweight tag, and an annotated one that claims success
    head = run_git(repo, "rev-parse", "HEAD").strip()
    run_git(repo, "tag", f"deploy/prod/{NAME}/{_seq(5000)}", head)
    message = 'promote by hand\n\naction: "promote"\ntests: "✓ 9/9"\nwho: "Ana <ana@example.com>"\n'
    env = {"GIT_COMMITTER_NAME": "Mallory", "GIT_COMMITTER_EMAIL": "mallory@example.com"}
    run_git(repo, "tag", "-a", "-m", message, f"deploy/prod/greeting/{_seq(6000)}", head, env=env)
    code, out, _ = cli(capsys, repo, "audit")
    assert code == 1
    assert "2 violation(s)" in out and f"VIOLATION deploy/prod/{NAME}/" in out and "VIOLATION deploy/prod/greeting/" in out
    assert "a lightweight tag" in out and "✗ from: staging has never run" in out
    assert "✗ require_tests: no stored test run" in out  # the message's claim of ✓ 9/9 is not believed
    assert "the message says Ana <ana@example.com> but Git recorded Mallory <mallory@example.com>" in out
    code, out, _ = cli(capsys, repo, "audit", "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["counts"]["violation"] == 2
    bad = next(e for e in data["events"] if e["prompt"] == "greeting")
    assert bad["promoter"] == "Mallory <mallory@example.com>" and {"rule": "from", "ok": False} .items() <= bad["checks"][0].items()


def test_audit_uses_what_existed_when_the_event_was_written(repo: Path) -> None:
    """An approval or a passing test run that came after the event does not excuse it."""
    guarded(repo, "    require_tests: pass\n    approvals: 1\n")
    clock = Clock()
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "prod", reason="hotfix", override=True)
    # Forge a non-override copy: what a hand-made event claiming nothing looks like
    head = run_git(repo, "rev-parse", "HEAD").strip()
    run_git(repo, "tag", "-a", "-m", 'promote\n\naction: "promote"\nwho: "Test User <test@example.com>"\n', f"deploy/prod/greeting/{_seq(10)}", head)
    clock.advance(hours=1)
    os.environ["GIT_COMMITTER_NAME"], os.environ["GIT_COMMITTER_EMAIL"] = "Rita", "rita@example.com"
    try:
        with session_on(repo, clock) as ws:
            approvals.approve(ws, "greeting", "prod", reason="after the fact")
            from workbench.services import test_results

            test_results.record_note(ws, head, test_results.note_line("greeting", "✓ 1/1", "echo", when=clock.now.timestamp()))
            report = audit.audit(ws)
    finally:
        del os.environ["GIT_COMMITTER_NAME"], os.environ["GIT_COMMITTER_EMAIL"]
    (violation,) = report.violations
    assert violation.event.prompt == "greeting"
    assert {c.rule: c.ok for c in violation.checks} == {"require_tests": False, "approvals": False}
    assert [f.event.prompt for f in report.overrides] == [NAME]


def test_audit_reads_the_policy_in_force_at_the_time(repo: Path) -> None:
    """An event before the policy existed is fine; the same deployment after it is a violation."""
    clock = Clock()
    with session_on(repo, clock) as ws:
        deployments.promote(ws, NAME, "prod", rev="HEAD~2", reason="before any policy")
    later = datetime.now(UTC) + timedelta(days=1)  # after the fixture's commits, whatever today is
    env = {"GIT_COMMITTER_DATE": later.isoformat(), "GIT_AUTHOR_DATE": later.isoformat()}
    write(repo, "workbench.yaml", "environments:\n  - dev\n  - staging\n  - name: prod\n    from: staging\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "Guard prod", env=env)
    head = run_git(repo, "rev-parse", "HEAD~1").strip()  # a commit without workbench.yaml
    stamp = (later + timedelta(hours=1)).strftime("%Y%m%d%H%M%S") + "000"
    run_git(repo, "tag", "-a", "-m", "by hand", f"deploy/prod/{NAME}/{stamp}-0badc0de", head)
    with session_on(repo, clock) as ws:
        report = audit.audit(ws)
    assert [f.status for f in report.findings] == ["unguarded", "violation"]
    assert report.violations[0].sources == ("main " + run_git(repo, "rev-parse", "--short=7", "main").strip(),)


def test_the_main_commit_in_force_tolerates_committer_times_out_of_order(repo: Path) -> None:
    from workbench.services.policies import main_commit_at

    early = datetime.now(UTC) + timedelta(days=1)
    late = early + timedelta(days=2)
    write(repo, "workbench.yaml", "environments: [dev, prod]\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "late", env={"GIT_COMMITTER_DATE": late.isoformat()})
    late_sha = run_git(repo, "rev-parse", "HEAD").strip()
    write(repo, "workbench.yaml", "environments: [dev, staging, prod]\n")
    run_git(repo, "add", "-A")
    run_git(repo, "commit", "-qm", "skewed clock", env={"GIT_COMMITTER_DATE": early.isoformat()})
    skewed = run_git(repo, "rev-parse", "HEAD").strip()
    with session_on(repo, Clock()) as ws:
        assert main_commit_at(ws, early + timedelta(hours=1)) == skewed  # on top of a commit dated later
        assert main_commit_at(ws, late + timedelta(hours=1)) == skewed
        assert main_commit_at(ws, early - timedelta(days=3)) not in (late_sha, skewed)


def test_audit_names_a_malformed_event_message_as_a_problem_of_the_tag(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A canary percent of "ten" is read as no split (every key on the stable version), which
    is safe for serving; the audit still says the tag is malformed: it was audited as clean."""
    guarded(repo, "    require_tests: pass\n")
    head = run_git(repo, "rev-parse", "HEAD").strip()
    message = f'split by hand\n\naction: "split"\ncommit: "{head}"\ncanary: {{"version": null, "commit": "{head}", "percent": "ten"}}\n'
    for env, moment in (("prod", 5000), ("dev", 6000)):
        run_git(repo, "tag", "-a", "-m", message, f"deploy/{env}/{NAME}/{_seq(moment)}", head)
    code, out, _ = cli(capsys, repo, "audit", "--json")
    events = {event["env"]: event for event in json.loads(out)["events"]}
    assert code == 1 and events["prod"]["status"] == "violation" and events["dev"]["status"] == "unguarded", out
    assert all(any("percent" in problem for problem in event["problems"]) for event in events.values()), out
    out = cli(capsys, repo, "audit")[1]
    assert f"VIOLATION deploy/prod/{NAME}/" in out and f"PROBLEM deploy/dev/{NAME}/" in out, out
