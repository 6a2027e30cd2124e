"""Which History entry a tag belongs to after merges: the commit `git log -n1 <tag> -- <prompt>`
names (git's history simplification: a merge whose prompt is one parent's leads to that
parent's history; a merge whose prompt differs from every parent's is itself the change).
The same on the single-prompt page and on every branch's page, in a fresh session and in one
that read other pages first, whether a page has few tags (asked one by one) or many (a walk)."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.services import history
from workbench.services.session import RepoSession

NAME = "support/summarize"
PATH = "prompts/support/summarize.yaml"
# Where the tags go: on merges and on commits after them that changed another prompt.
POSITIONS = ("after ours", "ours merge", "after theirs", "theirs merge", "after normal", "normal merge")


def _prompt(tone: str, description: str = "Summarise a support ticket") -> str:
    return SUMMARIZE.replace("neutral", tone).replace("Summarise a support ticket", description)


def _touch_greeting(repo: Path, subject: str) -> str:
    write(repo, "prompts/greeting.yaml", GREETING + f"# {subject}\n")
    return commit_all(repo, subject)


def _build(repo: Path, count: int) -> dict[str, str]:
    """main and side change the prompt; an "ours" merge of side keeps main's version; a normal
    merge joins both sides' changes (a version neither side had); a merge of side when main
    had not changed the prompt since takes side's version. `count` tags, on POSITIONS."""
    at: dict[str, str] = {}
    run_git(repo, "branch", "side")
    write(repo, PATH, _prompt("main 1"))
    at["main 1"] = commit_all(repo, "main 1")
    run_git(repo, "switch", "-q", "side")
    write(repo, PATH, _prompt("side 1"))
    at["side 1"] = commit_all(repo, "side 1")
    run_git(repo, "switch", "-q", "main")
    _touch_greeting(repo, "before ours")
    run_git(repo, "merge", "-q", "-s", "ours", "-m", "ours merge", "side")
    at["ours merge"] = run_git(repo, "rev-parse", "HEAD").strip()
    at["after ours"] = _touch_greeting(repo, "after ours")
    run_git(repo, "switch", "-q", "side")
    write(repo, PATH, _prompt("side 1", "Summarise a ticket"))
    at["side 2"] = commit_all(repo, "side 2")
    run_git(repo, "switch", "-q", "main")
    run_git(repo, "merge", "-q", "--no-edit", "-m", "normal merge", "side")
    at["normal merge"] = run_git(repo, "rev-parse", "HEAD").strip()
    assert (repo / PATH).read_text(encoding="utf-8") == _prompt("main 1", "Summarise a ticket")
    at["after normal"] = _touch_greeting(repo, "after normal")
    run_git(repo, "switch", "-q", "side")
    run_git(repo, "merge", "-q", "--ff-only", "main")
    write(repo, PATH, _prompt("main 1", "Summarise one ticket"))
    at["side 3"] = commit_all(repo, "side 3")
    run_git(repo, "switch", "-q", "main")
    _touch_greeting(repo, "before theirs")
    run_git(repo, "merge", "-q", "--no-edit", "-m", "theirs merge", "side")
    at["theirs merge"] = run_git(repo, "rev-parse", "HEAD").strip()
    at["after theirs"] = _touch_greeting(repo, "after theirs")
    for number, position in enumerate(POSITIONS[:count], start=1):
        run_git(repo, "tag", "-a", "-m", f"Release {number}", f"{NAME}@v{number}", at[position])
    return at


def _owners(repo: Path, count: int, at: dict[str, str]) -> dict[str, str]:
    """Tag -> the commit git names as the last change of the prompt at the tag."""
    return {
        f"{NAME}@v{number}": run_git(repo, "log", "-n1", "--format=%H", at[position], "--", PATH).strip()
        for number, position in enumerate(POSITIONS[:count], start=1)
    }


def _attached(entries: object) -> dict[str, str]:
    """Tag -> the commit of the entry it is shown on."""
    return {release.tag: entry.commit.sha for entry in entries for release in entry.releases}  # type: ignore[attr-defined]


def _expected(owners: dict[str, str], entries: object) -> dict[str, str]:
    shown = {entry.commit.sha for entry in entries}  # type: ignore[attr-defined]
    return {tag: owner for tag, owner in owners.items() if owner in shown}


PAGES = {
    "head": lambda s, at: history.history(s, NAME),
    "head, 3": lambda s, at: history.history(s, NAME, limit=3),
    "after normal": lambda s, at: history.history(s, NAME, rev=at["after normal"]),
    "after ours": lambda s, at: history.history(s, NAME, rev=at["after ours"]),
    "every branch": lambda s, at: history.branch_history(s, NAME).entries,
    "every branch, 4": lambda s, at: history.branch_history(s, NAME, limit=4).entries,
}


@pytest.mark.parametrize("count", range(1, 7))
def test_a_tag_after_a_merge_belongs_to_the_commit_git_names_on_every_page(repo: Path, count: int) -> None:
    at = _build(repo, count)
    owners = _owners(repo, count, at)
    # What git says: the "ours" merge keeps main's version, so its tags are main's change
    # (not the merge, which every branch's page draws); a merge that took side's version
    # leads to side's change; the normal merge made a version of its own.
    assert owners[f"{NAME}@v1"] == at["main 1"]
    if count >= 2:
        assert owners[f"{NAME}@v2"] == at["main 1"]
    if count >= 4:
        assert owners[f"{NAME}@v3"] == owners[f"{NAME}@v4"] == at["side 3"]
    if count >= 6:
        assert owners[f"{NAME}@v5"] == owners[f"{NAME}@v6"] == at["normal merge"]
    fresh: dict[str, dict[str, str]] = {}
    for page, read in PAGES.items():
        with RepoSession.open(repo) as session:
            entries = read(session, at)
            fresh[page] = _attached(entries)
            assert fresh[page] == _expected(owners, entries), page
    for first in PAGES:  # a session that read another page first, then every page
        with RepoSession.open(repo) as session:
            PAGES[first](session, at)
            for page, read in PAGES.items():
                assert _attached(read(session, at)) == fresh[page], (first, page)
    with RepoSession.open(repo) as session:  # every branch's page draws the merges
        every = {entry.commit.sha for entry in history.branch_history(session, NAME).entries}
    assert {at["ours merge"], at["theirs merge"], at["main 1"], at["normal merge"], at["side 3"]} <= every


def test_the_walk_for_many_commits_answers_as_git_log_does_for_one(repo: Path) -> None:
    """`last_commits_touching` (many tags) against `git log -n1 <commit> -- <path>` (a few), for
    every commit of every branch, down to each commit that changed the prompt."""
    _build(repo, 0)
    commits = run_git(repo, "rev-list", "--branches").split()
    oldest = run_git(repo, "rev-list", "--branches", "--", PATH).split()
    with RepoSession.open(repo) as session:
        store = session.store
        expected = {commit: store.last_commit_touching(commit, [PATH]) for commit in commits}
        for stop in oldest:
            walked = store.last_commits_touching(commits, stop, [PATH])
            assert walked == {c: owner for c, owner in expected.items() if c in walked}, stop
            # Left out: those whose answer is older than `stop`, none other.
            older = {c for c in commits if c not in walked}
            assert all(expected[c] and run_git(repo, "rev-list", f"{stop}^@", "--").split().count(expected[c]) for c in older), stop
