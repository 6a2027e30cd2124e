"""Git commands whose failure was read as an answer now tell Git's answer from damage.

`git log`, `ls-tree`, `rev-list`, `for-each-ref` and `merge-base` fail (or, for `ls-tree` and
`merge-base`, exit 1) when an object they need is gone or corrupt. Before, such a failure read
as "none": History stopped at a rename, a revision listed no prompts (`test --all --rev` tested
nothing and passed), the timeline lost its merges, status hid a lost release, and a deployment
whose tag object vanished read as "not deployed" (`export` wrote the version before it). Now it
is `RepoUnreadable` in Git's words, naming the object, with `git fsck` as the next step; an
unknown revision, a path that never existed and an empty repository are still answers.

Every repository here is real and really damaged: a loose object deleted or overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from vcs_helpers import (
    GREETING,
    SUMMARIZE,
    commit_all,
    corrupt_object,
    damage_object,
    delete_object,
    run_git,
    write,
)

from workbench.cli import run_app
from workbench.errors import NotFound, RepoUnreadable
from workbench.services import deployment_events, deployments, env_status, history, prompt_files, releases
from workbench.services.session import RepoSession
from workbench.services.timeline import timeline
from workbench.vcs.refs import RELEASE_TAGS

SUMMARIZE_PATH = "prompts/support/summarize.yaml"


def _unreadable(caught: pytest.ExceptionInfo[RepoUnreadable], sha: str) -> None:
    """Git's words name the object; the hint names `git fsck`."""
    error = caught.value
    assert sha in str(error) and "Git cannot read the repository" in str(error), str(error)
    assert error.hint is not None and "git fsck" in error.hint, error.hint


def _each_unreadable(reads: dict[str, Callable[[], object]], sha: str, revision: str | None = None) -> None:
    """Every read raises `RepoUnreadable` naming `sha` or `revision` (the failing read is named)."""
    for what, read in reads.items():
        try:
            answer = read()
        except RepoUnreadable as error:
            assert (
                sha in str(error) or (revision is not None and revision in str(error))
            ) and "Git cannot read the repository" in str(error), (what, str(error))
            assert error.hint is not None and "git fsck" in error.hint, (what, error.hint)
        else:
            pytest.fail(f"{what} answered {answer!r}")


# ----------------------------------------------------------------- git log
@pytest.mark.parametrize("how", ["deleted", "corrupt"])
def test_a_commit_gone_in_the_middle_of_the_history(repo: Path, how: str) -> None:
    """`git log` dies at the commit it cannot read: before, a shorter answer or `git log failed`."""
    older = run_git(repo, "rev-parse", "HEAD~2").strip()
    sha = damage_object(repo, "HEAD~1", how)
    with RepoSession.open(repo) as ws:
        store = ws.store
        reads = {
            "history": lambda: history.history(ws, "support/summarize"),
            "branch history": lambda: history.branch_history(ws, "support/summarize"),
            "log_path": lambda: store.log_path(SUMMARIZE_PATH),
            "log": lambda: store.log("HEAD"),
            "last_commit_touching": lambda: store.last_commit_touching("HEAD", ["prompts/never.yaml"]),
            "first_parent_line": lambda: store.first_parent_line("HEAD"),
            "merges": lambda: store.merges("main", ["prompts/"]),
            "newest_touching": lambda: store.newest_touching(["refs/heads/main"], [SUMMARIZE_PATH]),
            "unreachable_from_branches": lambda: store.unreachable_from_branches([older]),
            "last_commits_touching": lambda: store.last_commits_touching(["HEAD"], older, [SUMMARIZE_PATH]),
            "is_ancestor": lambda: store.is_ancestor(older, "HEAD"),
            "merge_base": lambda: store.merge_base(older, "HEAD"),
        }
        _each_unreadable(reads, sha)
        # Git's answers stay answers: a revision that names nothing.
        assert store.last_commit_touching("no-such-branch", [SUMMARIZE_PATH]) is None
        assert store.first_parent_line("no-such-branch") == []
        assert store.merges("no-such-branch", ["prompts/"]) == []
        assert store.try_resolve("no-such-branch") is None


def test_the_answers_of_a_sound_repository(repo: Path, tmp_path: Path) -> None:
    """What the reads above answer when nothing is damaged: none, not an error."""
    with RepoSession.open(repo) as ws:
        store = ws.store
        root = store.resolve("HEAD~2")
        assert store.last_commit_touching("HEAD", ["prompts/never.yaml"]) is None
        assert store.log_path("prompts/never.yaml") == []
        assert store.log_path(SUMMARIZE_PATH, rev=f"{root}^") == []  # the root commit has no parent
        assert store.renamed_from(root, SUMMARIZE_PATH) is None
        assert store.merges("main", ["prompts/"]) == []
        assert store.is_ancestor(store.resolve("HEAD"), root) is False
        assert store.list_files(root, "nothing-here/") == []
        assert [r.name for r in store.list_prompt_files(root)] == ["greeting", "support/summarize"]
        with pytest.raises(NotFound):
            prompt_files.list_prompts(ws, "no-such-branch")
    empty = tmp_path / "empty"
    empty.mkdir()
    run_git(empty, "init", "-q", "-b", "main")
    with RepoSession.open(empty) as ws:
        assert ws.store.log_branches_later(["prompts/"]).result() == []
        assert ws.store.log_path("prompts/x.yaml") == []
        assert ws.store.first_parent_line("HEAD") == []
        assert ws.store.last_commit_touching("HEAD", ["prompts/"]) is None
        assert ws.store.try_resolve("HEAD") is None
        assert ws.store.tag_targets(RELEASE_TAGS) == {}


