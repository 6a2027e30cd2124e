"""Push and fetch against a real bare remote: branches, tags, notes, rejections, concurrency."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, run_git, write

from workbench.errors import RepoError
from workbench.services import (
    branches,
    deployment_events,
    deployments,
    env_status,
    releases,
    revisions,
    sync,
    test_results,
)
from workbench.services.session import RepoSession


@pytest.fixture
def clones(repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare `origin` holding `repo`'s main, and a second clone of it."""
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    with RepoSession.open(repo) as ws:
        assert sync.push(ws).ok
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(bare), str(other))
    return repo, other, bare


def test_push_moves_branch_tags_and_notes(clones: tuple[Path, Path, Path]) -> None:
    repo, other, bare = clones
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "greeting")
        deployments.promote(ws, "greeting", "prod", reason="launch")
        test_results.record_note(ws, revisions.resolve(ws, "HEAD"), "tests: ✓ 3/3")
        result = sync.push(ws)
        assert result.ok, result.details
    refs = run_git(bare, "for-each-ref", "--format=%(refname)")
    assert "refs/tags/greeting@v1" in refs and "refs/notes/workbench" in refs
    assert "refs/tags/deploy/prod/greeting/" in refs
    with RepoSession.open(other) as ws2:
        fetched = sync.fetch(ws2)
        assert fetched.ok
        head = revisions.resolve(ws2, "HEAD")
        assert ws2.store.notes_for("workbench", [head]) == {head: "tests: ✓ 3/3\n"}
        assert deployment_events.current_event(ws2, "greeting", "prod") is not None
        assert sync.push(ws2).message == "everything up to date"


def test_rejected_push_is_explained_and_nothing_is_forced(clones: tuple[Path, Path, Path]) -> None:
    repo, other, bare = clones
    with RepoSession.open(other) as ws2:
        write(other, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
        branches.commit(ws2, ["greeting"], "From the other clone")
        assert sync.push(ws2).ok
    remote_main = run_git(bare, "rev-parse", "main").strip()
    with RepoSession.open(repo) as ws:
        write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hey"))
        branches.commit(ws, ["greeting"], "Diverged")
        result = sync.push(ws)
        assert not result.ok
        assert any("workbench fetch" in d and "merge origin/main" in d for d in result.details)
        assert run_git(bare, "rev-parse", "main").strip() == remote_main
        sync.fetch(ws)
        merged = branches.merge(ws, "origin/main")
        assert merged.status == "conflicts"  # both edited the same line: left for the user
        run_git(repo, "merge", "--abort")


def test_notes_from_two_clones_are_merged_not_lost(clones: tuple[Path, Path, Path]) -> None:
    repo, other, _bare = clones
    with RepoSession.open(repo) as ws:
        head = revisions.resolve(ws, "HEAD")
        test_results.record_note(ws, head, "run A: ✓ 2/2")
        assert sync.push(ws).ok
    with RepoSession.open(other) as ws2:
        test_results.record_note(ws2, head, "run B: ✗ 1/2")
        rejected = sync.push(ws2)
        assert not rejected.ok and any("notes" in d for d in rejected.details)
        assert sync.fetch(ws2).notes_merged
        note = ws2.store.notes_for("workbench", [head])[head]
        assert "run A: ✓ 2/2" in note and "run B: ✗ 1/2" in note
        assert sync.push(ws2).ok
    with RepoSession.open(repo) as ws:
        sync.fetch(ws)
        assert "run B" in ws.store.notes_for("workbench", [head])[head]


def test_concurrent_promotions_from_two_clones_converge(clones: tuple[Path, Path, Path]) -> None:
    repo, other, _bare = clones
    with RepoSession.open(repo) as ws, RepoSession.open(other) as ws2:
        # Releases are made once and shared (as CI does on main); deployments race.
        releases.tag_release(ws, "support/summarize", "HEAD~1")
        releases.tag_release(ws, "support/summarize", "HEAD")
        assert sync.push(ws).ok
        sync.fetch(ws2)
        # Both clones promote at "the same moment", neither having seen the other.
        a = deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="from clone A")
        b = deployments.promote(ws2, "support/summarize", "prod", rev="HEAD", reason="from clone B")
        assert a.tag != b.tag
        assert sync.push(ws).ok
        assert sync.push(ws2).ok  # a different tag name: no collision, nothing rejected
        sync.fetch(ws)
        sync.fetch(ws2)
        order_a = [e.tag for e in deployment_events.deployments(ws, "support/summarize", "prod")]
        order_b = [e.tag for e in deployment_events.deployments(ws2, "support/summarize", "prod")]
        assert sorted(order_a) == sorted([a.tag, b.tag])
        assert order_a == order_b
        assert deployment_events.current_event(ws, "support/summarize", "prod") == deployment_events.current_event(ws2, "support/summarize", "prod")
        # The next event on either clone sorts after both.
        c = deployments.rollback(ws2, "support/summarize", "prod", reason="after both")
        assert c.seq > max(a.seq, b.seq)


