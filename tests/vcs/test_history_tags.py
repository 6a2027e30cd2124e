"""Which History entry a release or deployment tag belongs to: the entry of its content, the same
in a fresh session and in one that read other pages first, with tags on commits that did not
change the prompt, a rename, a branch that forked before the page, and every branch's page."""

from __future__ import annotations

from pathlib import Path

from vcs_helpers import GREETING, SUMMARIZE, commit_all, record_processes, run_git, write

from workbench.services import deployments, history
from workbench.services.session import RepoSession
from workbench.vcs.git_commands import writes

NAME = "support/summarize"


def _release(repo: Path, name: str, number: int, rev: str = "HEAD") -> None:
    run_git(repo, "tag", "-a", "-m", f"Release {name}@v{number}", f"{name}@v{number}", rev)


def _labels(entries: list) -> list[tuple[str, list[str]]]:
    return [(e.commit.subject, [r.label for r in e.releases]) for e in entries]


def _build(repo: Path) -> dict[str, str]:
    """Eight changes of the prompt, each released on the commit after it (which changed another
    prompt), then three more changes; a branch off the first change with its own release."""
    first = run_git(repo, "rev-parse", "HEAD").strip()
    for n in range(1, 9):
        write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", f"tone {n}"))
        commit_all(repo, f"tone {n}")
        write(repo, "prompts/greeting.yaml", GREETING + f"# {n}\n")
        commit_all(repo, f"greeting {n}")
        _release(repo, NAME, n)  # on a commit that did not change the prompt
    for n in range(9, 12):
        write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", f"tone {n}"))
        commit_all(repo, f"tone {n}")
    run_git(repo, "branch", "old", first)
    return {"first": first}


def test_a_later_page_of_a_session_attaches_the_tags_a_fresh_session_does(repo: Path) -> None:
    """A walk for the first page found no entry for the releases older than it, and the session
    kept that "none" for every page: the next page of the same session showed no release."""
    _build(repo)
    expected = [(f"tone {n}", [f"{NAME}@v{n}"]) for n in range(8, 0, -1)]
    with RepoSession.open(repo) as fresh:
        assert _labels(history.history(fresh, NAME, limit=8, offset=3)) == expected
    with RepoSession.open(repo) as session:
        assert _labels(history.history(session, NAME, limit=3)) == [(f"tone {n}", []) for n in (11, 10, 9)]
        assert _labels(history.history(session, NAME, limit=8, offset=3)) == expected
        assert _labels(history.history(session, NAME, limit=3)) == [(f"tone {n}", []) for n in (11, 10, 9)]
        every = history.branch_history(session, NAME, limit=30).entries
        assert [labels for subject, labels in _labels(list(every)) if subject.startswith("tone ")][3:11] == [e[1] for e in expected]


def test_tags_before_the_page_or_off_its_history_are_not_attached(repo: Path) -> None:
    """Only tags whose commit is a shown entry or has one in its history can belong to the page;
    the others (older releases, one on a branch that forked before the page) are not attached,
    and a cold page asks git no walk of the history for them."""
    _build(repo)
    run_git(repo, "switch", "-q", "old")
    write(repo, "prompts/greeting.yaml", GREETING + "# on old\n")
    commit_all(repo, "greeting on old")
    _release(repo, NAME, 20)  # content: the first version, on a branch off the page
    run_git(repo, "switch", "-q", "main")
    with RepoSession.open(repo) as cold:
        started = record_processes(cold)
        page = history.history(cold, NAME, limit=4)
        assert _labels(page) == [("tone 11", []), ("tone 10", []), ("tone 9", []), ("tone 8", [f"{NAME}@v8"])]
        assert not [a for a in started if a[0] == "rev-list"], started
        # The tag names (their objects checked) beside the log, the page's tags, the content of
        # the one tag after "tone 8"; the next time, the names tell that the session knows them.
        assert [a[0] for a in started] == ["for-each-ref", "log", "tag", "log"], started
        started.clear()
        assert _labels(history.history(cold, NAME, limit=4)) == _labels(page)
        assert [a[0] for a in started] == ["for-each-ref", "log"], started  # all its tags are known now
        _release(repo, NAME, 21, "HEAD~1")  # a new tag: the page's tags are listed again
        started.clear()
        assert _labels(history.history(cold, NAME, limit=4))[1] == ("tone 10", [f"{NAME}@v21"])
        assert [a[0] for a in started] == ["for-each-ref", "log", "tag"], started
    with RepoSession.open(repo) as fresh:
        shown = dict(_labels(history.history(fresh, NAME, limit=50)))  # its content is shown now
        assert shown["Calm summaries"] == [f"{NAME}@v20"] and shown["tone 1"] == [f"{NAME}@v1"] and shown["tone 11"] == []


def test_a_renamed_prompt_keeps_the_tags_of_its_old_name_and_its_events(repo: Path) -> None:
    _build(repo)
    run_git(repo, "mv", "prompts/support/summarize.yaml", "prompts/support/short.yaml")
    commit_all(repo, "rename")
    write(repo, "prompts/greeting.yaml", GREETING + "# after rename\n")
    commit_all(repo, "greeting after rename")
    _release(repo, "support/short", 1)
    with RepoSession.open(repo) as ws:
        event = deployments.promote(ws, "support/short", "dev", rev="support/short@v1", reason="try")
    for limit in (4, 20):
        with RepoSession.open(repo) as fresh:
            entries = history.history(fresh, "support/short", limit=limit)
            assert entries[0].commit.subject == "rename" and entries[0].old_path == "prompts/support/summarize.yaml"
            assert [r.label for r in entries[0].releases] == ["support/short@v1"]
            assert [e.tag for e in entries[0].deployments] == [event.tag]
            shown = {subject: labels for subject, labels in _labels(entries)}
            assert shown["tone 11"] == [] and all(shown[f"tone {n}"] == [f"{NAME}@v{n}"] for n in range(1, 9) if f"tone {n}" in shown)
            assert ("tone 8" in shown) == (limit == 20)


