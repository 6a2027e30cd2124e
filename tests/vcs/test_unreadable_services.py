"""Code that turns "not there" into an answer ("none", "unchanged", "not offered") gives that
answer only when Git answered. A repository Git refuses (another user's: "detected dubious
ownership") or cannot read (a damaged `.git/config`) gives Git's own error instead: before,
the timeline said a version did not exist, `ci promote` reported "unchanged" with Git's
refusal as the reason, and the app offered no rollback target.

Both breakages are real: GIT_TEST_ASSUME_DIFFERENT_OWNER is Git's own ownership check (see
test_refused_repo.py), and a config line Git cannot parse stops every git command.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.cli import run_app
from workbench.errors import NotFound, NothingToDo, RepoUnreadable
from workbench.services import ci, deployments, releases
from workbench.services.evals import EvalSettings
from workbench.services.session import RepoSession
from workbench.services.timeline import timeline, versions_of

REFUSED = "detected dubious ownership in repository"
DAMAGED = "bad config line 1"


@pytest.fixture(params=["refused", "damaged"])
def breaks(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], str]:
    """A function that makes a repository unreadable to Git and returns what Git then says."""

    def apply(root: Path) -> str:
        if request.param == "refused":
            monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")
            words = REFUSED
        else:
            (root / ".git" / "config").write_text("[core\n\tbare = false\n")
            words = DAMAGED
        found = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True)
        assert found.returncode == 128 and words in found.stderr, found.stderr
        return words

    return apply


def test_versions_of_a_timeline_event(repo: Path, breaks: Callable[[Path], str]) -> None:
    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "support/summarize", "HEAD~1")
        deployments.promote(ws, "support/summarize", "staging", rev="HEAD~1", reason="first")
        deployments.promote(ws, "support/summarize", "staging", rev="HEAD", reason="second")
        events = timeline(ws)
        promoted = next(e for e in events if e.kind == "promote" and e.previous_commit)
        version, replaced = versions_of(ws, promoted)
        assert version is not None and replaced is not None
        # A prompt with no history: Git answered, and the answer is "none".
        assert versions_of(ws, replace(promoted, prompts=("no/such-prompt",))) == (None, None)
    words = breaks(repo)
    with RepoSession.open(repo) as ws:
        for event in (promoted, next(e for e in events if e.kind == "release")):
            with pytest.raises(RepoUnreadable, match=words):
                versions_of(ws, event)


def _passed_check(ws: RepoSession, root: Path) -> ci.CiCheck:
    check = ci.plan_check(ws, ci.validate(root), "HEAD~1", EvalSettings())
    check = asyncio.run(ci.run_check(ws, check, EvalSettings()))
    assert check.exit_code == 0 and [p.name for p in check.prompts] == ["support/summarize"]
    return check


def test_ci_promote(repo: Path, breaks: Callable[[Path], str]) -> None:
    with RepoSession.open(repo) as ws:
        check = _passed_check(ws, repo)
        assert [p.status for p in ci.promote_changed(ws, check)] == ["promoted"]
        again = ci.promote_changed(ws, check)  # dev runs it already: Git's answer
        assert [(p.status, p.detail) for p in again] == [("unchanged", "dev already runs support/summarize@v1 for support/summarize")]
    words = breaks(repo)
    with RepoSession.open(repo) as ws, pytest.raises(RepoUnreadable, match=words):
        ci.promote_changed(ws, check)


def test_the_rollback_targets_the_app_offers(repo: Path, breaks: Callable[[Path], str]) -> None:
    def offered(ws: RepoSession, selected: str) -> object:
        """The selected version's plan alone (rollback_choices also plans the previous one, whose
        own Git error would hide a swallowed one here)."""
        return deployments._offered(ws, "support/summarize", "prod", selected)

    with RepoSession.open(repo) as ws:
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="first")
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="second")
        older = ws.store.resolve("HEAD~1")
        assert deployments.rollback_choices(ws, "support/summarize", "prod", older)[0].commit == older  # the previous one
        assert offered(ws, ws.store.resolve("HEAD~2")) is None  # never ran there
        never = deployments.plan_rollback(ws, "support/summarize", "prod", "HEAD~2")  # `rollback --to` it: a promotion
        assert "prod never ran v3: this rollback follows the policy of prod like a promotion" in never.notes
    words = breaks(repo)
    with RepoSession.open(repo) as ws, pytest.raises(RepoUnreadable, match=words):
        offered(ws, older)


def test_answers_are_their_own_classes(repo: Path) -> None:
    """What callers catch to mean "none" or "unchanged" (and nothing else)."""
    with RepoSession.open(repo) as ws:
        with pytest.raises(NotFound):
            ws.store.resolve("no-such-branch")
        with pytest.raises(NotFound):
            deployments.plan_rollback(ws, "support/summarize", "prod")
        deployments.promote(ws, "greeting", "dev", reason="r")
        with pytest.raises(NothingToDo):
            deployments.plan_promote(ws, "greeting", "dev")


def test_the_cli_says_what_git_says(repo: Path, breaks: Callable[[Path], str], capsys: pytest.CaptureFixture[str]) -> None:
    words = breaks(repo)
    for args in (["timeline"], ["switch", "main"], ["ci", "promote"], ["rollback", "greeting", "--env", "prod", "-m", "x"]):
        code = run_app(["-C", str(repo), *args])
        out, err = capsys.readouterr()
        assert code == 2 and words in err and "Git cannot read the repository" in err, (args, out, err)


def _damage_object(root: Path, spec: str) -> str:
    """Overwrite the loose object `spec` names with bytes that do not inflate; returns its id."""
    sha = subprocess.run(["git", "rev-parse", spec], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    path = root / ".git" / "objects" / sha[:2] / sha[2:]
    path.chmod(0o644)
    path.write_bytes(b"not zlib at all")
    return sha


def test_a_damaged_object_is_gits_error_not_a_missing_prompt(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`cat-file --batch` answers "missing" for an object it cannot inflate (its reasons go to
    stderr): the prompt "existed neither at HEAD~2 nor at HEAD~1"."""
    sha = _damage_object(repo, "HEAD~1:prompts/support/summarize.yaml")
    with RepoSession.open(repo) as ws:
        # A warning left unread on the helper's stderr (an ambiguous name: refs/heads/main and
        # refs/tags/heads/main, which Git reads as the first) is no damage.
        run_git(repo, "tag", "heads/main", "HEAD~2")
        assert ws.store.try_resolve("heads/main") is not None
        assert ws.store.read_text("HEAD", "prompts/none.yaml") is None
        with pytest.raises(RepoUnreadable, match=f"unable to unpack {sha}"):
            ws.store.read_text("HEAD~1", "prompts/support/summarize.yaml")
        assert ws.store.read_text("HEAD~2", "prompts/support/summarize.yaml") is not None  # the rest still reads
    code = run_app(["-C", str(repo), "diff", "support/summarize", "HEAD~2", "HEAD~1"])
    out, err = capsys.readouterr()
    assert code == 2 and "Git cannot read the repository" in err and sha in err and "exists neither" not in err, (out, err)