def test_push_without_remote_is_clear(ws: RepoSession) -> None:
    with pytest.raises(RepoError, match="no remote named 'origin'"):
        sync.push(ws)


def test_concurrent_promotions_of_unreleased_versions_renumber_the_later_release(
    clones: tuple[Path, Path, Path],
) -> None:
    repo, other, _bare = clones
    with RepoSession.open(other) as ws2:
        write(other, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
        branches.commit(ws2, ["greeting"], "Other clone's greeting")
        b = deployments.promote(ws2, "greeting", "prod", reason="from B")  # releases greeting@v1 on clone B
        assert b.version == "greeting@v1"
    with RepoSession.open(repo) as ws:
        a = deployments.promote(ws, "greeting", "staging", reason="from A")  # greeting@v1 on clone A, another commit
        assert a.version == "greeting@v1" and a.commit != b.commit
        assert sync.push(ws).ok
    with RepoSession.open(other) as ws2:
        rejected = sync.push(ws2)
        assert not rejected.ok
        assert [u.ref for u in rejected.updates if u.rejected] == ["refs/tags/greeting@v1"]
        fetched = sync.fetch(ws2)
        assert any("your unpushed release is now greeting@v2" in d for d in fetched.details)
        assert sync.push(ws2).ok
        released = {r.label: r.commit for r in releases.releases(ws2, "greeting")}
        assert released == {"greeting@v1": a.commit, "greeting@v2": b.commit}
        cold = env_status.status(ws2)
        row = next(r for r in cold.rows if r.name == "greeting")
        assert row.cell("prod").version == "greeting@v2"  # type: ignore[union-attr]
        # The message says v1, written before the renumbering: the label it could not know, no problem.
        assert row.cell("prod").to_dict()["problem"] is None  # type: ignore[union-attr]
        assert row.cell("staging").version == "greeting@v1"  # type: ignore[union-attr]
        assert env_status.status(ws2) == cold  # the cached (warm) path agrees with the cold one
    with RepoSession.open(repo) as ws:
        sync.fetch(ws)
        row = next(r for r in env_status.status(ws).rows if r.name == "greeting")
        assert row.cell("prod").version == "greeting@v2"  # type: ignore[union-attr]
        assert row.cell("prod").commit == b.commit  # type: ignore[union-attr]


def test_a_fetch_killed_while_it_renumbered_a_release_does_not_release_it_twice(clones: tuple[Path, Path, Path]) -> None:
    """Renumbering makes the new tag, then drops ours: a fetch killed in between (`kill -9`) left
    both, and the next fetch renumbered ours again, so one commit had two releases (v2 and v3)."""
    repo, other, _bare = clones
    with RepoSession.open(other) as ws2:
        write(other, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
        branches.commit(ws2, ["greeting"], "Other clone's greeting")
        ours = releases.tag_release(ws2, "greeting").tag.commit
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "greeting")
        assert sync.push(ws).ok
    run_git(other, "tag", "-a", "-m", "Release greeting@v2", "greeting@v2", ours)  # what the killed fetch made
    with RepoSession.open(other) as ws2:
        fetched = sync.fetch(ws2)
        assert any("your unpushed release is now greeting@v2" in d for d in fetched.details), fetched.details
        assert sorted((r.label, r.commit == ours) for r in releases.releases(ws2, "greeting")) == [("greeting@v1", False), ("greeting@v2", True)]
        assert sync.push(ws2).ok


def test_fetch_after_a_branch_renamed_into_a_folder_says_to_prune(clones: tuple[Path, Path, Path]) -> None:
    """feature renamed feature/a on the remote: origin/feature, left in this clone, blocks
    origin/feature/a. The hint said "check the remote URL and your access"."""
    repo, other, _bare = clones
    run_git(repo, "push", "-q", "origin", "main:feature")
    with RepoSession.open(other) as ws2:
        assert sync.fetch(ws2).ok
    run_git(repo, "push", "-q", "origin", ":feature", "main:feature/a")
    run_git(repo, "tag", "-a", "-m", "remote's", "greeting@v1")
    run_git(repo, "push", "-q", "origin", "greeting@v1")
    run_git(other, "tag", "-a", "-m", "local", "greeting@v1", "HEAD~1")  # also a tag that would be clobbered
    with RepoSession.open(other) as ws2, pytest.raises(RepoError) as failed:
        sync.fetch(ws2)
    assert "cannot lock ref 'refs/remotes/origin/feature/a'" in failed.value.message
    assert failed.value.hint is not None and "git remote prune origin" in failed.value.hint
    assert "your access" not in failed.value.hint
    run_git(other, "remote", "prune", "origin")
    run_git(other, "tag", "-d", "greeting@v1")
    with RepoSession.open(other) as ws2:
        assert sync.fetch(ws2).ok


def test_two_clones_releasing_the_same_commit_under_one_number_settle_on_fetch(
    clones: tuple[Path, Path, Path],
) -> None:
    """Both clones release greeting@v1 for the same commit (tag objects differ: note, time). push
    said "run workbench fetch", fetch said "would clobber existing tag", and so on forever."""
    repo, other, bare = clones
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "greeting", note="from A")
        assert sync.push(ws).ok
    with RepoSession.open(other) as ws2:
        ours = releases.tag_release(ws2, "greeting", note="from B").tag
        rejected = sync.push(ws2)
        assert not rejected.ok
        assert any("same commit" in d and "workbench fetch" in d for d in rejected.details)
        fetched = sync.fetch(ws2)
        assert fetched.ok, fetched.details
        assert any("greeting@v1" in d and "already released" in d for d in fetched.details)
        assert run_git(other, "rev-parse", "greeting@v1").strip() == run_git(bare, "rev-parse", "greeting@v1").strip()
        assert [(r.label, r.commit) for r in releases.releases(ws2, "greeting")] == [("greeting@v1", ours.commit)]
        assert sync.push(ws2).ok