def test_listing_tags_is_a_read_and_making_one_is_not() -> None:
    assert not writes(("tag", "--list", "--contains=abc", "--", "x@v*"))
    assert not writes(("tag", "-l"))
    assert writes(("tag", "-a", "-m", "-l", "x@v1"))  # a message that reads "-l"
    assert writes(("tag", "x@v1")) and writes(("tag",))


def test_a_read_only_session_shows_a_page_with_its_tags(repo: Path) -> None:
    _build(repo)
    with RepoSession.open(repo, read_only=True) as session:
        assert _labels(history.history(session, NAME, limit=5, offset=3))[0] == ("tone 8", [f"{NAME}@v8"])


def test_a_prompt_shows_its_own_tags_only(repo: Path) -> None:
    """Git's tag patterns let `*` match `/`: `deploy/*/c/*` lists the events of `x/c` with those
    of `c` when git tag lists them, and only `c`'s are attached."""
    events = {}
    for name in ("c", "x/c", "c/x"):
        write(repo, f"prompts/{name}.yaml", GREETING)
        commit_all(repo, f"{name}: first")
        write(repo, "prompts/greeting.yaml", GREETING + f"# {name}\n")
        commit_all(repo, f"greeting after {name}")
        with RepoSession.open(repo) as ws:
            events[name] = deployments.promote(ws, name, "dev", reason="try").tag
    for _ in range(2):  # a fresh session, then one that lists the tag names
        with RepoSession.open(repo) as session:
            for name in ("c", "x/c", "c/x"):
                for _ in range(2):
                    entries = history.history(session, name)
                    assert _labels(entries) == [(f"{name}: first", [f"{name}@v1"])]
                    assert [e.tag for e in entries[0].deployments] == [events[name]]


def test_a_cold_page_labels_its_events_from_its_own_listing_of_tags(repo: Path) -> None:
    """A page's events were labelled from one more listing of the release tags, after the page's
    own: the releases of their commits are in that one (a split, or a message naming another
    version, still reads the listing: see `checked_events`)."""
    with RepoSession.open(repo) as ws:
        for back, env in ((2, "dev"), (1, "staging"), (0, "prod")):
            deployments.promote(ws, NAME, env, rev=f"HEAD~{back}", reason="spread")
    with RepoSession.open(repo) as cold:
        started = record_processes(cold)
        entries = history.history(cold, NAME)
        assert [(e.version, e.env) for entry in entries for e in entry.deployments] == [
            (f"{NAME}@v3", "prod"), (f"{NAME}@v2", "staging"), (f"{NAME}@v1", "dev")
        ]
        assert [a[0] for a in started] == ["for-each-ref", "log", "tag"], started


def test_a_release_whose_commit_is_gone_is_gits_error_on_both_pages(repo: Path) -> None:
    """An annotated tag whose object is there but whose commit is gone: `git tag --contains`
    passes over it without a word, and the names' listing read only the tag object, so the
    release vanished from History with no error. Its commit is read too now: Git's error."""
    import pytest
    from vcs_helpers import delete_object

    from workbench.errors import RepoUnreadable

    _build(repo)
    tree = run_git(repo, "rev-parse", "HEAD^{tree}").strip()
    lost = run_git(repo, "commit-tree", "-p", "HEAD", "-m", "lost", tree).strip()
    _release(repo, NAME, 30, lost)
    delete_object(repo, lost)
    for page in (lambda s: history.history(s, NAME), lambda s: history.branch_history(s, NAME).entries):
        with RepoSession.open(repo) as session, pytest.raises(RepoUnreadable, match=lost):
            page(session)


def test_a_tag_of_an_older_name_made_during_a_page_is_shown_on_the_next(repo: Path) -> None:
    """A renamed prompt's page listed its older names' tags beside its listing of tags: a release
    of an older name made between the two was among the names the session took as known, and
    stayed hidden for the session. The older names are listed before the page's listing now."""
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "tone 1"))
    first = commit_all(repo, "tone 1")
    _release(repo, NAME, 1, first)
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "tone 2"))
    second = commit_all(repo, "tone 2")
    run_git(repo, "mv", "prompts/support/summarize.yaml", "prompts/support/short.yaml")
    commit_all(repo, "rename")
    with RepoSession.open(repo) as session:
        store = session.store
        names_later, containing_later = store.ref_names_later, store.tags_containing_later

        class ReadWhenAsked:  # the older names' listing reads the refs when its result is asked for
            def __init__(self, patterns: tuple[str, ...]) -> None:
                self.patterns = patterns

            def result(self) -> list[str]:
                return names_later(*self.patterns).result()

        def late_names(*patterns: str) -> object:
            return ReadWhenAsked(patterns) if any(NAME in p for p in patterns) else names_later(*patterns)

        def containing_then_tagged(commits: object, *patterns: str) -> object:
            found = containing_later(commits, *patterns).result()
            _release(repo, NAME, 2, second)  # a release of the older name lands after this listing
            return type("Done", (), {"result": lambda self: found})()

        store.ref_names_later, store.tags_containing_later = late_names, containing_then_tagged  # type: ignore[method-assign]
        history.history(session, "support/short")
        store.ref_names_later, store.tags_containing_later = names_later, containing_later  # type: ignore[method-assign]
        shown = dict(_labels(history.history(session, "support/short")))
    assert shown["tone 2"] == [f"{NAME}@v2"] and shown["tone 1"] == [f"{NAME}@v1"], shown