@pytest.fixture
def renamed(tmp_path: Path) -> Path:
    """support/old (two versions, alone in its folder), then renamed to `new`: History of
    `new` follows the rename, one `git log` segment per name."""
    root = tmp_path / "renamed"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    write(root, "prompts/greeting.yaml", GREETING)
    write(root, "prompts/support/old.yaml", SUMMARIZE)
    commit_all(root, "Add old")
    write(root, "prompts/support/old.yaml", SUMMARIZE.replace("neutral", "calm"))
    commit_all(root, "Calmer old")
    run_git(root, "mv", "prompts/support/old.yaml", "prompts/new.yaml")
    commit_all(root, "Rename old to new")
    return root


@pytest.mark.parametrize("spec", ["HEAD~1:prompts/support", "HEAD~2:prompts/support"])
def test_history_across_a_rename_whose_old_tree_is_gone(
    renamed: Path, spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The commits before the rename need the old folder's trees; `git log -- prompts/new.yaml`
    does not. HEAD~1's: `diff-tree -M` could not tell the rename (read as "a root commit");
    HEAD~2's: the old name's `git log` failed (read as "the root commit's parent"). Either way
    History ended at the rename, one version long."""
    with RepoSession.open(renamed) as ws:
        assert [e.change for e in history.history(ws, "new")] == ["R", "M", "A"]
    sha = delete_object(renamed, spec)
    with RepoSession.open(renamed) as ws, pytest.raises(RepoUnreadable) as caught:
        history.history(ws, "new")
    _unreadable(caught, sha)
    code = run_app(["-C", str(renamed), "log", "new"])
    out, err = capsys.readouterr()
    assert code == 2 and sha in err and "git fsck" in err and "Rename" not in out, (out, err)


# ----------------------------------------------------------------- git ls-tree
@pytest.mark.parametrize(
    ("spec", "how"),
    [
        ("HEAD~1^{tree}", "deleted"),
        ("HEAD~1:prompts/support", "deleted"),
        ("HEAD~1:prompts/support", "corrupt"),
    ],
)
def test_listing_a_revision_whose_tree_is_damaged(
    repo: Path, spec: str, how: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`ls-tree` exits 1 for a subtree it cannot read (it lists the rest), 128 for a root tree:
    before, the revision had no prompts, and `test --all --rev` tested nothing and passed."""
    sha = damage_object(repo, spec, how)
    with RepoSession.open(repo) as ws:
        commit = ws.store.resolve("HEAD~1")
        reads = {
            "list_prompts": lambda: prompt_files.list_prompts(ws, "HEAD~1"),
            "list_prompt_files": lambda: ws.store.list_prompt_files(commit),
            "list_partials": lambda: prompt_files.list_partials(ws, "HEAD~1"),
        }
        _each_unreadable(
            reads, sha, commit
        )  # `ls-tree` says "not a tree object" of a root tree: the commit is named
        assert [r.name for r in prompt_files.list_prompts(ws, "HEAD")] == [
            "greeting",
            "support/summarize",
        ]  # the rest still reads
    code = run_app(["-C", str(repo), "test", "--all", "--rev", "HEAD~1", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and (sha in err or commit in err) and "git fsck" in err and out == "", (out, err)


# ----------------------------------------------------------------- tags: for-each-ref, try_resolve
def test_a_release_whose_tag_object_is_gone(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`for-each-ref` with the tags' targets fails: before, status listed no releases at all."""
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "support/summarize", "HEAD~1")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="first")
        assert env_status.status(ws).rows
    sha = delete_object(repo, "refs/tags/support/summarize@v1")
    with RepoSession.open(repo) as ws:
        assert ws.store.try_resolve("refs/tags/support/summarize@v2") is None  # no such tag: an answer
        reads = {
            "try_resolve": lambda: ws.store.try_resolve("refs/tags/support/summarize@v1"),
            "tag_targets": lambda: ws.store.tag_targets(RELEASE_TAGS),
            "status": lambda: env_status.status(ws),
            "timeline": lambda: timeline(ws),
        }
        _each_unreadable(reads, sha)
    for argv in (["status"], ["timeline"]):
        code = run_app(["-C", str(repo), *argv])
        out, err = capsys.readouterr()
        assert code == 2 and sha in err and "git fsck" in err and out == "", (argv, out, err)


def test_a_deployment_whose_tag_object_is_gone(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The latest prod event's tag is there, its object is not: before, prod read as running the
    version before it (History, export) or as not deployed (the event read alone)."""
    with RepoSession.open(repo) as ws:
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="first")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="second")
        latest = deployment_events.current_event(ws, "support/summarize", "prod")
        assert latest is not None and latest.commit == ws.store.resolve("HEAD")
    sha = delete_object(repo, f"refs/tags/{latest.tag}")
    with RepoSession.open(repo) as ws:
        reads = {
            "try_resolve": lambda: ws.store.try_resolve(f"refs/tags/{latest.tag}"),
            "current_event": lambda: deployment_events.current_event(ws, "support/summarize", "prod"),
            "deployments": lambda: deployment_events.deployments(ws, "support/summarize", "prod"),
        }
        _each_unreadable(reads, sha)
    for argv in (
        ["history", "support/summarize", "--env", "prod"],
        ["export", str(tmp_path / "out"), "-e", "prod"],
        ["status"],
    ):
        code = run_app(["-C", str(repo), *argv])
        out, err = capsys.readouterr()
        assert code == 2 and sha in err and "git fsck" in err and out == "", (argv, out, err)
    assert not (tmp_path / "out" / "manifest.json").exists()


def test_a_tag_whose_commit_is_gone(repo: Path) -> None:
    """The tag object is there and names a commit that is not: `try_resolve` said "no such ref"."""
    run_git(repo, "checkout", "-q", "--detach")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    lost = commit_all(repo, "Only the tag keeps this")
    run_git(repo, "tag", "-a", "-m", "kept", "kept")
    run_git(repo, "checkout", "-q", "main")
    delete_object(repo, lost)
    with RepoSession.open(repo) as ws, pytest.raises(RepoUnreadable) as caught:
        ws.store.try_resolve("kept")
    _unreadable(caught, lost)


def test_a_corrupt_tag_object(repo: Path) -> None:
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "support/summarize", "HEAD")
    sha = corrupt_object(repo, "refs/tags/support/summarize@v1")
    with RepoSession.open(repo) as ws:
        reads = {
            "try_resolve": lambda: ws.store.try_resolve("refs/tags/support/summarize@v1"),
            "tag_targets": lambda: ws.store.tag_targets(RELEASE_TAGS),
        }
        _each_unreadable(reads, sha)


# ----------------------------------------------------------------- the timeline's merges
def test_the_timeline_with_a_commit_gone_under_a_merge(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Merges are listed by `git log --merges` of the main line: before, they were left out."""
    run_git(repo, "checkout", "-q", "-b", "feature")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    commit_all(repo, "Shorter greeting")
    run_git(repo, "checkout", "-q", "main")
    run_git(repo, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature")
    run_git(repo, "branch", "-q", "-D", "feature")
    with RepoSession.open(repo) as ws:
        assert [e.kind for e in timeline(ws)] == ["merge"]
    sha = corrupt_object(repo, "HEAD~2")
    code = run_app(["-C", str(repo), "timeline", "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and sha in err and "git fsck" in err and out == "", (out, err)


def test_cli_log_of_a_damaged_history(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sha = delete_object(repo, "HEAD~1")
    for argv in (["log", "support/summarize"], ["log", "support/summarize", "--json"]):
        code = run_app(["-C", str(repo), *argv])
        out, err = capsys.readouterr()
        assert code == 2 and out == "", (argv, out, err)
        assert "Git cannot read the repository" in err and sha in err and "git fsck" in err, err


@pytest.mark.parametrize("gone", ["moved", "removed"])
def test_a_partial_clone_whose_remote_is_gone_is_not_damaged(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], gone: str) -> None:
    """A `--filter=blob:none` clone reads an old version's blob from its promisor remote; with
    the remote moved away that read failed as "the repository is damaged: git fsck ...", which
    sends the user hunting for corruption. Nothing is damaged: the message now says the object
    was not fetched into this partial clone and the remote could not be reached (a removed
    remote leaves git saying only "missing object": the clone's `.promisor` packs tell)."""
    run_git(repo, "config", "uploadpack.allowFilter", "true")
    with RepoSession.open(repo) as session:
        releases.tag_release(session, "support/summarize", "HEAD~2")
    clone = tmp_path / "partial"
    run_git(tmp_path, "clone", "-q", "--filter=blob:none", repo.as_uri(), str(clone))
    if gone == "moved":
        repo.rename(tmp_path / "moved")
    else:
        run_git(clone, "remote", "remove", "origin")
    with RepoSession.open(clone) as session, pytest.raises(RepoUnreadable) as caught:
        prompt_files.prompt_at(session, "support/summarize", "support/summarize@v1")
    said = f"{caught.value} {caught.value.hint}"
    assert "partial clone" in said and "could not be reached" in said
    assert "the repository is damaged" not in said and "fsck" not in said
    assert run_app(["-C", str(clone), "diff", "support/summarize", "support/summarize@v1"]) != 0
    err = capsys.readouterr().err
    assert "partial clone" in err and "fsck" not in err
