"""Push and fetch against a real bare remote: branches, tags, notes, rejections, concurrency."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, run_git, write

from workbench.errors import RepoError
from workbench.services.workspace import Workspace


@pytest.fixture
def clones(repo: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A bare `origin` holding `repo`'s main, and a second clone of it."""
    bare = tmp_path / "origin.git"
    run_git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    run_git(repo, "remote", "add", "origin", str(bare))
    with Workspace.open(repo) as ws:
        assert ws.push().ok
    other = tmp_path / "other"
    run_git(tmp_path, "clone", "-q", str(bare), str(other))
    return repo, other, bare


def test_push_moves_branch_tags_and_notes(clones: tuple[Path, Path, Path]) -> None:
    repo, other, bare = clones
    with Workspace.open(repo) as ws:
        ws.tag_release("greeting")
        ws.promote("greeting", "prod", reason="launch")
        ws.add_note("HEAD", "tests: ✓ 3/3")
        result = ws.push()
        assert result.ok, result.details
    refs = run_git(bare, "for-each-ref", "--format=%(refname)")
    assert "refs/tags/greeting@v1" in refs and "refs/notes/workbench" in refs
    assert "refs/tags/deploy/prod/greeting/" in refs
    with Workspace.open(other) as ws2:
        fetched = ws2.fetch()
        assert fetched.ok
        head = ws2.resolve("HEAD")
        assert ws2.read_notes([head]) == {head: "tests: ✓ 3/3\n"}
        assert ws2.current_event("greeting", "prod") is not None
        assert ws2.push().message == "everything up to date"


def test_rejected_push_is_explained_and_nothing_is_forced(clones: tuple[Path, Path, Path]) -> None:
    repo, other, bare = clones
    with Workspace.open(other) as ws2:
        write(other, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
        ws2.commit(["greeting"], "From the other clone")
        assert ws2.push().ok
    remote_main = run_git(bare, "rev-parse", "main").strip()
    with Workspace.open(repo) as ws:
        write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hey"))
        ws.commit(["greeting"], "Diverged")
        result = ws.push()
        assert not result.ok
        assert any("workbench fetch" in d and "merge origin/main" in d for d in result.details)
        assert run_git(bare, "rev-parse", "main").strip() == remote_main
        ws.fetch()
        merged = ws.merge("origin/main")
        assert merged.status == "conflicts"  # both edited the same line: left for the user
        run_git(repo, "merge", "--abort")


def test_notes_from_two_clones_are_merged_not_lost(clones: tuple[Path, Path, Path]) -> None:
    repo, other, _bare = clones
    with Workspace.open(repo) as ws:
        head = ws.resolve("HEAD")
        ws.add_note(head, "run A: ✓ 2/2")
        assert ws.push().ok
    with Workspace.open(other) as ws2:
        ws2.add_note(head, "run B: ✗ 1/2")
        rejected = ws2.push()
        assert not rejected.ok and any("notes" in d for d in rejected.details)
        assert ws2.fetch().notes_merged
        note = ws2.read_notes([head])[head]
        assert "run A: ✓ 2/2" in note and "run B: ✗ 1/2" in note
        assert ws2.push().ok
    with Workspace.open(repo) as ws:
        ws.fetch()
        assert "run B" in ws.read_notes([head])[head]


def test_concurrent_promotions_from_two_clones_converge(clones: tuple[Path, Path, Path]) -> None:
    repo, other, _bare = clones
    with Workspace.open(repo) as ws, Workspace.open(other) as ws2:
        # Releases are made once and shared (as CI does on main); deployments race.
        ws.tag_release("support/summarize", "HEAD~1")
        ws.tag_release("support/summarize", "HEAD")
        assert ws.push().ok
        ws2.fetch()
        # Both clones promote at "the same moment", neither having seen the other.
        a = ws.promote("support/summarize", "prod", rev="HEAD~1", reason="from clone A")
        b = ws2.promote("support/summarize", "prod", rev="HEAD", reason="from clone B")
        assert a.tag != b.tag
        assert ws.push().ok
        assert ws2.push().ok  # a different tag name: no collision, nothing rejected
        ws.fetch()
        ws2.fetch()
        order_a = [e.tag for e in ws.deployments("support/summarize", "prod")]
        order_b = [e.tag for e in ws2.deployments("support/summarize", "prod")]
        assert sorted(order_a) == sorted([a.tag, b.tag])
        assert order_a == order_b
        assert ws.current_event("support/summarize", "prod") == ws2.current_event("support/summarize", "prod")
        # The next event on either clone sorts after both.
        c = ws2.rollback("support/summarize", "prod", reason="after both")
        assert c.seq > max(a.seq, b.seq)


def test_push_without_remote_is_clear(ws: Workspace) -> None:
    with pytest.raises(RepoError, match="no remote named 'origin'"):
        ws.push()


def test_concurrent_promotions_of_unreleased_versions_renumber_the_later_release(
    clones: tuple[Path, Path, Path],
) -> None:
    repo, other, _bare = clones
    with Workspace.open(other) as ws2:
        write(other, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
        ws2.commit(["greeting"], "Other clone's greeting")
        b = ws2.promote("greeting", "prod", reason="from B")  # releases greeting@v1 on clone B
        assert b.version == "greeting@v1"
    with Workspace.open(repo) as ws:
        a = ws.promote("greeting", "staging", reason="from A")  # greeting@v1 on clone A, another commit
        assert a.version == "greeting@v1" and a.commit != b.commit
        assert ws.push().ok
    with Workspace.open(other) as ws2:
        rejected = ws2.push()
        assert not rejected.ok
        assert [u.ref for u in rejected.updates if u.rejected] == ["refs/tags/greeting@v1"]
        fetched = ws2.fetch()
        assert any("your unpushed release is now greeting@v2" in d for d in fetched.details)
        assert ws2.push().ok
        releases = {r.label: r.commit for r in ws2.releases("greeting")}
        assert releases == {"greeting@v1": a.commit, "greeting@v2": b.commit}
        cold = ws2.status()
        row = next(r for r in cold.rows if r.name == "greeting")
        assert row.cell("prod").version == "greeting@v2"  # type: ignore[union-attr]
        assert row.cell("staging").version == "greeting@v1"  # type: ignore[union-attr]
        assert ws2.status() == cold  # the cached (warm) path agrees with the cold one
    with Workspace.open(repo) as ws:
        ws.fetch()
        row = next(r for r in ws.status().rows if r.name == "greeting")
        assert row.cell("prod").version == "greeting@v2"  # type: ignore[union-attr]
        assert row.cell("prod").commit == b.commit  # type: ignore[union-attr]
