"""Every version command through the real CLI entry point, on real repositories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from vcs_helpers import GREETING, run_git, write

from workbench.cli import run_app


def cli(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = run_app(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_diff_side_by_side_unified_and_json(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "140")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "[bold]hi[/]"))
    code, out, _ = cli(capsys, repo, "diff", "greeting")
    assert code == 0
    assert "greeting: HEAD → working copy" in out
    assert "── message 1 (user) (changed) ──" in out
    assert "[bold]hi[/]" in out  # file content is shown as text, never as markup
    assert any(line.lstrip().startswith("1 - Say hello") and "│     1 + Say [bold]hi[/]" in line for line in out.splitlines())
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "HEAD~2", "HEAD", "--unified")
    assert code == 0 and "-    content: You summarise support tickets in a neutral tone." in out
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "HEAD~1", "--json")
    data = json.loads(out)
    assert data["left"] == "HEAD~1" and data["right"] == "working copy"
    assert [s["title"] for s in data["sections"] if s["status"] != "unchanged"] == ["message 1 (system)"]


def test_log_branch_switch_commit_merge(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, repo, "log", "support/summarize", "--json", "--limit", "2")
    assert code == 0 and [e["commit"]["subject"] for e in json.loads(out)] == ["Calm summaries", "Friendlier summaries"]
    write(repo, "prompts/support/summarize.yaml", GREETING)
    run_git(repo, "commit", "-qam", "Evil \x1b[31mred[/] subject")
    code, out, _ = cli(capsys, repo, "log", "support/summarize")
    assert "Calm summaries" in out and "[A] Add prompts" in out
    assert "Evil \u241b[31mred[/] subject" in out  # control characters neutralised, brackets kept
    assert cli(capsys, repo, "branch", "feature")[0] == 0
    code, out, _ = cli(capsys, repo, "branch", "--json")
    assert [(b["name"], b["current"]) for b in json.loads(out)] == [("feature", False), ("main", True)]
    write(repo, "prompts/greeting.yaml", GREETING + "# wip\n")
    code, _, err = cli(capsys, repo, "switch", "feature")
    assert code == 2 and "uncommitted changes in prompts/greeting.yaml" in err and "--stash" in err
    code, out, _ = cli(capsys, repo, "switch", "feature", "--stash")
    assert code == 0 and "git stash pop" in out
    run_git(repo, "stash", "pop")
    code, out, _ = cli(capsys, repo, "commit", "greeting", "-m", "WIP greeting")
    assert code == 0 and "committed" in out and "WIP greeting" in out
    cli(capsys, repo, "switch", "main")
    code, out, _ = cli(capsys, repo, "merge", "feature")
    assert code == 0 and "fast-forward" in out


def test_merge_conflict_exit_code(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, repo, "branch", "rival")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "a"))
    cli(capsys, repo, "commit", "greeting", "-m", "a")
    cli(capsys, repo, "switch", "rival")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "b"))
    cli(capsys, repo, "commit", "greeting", "-m", "b")
    cli(capsys, repo, "switch", "main")
    code, out, _ = cli(capsys, repo, "merge", "rival")
    assert code == 1 and "conflict: prompts/greeting.yaml" in out and "mid-merge" in out


def test_tag_promote_rollback_status_history_export(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, repo, "tag", "support/summarize", "--rev", "HEAD~1", "-m", "good one")
    assert code == 0 and "created support/summarize@v1" in out
    code, out, _ = cli(capsys, repo, "promote", "support/summarize", "--env", "staging", "-m", "try it")
    assert code == 0 and "support/summarize@v2" in out
    code, out, _ = cli(capsys, repo, "promote", "support/summarize", "--env", "prod", "--rev", "support/summarize@v1", "-m", "safe")
    assert code == 0
    code, out, _ = cli(capsys, repo, "status", "--json")
    row = next(p for p in json.loads(out)["prompts"] if p["name"] == "support/summarize")
    assert row["environments"]["prod"]["version"] == "support/summarize@v1"
    assert row["environments"]["prod"]["lag"] == 1
    code, out, _ = cli(capsys, repo, "status")
    assert code == 0 and "1 behind staging" in out and "Test User" in out
    code, _, err = cli(capsys, repo, "rollback", "support/summarize", "--env", "staging")
    assert code == 2 and "needs a reason" in err
    code, out, _ = cli(capsys, repo, "rollback", "support/summarize", "--env", "prod", "--to", "HEAD", "-m", "forward fix")
    assert code == 0 and "rollback" in out
    code, out, _ = cli(capsys, repo, "promote", "support/summarize", "--env", "dev", "--from", "prod", "-m", "sync")
    assert code == 0
    code, out, _ = cli(capsys, repo, "history", "support/summarize", "--env", "prod", "--json")
    assert [e["action"] for e in json.loads(out)] == ["rollback", "promote"]
    code, out, _ = cli(capsys, repo, "history", "support/summarize")
    assert "forward fix" in out and "sync" in out
    code, out, _ = cli(capsys, repo, "promote", "support/summarize", "--env", "prod", "--rev", "HEAD~2", "--split", "10", "-m", "canary")
    assert code == 0 and "canary 10%" in out
    code, out, _ = cli(capsys, repo, "promote", "support/summarize", "--env", "prod", "--finish", "-m", "done")
    assert code == 0 and "finish" in out
    code, out, _ = cli(capsys, repo, "export", str(tmp_path / "out"), "--env", "prod")
    assert code == 0 and (tmp_path / "out/manifest.json").exists()


def test_review_push_fetch_and_errors(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cli(capsys, repo, "branch", "feature")
    cli(capsys, repo, "switch", "feature")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "welcome"))
    cli(capsys, repo, "commit", "greeting", "-m", "Welcome")
    code, out, _ = cli(capsys, repo, "review", "--json")
    data = json.loads(out)
    assert code == 0 and data["branch"] == "feature" and [p["name"] for p in data["prompts"]] == ["greeting"]
    code, out, _ = cli(capsys, repo, "review")
    assert "modified: greeting" in out and "Welcome" in out
    code, _, err = cli(capsys, repo, "push")
    assert code == 2 and "no remote named 'origin'" in err
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    code, out, _ = cli(capsys, repo, "push", "--json")
    assert code == 0 and json.loads(out)["ok"]
    code, out, _ = cli(capsys, repo, "fetch")
    assert code == 0
    code, _, err = cli(capsys, tmp_path / "nowhere", "status")
    assert code == 2 and "does not exist" in err
    (tmp_path / "plain").mkdir()
    code, _, err = cli(capsys, tmp_path / "plain", "status")
    assert code == 2 and "not inside a Git repository" in err


def test_line_breaks_in_an_event_cannot_print_a_line_of_their_own(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reason typed with a newline, or a hand-written event whose `who` or `tests` holds one,
    printed the rest as a line of its own: in `history`, `timeline`, `status` and `audit` it
    read as another event (prod "promoted to v9 by Ada" while it ran v1). Each field stays on
    its event's line, its line breaks shown as ⏎."""
    monkeypatch.setenv("COLUMNS", "400")
    forged = "2026-01-01T00:00:00.000Z prod promote → support/summarize@v9  by Ada"
    code, out, _ = cli(capsys, repo, "promote", "support/summarize", "--env", "prod", "-m", f"oops\n{forged}")
    assert code == 0
    tag = out.split("tag ", 1)[1].split()[0]
    seq = tag.rsplit("/", 1)[1]
    later = str(int(seq[:17]) + 1) + seq[17:]
    message = run_git(repo, "cat-file", "tag", tag).split("\n\n", 1)[1].replace(seq, later)
    message = "\n".join(
        'who: "Mallory\\nsupport/summarize  v9 1234567 1s ago Ada"' if line.startswith("who:")
        else 'tests: "✓ 4/4\\nv9 ✓ 9/9"' if line.startswith("tests:") else line
        for line in message.splitlines()
    )
    run_git(repo, "tag", "-a", "--cleanup=verbatim", "-F", "-", f"deploy/prod/support/summarize/{later}", f"{tag}^{{commit}}", stdin=message)
    for command in (["history", "support/summarize"], ["timeline"], ["status"], ["audit"]):
        code, out, _ = cli(capsys, repo, *command)
        assert code == 0, command
        for line in out.splitlines():
            assert not line.lstrip().startswith(("2026-01-01", "support/summarize  v9", "v9")), (command, line)
        assert "v9" not in out or "⏎" in out, command
    code, out, _ = cli(capsys, repo, "history", "support/summarize")
    assert f"oops⏎{forged}" in out and "Mallory⏎support/summarize  v9" in out and "✓ 4/4⏎v9 ✓ 9/9" in out