def _delete_object(repo: Path, spec: str) -> str:
    sha = run_git(repo, "rev-parse", spec).strip()
    (repo / ".git" / "objects" / sha[:2] / sha[2:]).unlink()
    return sha


@pytest.mark.parametrize("spec", ["HEAD~1:prompts/support/summarize.yaml", "HEAD~1:prompts/support", "HEAD~1^{tree}"])
def test_a_deleted_object_is_gits_error_not_a_missing_prompt(repo: Path, spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`cat-file --batch` answers `<rev>:<path> missing` both for a path the tree does not have and
    for one whose object is gone (a damaged repository): the diff said "(none) -> HEAD~1, first
    version of support/summarize: every line is new"."""
    sha = _delete_object(repo, spec)
    with RepoSession.open(repo) as ws:
        assert ws.store.read_text("HEAD~2", "prompts/none.yaml") is None  # not in the tree: an answer
        assert ws.store.blob_sha("HEAD~2", "prompts/other/none.yaml") is None
        assert ws.store.blob_sha("HEAD~2", "prompts/support/summarize.yaml/none") is None
        with pytest.raises(RepoUnreadable, match=sha):
            ws.store.read_text("HEAD~1", "prompts/support/summarize.yaml")
        with pytest.raises(RepoUnreadable, match=sha):
            ws.store.blob_sha("HEAD~1", "prompts/support/summarize.yaml")
        assert ws.store.read_text("HEAD~2", "prompts/support/summarize.yaml") is not None  # the rest still reads
    code = run_app(["-C", str(repo), "diff", "support/summarize", "HEAD~2", "HEAD~1"])
    out, err = capsys.readouterr()
    assert code == 2 and "Git cannot read the repository" in err and sha in err and "(none)" not in out, (out, err)


def test_a_submodule_is_not_a_missing_object(repo: Path) -> None:
    """A submodule's commit is an object of another repository: absent here, and no damage."""
    run_git(repo, "update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},prompts/vendor")
    run_git(repo, "commit", "-q", "-m", "Vendor prompts (a submodule)")
    with RepoSession.open(repo) as ws:
        assert ws.store.blob_sha("HEAD", "prompts/vendor/x.yaml") is None
        assert ws.store.read_text("HEAD", "prompts/vendor") is None


def test_a_head_whose_commit_is_gone_is_gits_error_not_an_empty_repository(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """HEAD (and main) name a commit whose object is gone: "the repository has no commits yet"
    (commit your prompts first) and "no history for support/summarize" were the answers."""
    sha = _delete_object(repo, "HEAD")
    with RepoSession.open(repo) as ws:
        with pytest.raises(RepoUnreadable, match=sha):
            ws.store.has_commits()
        with pytest.raises(RepoUnreadable, match=sha):
            ws.store.resolve("main")
        with pytest.raises(NotFound):
            ws.store.resolve("no-such-branch")  # still an answer
        with pytest.raises(NotFound):
            ws.store.resolve("main~1:prompts")  # a name git cannot follow: an answer too
    for argv in (["diff", "support/summarize"], ["log", "support/summarize"]):
        code = run_app(["-C", str(repo), *argv])
        out, err = capsys.readouterr()
        assert code == 2 and "Git cannot read the repository" in err and sha in err, (argv, out, err)


def test_an_empty_repository_still_has_no_commits(tmp_path: Path) -> None:
    run_git(tmp_path, "init", "-q", "-b", "main")
    with RepoSession.open(tmp_path) as ws:
        assert not ws.store.has_commits()
        with pytest.raises(NotFound, match="no commits yet"):
            ws.store.resolve("HEAD")


def test_a_release_whose_tag_object_is_gone_is_gits_error_not_no_release(repo: Path) -> None:
    """The release tag is there and names an object that is gone: "no release support/summarize@v1"."""
    from workbench.runtime import PromptRepo
    from workbench.services import releases
    from workbench.services.revisions import target

    with RepoSession.open(repo) as ws:
        releases.tag_release(ws, "support/summarize", "HEAD~1")
    with PromptRepo(repo) as prompts:  # opened (its tags listed), then the tag's object goes
        sha = _delete_object(repo, "refs/tags/support/summarize@v1")
        with pytest.raises(RepoUnreadable, match=sha):
            prompts.get("support/summarize", version=1)
        with pytest.raises(NotFound, match="no release"):
            prompts.get("support/summarize", version=2)  # not there: still an answer
    with RepoSession.open(repo) as ws:
        with pytest.raises(RepoUnreadable, match=sha):
            target(ws, "support/summarize", "support/summarize@v1")
        with pytest.raises(NotFound, match="no release"):
            target(ws, "support/summarize", "support/summarize@v2")