def test_a_push_the_server_refuses_shows_what_the_server_said(clones: tuple[Path, Path, Path]) -> None:
    """A pre-receive hook declined the push: the branch was explained as "origin has commits your
    branch does not have", the tag as "a different tag with this name", and the hook's words were
    dropped."""
    repo, _other, bare = clones
    hook = bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'DENIED by policy' >&2\nprintf 'see \\033[31mdocs\\n' >&2\nexit 1\n")
    hook.chmod(0o755)
    with RepoSession.open(repo) as ws:
        write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
        branches.commit(ws, ["greeting"], "Hi")
        releases.tag_release(ws, "greeting")
        result = sync.push(ws)
    assert not result.ok
    assert {u.ref for u in result.updates if u.rejected} == {"refs/heads/main", "refs/tags/greeting@v1"}
    text = "\n".join(result.details)
    assert "has commits your branch does not have" not in text and "different tag" not in text
    assert "main: [remote rejected] (pre-receive hook declined): origin refused it" in text
    assert "origin said: DENIED by policy" in result.details
    assert "\x1b" not in text and "origin said: see" in text  # the server's text is shown, never acted on


def test_fetch_needs_no_identity_when_the_notes_fast_forward(
    clones: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh clone without user.name/email: fetch failed "Git does not know who you are" after
    fetching, though taking the remote's notes writes no commit."""
    repo, other, _bare = clones
    with RepoSession.open(repo) as ws:
        head = revisions.resolve(ws, "HEAD")
        test_results.record_note(ws, head, "run A: ✓ 2/2")
        assert sync.push(ws).ok
    run_git(repo, "config", "user.name", "Ada")  # the first clone keeps a name of its own
    run_git(repo, "config", "user.email", "ada@example.com")
    nobody = tmp_path / "nobody.gitconfig"
    nobody.write_text("[user]\n\tuseConfigOnly = true\n")  # git itself refuses to guess a name
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(nobody))
    for var in ("EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    with RepoSession.open(other) as ws2:
        assert sync.fetch(ws2).notes_merged  # no notes here yet
        assert ws2.store.notes_for("workbench", [head]) == {head: "run A: ✓ 2/2\n"}
    with RepoSession.open(repo) as ws:
        test_results.record_note(ws, head, "run B: ✓ 2/2")
        assert sync.push(ws).ok
    with RepoSession.open(other) as ws2:
        assert sync.fetch(ws2).notes_merged  # ours are behind theirs
        assert "run B" in ws2.store.notes_for("workbench", [head])[head]
        assert ws2.store.try_resolve("refs/notes/workbench") == run_git(repo, "rev-parse", "refs/notes/workbench").strip()
    run_git(other, "-c", "user.name=Bo", "-c", "user.email=bo@example.com", "notes", "--ref=workbench", "append", "-m", "C", head)
    with RepoSession.open(other) as ws2:
        assert not sync.fetch(ws2).notes_merged  # ours are ahead: nothing to merge


def test_fetched_notes_are_merged_beside_a_stale_index_lock(clones: tuple[Path, Path, Path]) -> None:
    """Notes have nothing to do with the index: a stale `index.lock` did not stop a fetch from
    taking the remote's notes before they were merged under the notes lock, and does not now."""
    repo, other, _bare = clones
    with RepoSession.open(repo) as ws:
        test_results.record_note(ws, revisions.resolve(ws, "HEAD"), "run A: ✓ 2/2")
        assert sync.push(ws).ok
    (other / ".git" / "index.lock").write_text("")
    with RepoSession.open(other) as ws2:
        assert sync.fetch(ws2).notes_merged
