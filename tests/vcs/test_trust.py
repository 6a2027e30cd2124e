"""Defects found by trying the product as a user and as an attacker would (issue 11), each
pinned by a test on real repositories: names, messages, releases, notes, badges, piped output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.cli import run_app
from workbench.errors import WorkbenchError
from workbench.runtime import PromptRepo
from workbench.services import (
    branches,
    deployments,
    env_status,
    history,
    releases,
    sync,
    test_results,
)
from workbench.services.atomic_files import write_atomically
from workbench.services.session import RepoSession


def cli(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = run_app(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_tag_message_is_kept_verbatim(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, _ = cli(capsys, repo, "tag", "greeting", "-m", "#1 hotfix\n# keep this line too")
    assert code == 0
    assert run_git(repo, "cat-file", "-p", "greeting@v1").split("\n\n", 1)[1] == "#1 hotfix\n# keep this line too\n"


def test_release_of_a_missing_prompt_says_it_does_not_exist(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, repo, "tag", "support/nope")
    assert code == 2 and "does not exist" in err and "invalid" not in err


def test_promoting_unchanged_content_reuses_its_release_and_log_shows_it(repo: Path, ws: RepoSession) -> None:
    first = deployments.promote(ws, "support/summarize", "staging", reason="first")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    commit_all(repo, "Only the greeting changed")
    with pytest.raises(WorkbenchError, match="already runs support/summarize@v1"):
        deployments.promote(ws, "support/summarize", "staging", reason="again")
    event = deployments.promote(ws, "support/summarize", "prod", reason="same content")
    assert event.version == first.version and event.commit == first.commit
    assert [t.label for t in releases.releases(ws, "support/summarize")] == ["support/summarize@v1"]
    entry = history.history(ws, "support/summarize")[0]  # "Calm summaries": the commit of that content
    assert [r.label for r in entry.releases] == ["support/summarize@v1"]
    assert {e.env for e in entry.deployments} == {"staging", "prod"}


def test_badges_go_to_the_version_not_to_a_revert_with_the_same_content(repo: Path, ws: RepoSession) -> None:
    calm = run_git(repo, "rev-parse", "HEAD").strip()
    deployments.promote(ws, "support/summarize", "prod", reason="calm")
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "loud"))
    commit_all(repo, "Louder")
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "calm"))
    commit_all(repo, "Revert louder")
    entries = {e.commit.subject: e for e in history.history(ws, "support/summarize")}
    assert entries["Calm summaries"].commit.sha == calm
    assert [r.label for r in entries["Calm summaries"].releases] == ["support/summarize@v1"]
    assert entries["Calm summaries"].deployments and not entries["Revert louder"].deployments
    assert not entries["Revert louder"].releases


def test_short_release_forms_in_diff_and_rollback(repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str]) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="one")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="two")
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "v1", "v2")
    assert code == 0 and "neutral" in out and "calm" in out
    code, out, _ = cli(capsys, repo, "rollback", "support/summarize", "--env", "prod", "--to", "v1", "-m", "back")
    assert code == 0 and "support/summarize@v1" in out


def test_promote_without_a_reason_is_refused_and_writes_nothing(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, repo, "promote", "greeting", "--env", "prod")
    assert code == 2 and "needs a reason" in err and "-m" in err
    assert run_git(repo, "tag", "-l") == ""


def test_usage_errors_give_a_hint_not_an_unexpected_error(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["promote", "greeting"], ["nosuch"], ["log", "--bogus", "x"]):
        code, _, err = cli(capsys, repo, *args)
        assert code == 2 and "unexpected" not in err and "--help" in err.replace("-h'", "--help'") and "Error:" in err


def test_merge_message_says_fast_forward_once(repo: Path, ws: RepoSession) -> None:
    branches.create_branch(ws, "feature")
    branches.switch_branch(ws, "feature")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    commit_all(repo, "hi")
    branches.switch_branch(ws, "main")
    result = branches.merge(ws, "feature")
    assert result.status == "fast-forward" and result.message.count("fast-forward") == 1


def test_the_mark_after_a_notes_merge_is_the_newest(repo: Path, ws: RepoSession) -> None:
    head = run_git(repo, "rev-parse", "HEAD").strip()
    newer = test_results.note_line("greeting", "✓ 3/3", "echo", when=2_000_000_000)
    older = test_results.note_line("greeting", "✗ 1/3", "echo", when=1_000_000_000)
    test_results.record_note(ws, head, newer + "\n" + older)  # sorted order puts the failure last
    assert test_results.history_marks(ws, "greeting", [head])[head] == test_results.ResultMark("✓ 3/3", recorded=True)


def test_status_uses_renumbered_labels_of_prompts_in_folders(repo: Path, tmp_path: Path) -> None:
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    with RepoSession.open(repo) as ws:
        assert sync.push(ws).ok
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(bare), str(other))
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "support/summarize", "HEAD~1")
        assert sync.push(ws).ok
    with RepoSession.open(other) as ws2:
        deployments.promote(ws2, "support/summarize", "prod", reason="ours")  # takes v1 locally for HEAD
        assert sync.fetch(ws2).ok
        row = env_status.status(ws2).row("support/summarize")
        assert row is not None and row.cell("prod").version == "support/summarize@v2"  # type: ignore[union-attr]
    with PromptRepo(other) as prompts:
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v2"


def test_in_app_editor_save_keeps_the_file_mode(tmp_path: Path) -> None:
    target = tmp_path / "p.yaml"
    target.write_text("a: 1\n")
    target.chmod(0o644)
    write_atomically(target, "a: 2\n")
    assert target.read_text() == "a: 2\n" and (target.stat().st_mode & 0o777) == 0o644
    fresh = tmp_path / "new.yaml"
    write_atomically(fresh, "b: 1\n")
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_piped_output_is_never_wrapped_and_a_unified_diff_applies(repo: Path) -> None:
    long_line = "You summarise support tickets " + "in great detail " * 12 + "."
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("You summarise support tickets in a neutral tone.", long_line))
    commit_all(repo, "A very long commit subject " + "that goes on " * 10)
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}

    def workbench(*args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "workbench", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
        ).stdout

    patch = workbench("diff", "support/summarize", "HEAD~1", "HEAD", "--unified")
    assert long_line in patch
    run_git(repo, "checkout", "-q", "HEAD~1", "--", "prompts/support/summarize.yaml")
    applied = subprocess.run(["git", "apply", "--check", "-"], cwd=repo, input=patch, text=True, capture_output=True)
    assert applied.returncode == 0, applied.stderr
    log = workbench("log", "support/summarize").splitlines()
    assert len(log) == 4 and ("that goes on " * 10).strip() in log[0]


def test_a_forged_note_s_result_is_read_only_when_it_is_a_result(repo: Path, ws: RepoSession, capsys: pytest.CaptureFixture[str]) -> None:
    """Notes come with `fetch` from anyone who can push them: a line whose symbol and counts were
    terminal escapes reached `workbench log` raw (Rich's Text keeps ESC), and a deployment
    plan's `tests ✓` and the event's `tests:` field as they were. Only `✓ N/M` or `✗ N/M` count."""
    head = run_git(repo, "rev-parse", "HEAD").strip()
    forged = "workbench: greeting \x1b]0;pwned\x07✓ \x1b[2J1/1 echo 2030-01-01T00:00:00Z"
    test_results.record_note(ws, head, forged)
    assert test_results.history_marks(ws, "greeting", [head]) == {}
    assert test_results.counted_summary(ws, "greeting", head) is None
    code, out, err = cli(capsys, repo, "log", "greeting")
    assert code == 0 and "\x1b" not in out + err, out
