"""Reading prompts at any revision without a checkout, working-copy states, history, diffs."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, INVALID, SUMMARIZE, commit_all, run_git, write

from workbench.cli import run_app
from workbench.core.versions import WorkingState
from workbench.errors import NotFound, RepoError
from workbench.services import diffing, history, prompt_files, releases, revisions
from workbench.services.session import RepoSession


def test_list_and_read_at_any_revision_without_checkout(repo: Path, ws: RepoSession) -> None:
    first = run_git(repo, "rev-list", "--max-parents=0", "HEAD").strip()
    assert [r.name for r in prompt_files.list_prompts(ws, "HEAD")] == ["greeting", "support/summarize"]
    assert [r.name for r in prompt_files.list_prompts(ws, None)] == ["greeting", "support/summarize"]
    old = prompt_files.prompt_at(ws, "support/summarize", first)
    assert old.ok, old.problems
    assert old.prompt is not None and "neutral" in old.prompt.source
    assert "calm" in (prompt_files.read_text(ws, "support/summarize", "main") or "")
    assert "friendly" in (prompt_files.read_text(ws, "support/summarize", "HEAD~1") or "")
    assert (repo / "prompts/support/summarize.yaml").read_text().count("calm") == 1  # nothing checked out
    missing = prompt_files.prompt_at(ws, "nope", "HEAD")
    assert not missing.ok and "does not exist" in missing.problems[0].message


def test_unknown_revision_is_a_clear_error(ws: RepoSession) -> None:
    with pytest.raises(RepoError, match="unknown revision"):
        prompt_files.prompt_at(ws, "greeting", "no-such-branch")
    with pytest.raises(RepoError, match="no release"):
        prompt_files.prompt_at(ws, "greeting", "greeting@v9")


def test_working_states(repo: Path, ws: RepoSession) -> None:
    write(repo, "prompts/greeting.yaml", GREETING + "# edited\n")
    write(repo, "prompts/new one.yaml", GREETING)
    write(repo, "prompts/broken.yaml", INVALID)
    (repo / "prompts/support/summarize.yaml").unlink()
    states = prompt_files.working_states(ws)
    assert states == {
        "broken": WorkingState.INVALID,
        "greeting": WorkingState.MODIFIED,
        "new one": WorkingState.NEW,
        "support/summarize": WorkingState.DELETED,
    }


def test_history_newest_first_paged_with_authors(repo: Path, ws: RepoSession) -> None:
    entries = history.history(ws, "support/summarize")
    assert [e.commit.subject for e in entries] == ["Calm summaries", "Friendlier summaries", "Add prompts"]
    assert entries[0].commit.author_name == "Test User"
    assert entries[-1].change == "A"
    page = history.history(ws, "support/summarize", limit=1, offset=1)
    assert [e.commit.subject for e in page] == ["Friendlier summaries"]
    assert history.branches_containing(ws, entries[0].commit.sha) == ["main"]


def test_history_follows_a_rename_and_reads_old_paths(repo: Path, ws: RepoSession) -> None:
    run_git(repo, "mv", "prompts/support/summarize.yaml", "prompts/support/digest.yaml")
    commit_all(repo, "Rename summarize to digest")
    entries = history.history(ws, "support/digest")
    assert [e.commit.subject for e in entries] == [
        "Rename summarize to digest",
        "Calm summaries",
        "Friendlier summaries",
        "Add prompts",
    ]
    assert entries[0].change == "R" and entries[0].old_path == "prompts/support/summarize.yaml"
    assert entries[1].path == "prompts/support/summarize.yaml"
    # The renamed prompt can be read and diffed at a commit from before the rename.
    old = prompt_files.prompt_at(ws, "support/digest", entries[2].commit.sha)
    assert old.ok and old.prompt is not None and "friendly" in old.prompt.source
    diff = diffing.diff(ws, "support/digest", entries[2].commit.sha, "HEAD")
    assert [s.title for s in diff.changed_sections] == ["message 1 (system)"]


def test_deleted_and_readded_prompt_keeps_its_whole_history(repo: Path, ws: RepoSession) -> None:
    (repo / "prompts/greeting.yaml").unlink()
    commit_all(repo, "Remove greeting")
    assert history.history(ws, "greeting")[0].change == "D"
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "hi"))
    commit_all(repo, "Bring greeting back")
    entries = history.history(ws, "greeting")
    assert [(e.commit.subject, e.change) for e in entries] == [
        ("Bring greeting back", "A"),
        ("Remove greeting", "D"),
        ("Add prompts", "A"),
    ]
    diff = diffing.diff(ws, "greeting", "HEAD~1", "HEAD")
    assert diff.left_text is None and diff.right_text is not None


def test_unicode_and_spaces_in_names(repo: Path, ws: RepoSession) -> None:
    name = "équipe/résumé du ticket 日本"
    write(repo, f"prompts/{name}.yaml", SUMMARIZE)
    commit_all(repo, "Unicode prompt")
    write(repo, f"prompts/{name}.yaml", SUMMARIZE.replace("neutral", "brief"))
    assert name in [r.name for r in prompt_files.list_prompts(ws, "HEAD")]
    assert prompt_files.working_states(ws)[name] is WorkingState.MODIFIED
    assert [e.commit.subject for e in history.history(ws, name)] == ["Unicode prompt"]
    assert diffing.diff(ws, name).changed_sections[0].title == "message 1 (system)"
    release = releases.tag_release(ws, name)
    assert release.tag.label == f"{name}@v1"
    assert prompt_files.prompt_at(ws, name, f"{name}@v1").ok
    assert history.history(ws, name)[0].releases[0].label == f"{name}@v1"


def test_diff_defaults_working_copy_vs_head_and_one_arg(repo: Path, ws: RepoSession) -> None:
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "good morning"))
    diff = diffing.diff(ws, "greeting")
    assert diff.left_label == "HEAD" and diff.right_label == "working copy"
    assert [s.title for s in diff.changed_sections] == ["message 1 (user)"]
    assert "+    content: \"Say good morning to {{ user }}\"" in diff.unified
    same = diffing.diff(ws, "support/summarize", "HEAD", "main")
    assert not same.changed


def test_empty_repo_and_not_a_repo(tmp_path: Path) -> None:
    with pytest.raises(RepoError, match="not inside a Git repository"):
        RepoSession.open(tmp_path)
    run_git(tmp_path, "init", "-q", "-b", "main")
    with RepoSession.open(tmp_path) as ws:
        assert history.history(ws, "anything") == []
        with pytest.raises(RepoError, match="no commits yet"):
            prompt_files.prompt_at(ws, "greeting", "HEAD")
        assert prompt_files.list_prompts(ws, None) == []


def test_history_includes_commits_to_the_prompts_tests_file(repo: Path, ws: RepoSession) -> None:
    external = SUMMARIZE.split("tests:")[0] + "tests: file://summarize.tests.yaml\n"
    cases = "- description: refund request is flagged\n  vars: {ticket: I want my money back}\n"
    write(repo, "prompts/support/summarize.yaml", external)
    write(repo, "prompts/support/summarize.tests.yaml", cases)
    commit_all(repo, "Move tests to a file")
    write(repo, "prompts/support/summarize.tests.yaml", cases + "- description: short\n  vars: {ticket: hi}\n")
    commit_all(repo, "One more test case")
    entries = history.history(ws, "support/summarize")
    assert [e.commit.subject for e in entries][:3] == ["One more test case", "Move tests to a file", "Calm summaries"]
    assert entries[0].path == "prompts/support/summarize.yaml"
    loaded = prompt_files.prompt_at(ws, "support/summarize", entries[1].commit.sha)
    assert loaded.ok, loaded.problems
    assert loaded.prompt is not None and [t.description for t in loaded.prompt.tests] == ["refund request is flagged"]
    assert len(prompt_files.prompt_at(ws, "support/summarize", "HEAD").prompt.tests) == 2  # type: ignore[union-attr]


def test_a_name_with_brackets_is_a_path_not_a_pattern(repo: Path) -> None:
    """Git reads `[ab]` in a pathspec as a pattern: the history of a prompt named `[ab]c`
    listed the commits of `ac` too, and its last commit could be one of them."""
    write(repo, "prompts/ac.yaml", GREETING)
    commit_all(repo, "ac: first")
    write(repo, "prompts/[ab]c.yaml", GREETING)
    commit_all(repo, "[ab]c: first")
    write(repo, "prompts/ac.yaml", GREETING + "# later\n")
    commit_all(repo, "ac: later")
    with RepoSession.open(repo) as ws:
        assert [e.commit.subject for e in history.history(ws, "[ab]c")] == ["[ab]c: first"]
        assert [e.commit.subject for e in history.history(ws, "ac")] == ["ac: later", "ac: first"]
        write(repo, "prompts/ac.yaml", GREETING + "# uncommitted\n")
        assert prompt_files.working_states(ws)["[ab]c"] is WorkingState.CLEAN


@pytest.mark.parametrize("spec", ["HEAD^{tree}", "HEAD:prompts/greeting.yaml"])
def test_a_revision_that_names_a_tree_or_a_blob_is_not_a_commit_not_damage(repo: Path, spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    """cat-file's "expected commit type, but the object dereferences to tree type" was read as
    damage: "the repository is damaged: git fsck ..." for a clean repository."""
    sha = run_git(repo, "rev-parse", spec).strip()
    with RepoSession.open(repo) as ws:
        for rev in (sha, spec):
            with pytest.raises(NotFound, match="not a commit"):
                revisions.resolve(ws, rev)
    assert run_app(["-C", str(repo), "diff", "greeting", sha]) == 2
    err = capsys.readouterr().err
    assert "not a commit" in err and "damaged" not in err and "fsck" not in err


@pytest.mark.parametrize("releases_ahead", [2, 6])
def test_releases_of_later_commits_are_not_attached_to_an_older_one(repo: Path, ws: RepoSession, releases_ahead: int) -> None:
    """With HEAD behind several releases (a branch off an old commit), History attached every
    later release to the oldest shown commit once more than four were off the page (the
    batched walk passed the commits that changed the prompt in between): a release belongs
    to a shown commit only when that commit is its content."""
    first = run_git(repo, "rev-parse", "HEAD").strip()
    releases.tag_release(ws, "support/summarize")
    for number in range(releases_ahead):
        write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", f"tone {number}"))
        commit_all(repo, f"tone {number}")
        releases.tag_release(ws, "support/summarize")
    run_git(repo, "switch", "-q", "-c", "old", first)
    with RepoSession.open(repo) as session:
        entries = history.history(session, "support/summarize")
    assert entries[0].commit.sha == first
    assert [r.label for r in entries[0].releases] == ["support/summarize@v1"]
    assert all(not e.releases for e in entries[1:])
