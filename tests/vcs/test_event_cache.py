"""Deployment events remembered across sessions (`services.event_cache`): a cold `status` reads
no tag it read before, and nothing in the file can make it say another version runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.services import deployment_events, deployments, env_status, event_cache
from workbench.services.event_cache import cache_file
from workbench.services.session import RepoSession
from workbench.services.verdicts import user_signer
from workbench.vcs.store import GitStore


@pytest.fixture
def deployed(repo: Path, ws: RepoSession) -> Path:
    deployments.promote(ws, "support/summarize", "dev", rev="HEAD~2", reason="first")
    deployments.promote(ws, "support/summarize", "staging", rev="HEAD~2", reason="first")
    deployments.promote(ws, "support/summarize", "dev", reason="second")
    deployments.promote(ws, "greeting", "dev", reason="hello")
    return repo


class Reads:
    """How many tag objects a session asked Git for (bulk listings and single reads)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.bulk = 0
        self.single = 0
        bulk, single = GitStore.tag_objects, GitStore.read_tag_object

        def counted_bulk(store: GitStore, pattern: str) -> dict[str, tuple[str, str]]:
            self.bulk += 1
            return bulk(store, pattern)

        def counted_single(store: GitStore, spec: str) -> tuple[str, str] | None:
            self.single += 1
            return single(store, spec)

        monkeypatch.setattr(GitStore, "tag_objects", counted_bulk)
        monkeypatch.setattr(GitStore, "read_tag_object", counted_single)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Reads:
    return Reads(monkeypatch)


def cold_status(repo: Path, *, read_only: bool = False) -> env_status.EnvStatus:
    with RepoSession.open(repo, read_only=read_only) as session:
        return env_status.status(session)


def deployed_versions(status: env_status.EnvStatus) -> dict[tuple[str, str], str | None]:
    return {(row.name, cell.env): cell.event.version if cell.event else None for row in status.rows for cell in row.cells}


def test_a_second_cold_status_reads_no_tag_object(deployed: Path, reads: Reads) -> None:
    first = cold_status(deployed)
    assert reads.single == 3  # the three current events, read once
    assert cache_file(deployed / ".git").is_file()
    second = cold_status(deployed)
    assert reads.single == 3 and reads.bulk == 0
    assert second == first
    assert deployed_versions(second)[("support/summarize", "dev")] == "support/summarize@v2"


def test_a_new_event_is_read_and_remembered(deployed: Path, ws: RepoSession, reads: Reads) -> None:
    cold_status(deployed)
    deployments.promote(ws, "greeting", "staging", reason="next")
    deployments.rollback(ws, "support/summarize", "dev", reason="bad")
    before = reads.single
    status = cold_status(deployed)
    assert reads.single == before + 2  # only the two new events
    assert deployed_versions(status)[("greeting", "staging")] == "greeting@v1"
    assert deployed_versions(status)[("support/summarize", "dev")] == "support/summarize@v1"
    cold_status(deployed)
    assert reads.single == before + 2


def test_many_unknown_objects_are_read_in_one_listing(deployed: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(event_cache, "BULK_THRESHOLD", 2)  # three current events: "many"
    before = reads.single
    status = cold_status(deployed)
    assert (reads.bulk, reads.single) == (1, before)
    assert deployed_versions(status)[("greeting", "dev")] == "greeting@v1"
    cold_status(deployed)
    assert (reads.bulk, reads.single) == (1, before)


def _rewrite_body(repo: Path, old: bytes, new: bytes) -> None:
    """Change what the file says, keeping its signature (as someone without the key could)."""
    file = cache_file(repo / ".git")
    mac, _, body = file.read_bytes().partition(b"\n")
    assert old in body
    file.write_bytes(mac + b"\n" + body.replace(old, new))


def test_an_edited_file_is_ignored(deployed: Path, reads: Reads) -> None:
    truth = cold_status(deployed)
    _rewrite_body(deployed, b"support/summarize@v2", b"support/summarize@v9")
    before = reads.single
    assert cold_status(deployed) == truth
    assert reads.single == before + 3  # read from Git again


def test_a_file_signed_with_another_key_is_ignored(deployed: Path, reads: Reads, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    truth = cold_status(deployed)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "someone-else"))
    signer = user_signer()
    assert signer is not None
    file = cache_file(deployed / ".git")
    _, _, body = file.read_bytes().partition(b"\n")
    forged = body.replace(b"support/summarize@v2", b"support/summarize@v9")
    file.write_bytes(signer(forged).encode() + b"\n" + forged)
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(Path.home() / ".cache"))
    assert cold_status(deployed) == truth


@pytest.mark.parametrize("content", [b"", b"\n", b"not a mac\n{}", b"\xff" * 100, b"0" * 64 + b"\n[1, 2"])
def test_a_damaged_file_is_ignored(deployed: Path, content: bytes) -> None:
    truth = cold_status(deployed)
    cache_file(deployed / ".git").write_bytes(content)
    assert cold_status(deployed) == truth


def test_a_read_only_session_writes_no_file(deployed: Path) -> None:
    cold_status(deployed, read_only=True)
    assert not cache_file(deployed / ".git").exists()


def test_a_planted_link_sends_no_write_outside(deployed: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (deployed / ".git" / "workbench").mkdir(exist_ok=True)
    (deployed / ".git" / "workbench").rename(tmp_path / "moved")
    (deployed / ".git" / "workbench").symlink_to(outside)
    cold_status(deployed)
    assert list(outside.iterdir()) == []


def test_a_tag_replaced_under_the_same_name_shows_its_new_object(deployed: Path, reads: Reads) -> None:
    # A fetch can replace a tag (same name, another object): the file is keyed by object id.
    cold_status(deployed)
    tag = run_git(deployed, "for-each-ref", "--format=%(refname:strip=2)", "refs/tags/deploy/dev/greeting/").strip()
    message = run_git(deployed, "tag", "-l", "--format=%(contents)", tag).replace('reason: "hello"', 'reason: "replaced"')
    run_git(deployed, "tag", "-f", "-a", "--cleanup=verbatim", "-m", message, tag, "HEAD~1")
    status = cold_status(deployed)
    cell = next(c for r in status.rows if r.name == "greeting" for c in r.cells if c.env == "dev")
    assert cell.event is not None and cell.event.reason == "replaced"
    assert cell.event.commit == run_git(deployed, "rev-parse", "HEAD~1").strip()


def test_events_parsed_by_other_code_are_parsed_again(deployed: Path, reads: Reads, monkeypatch: pytest.MonkeyPatch) -> None:
    # After an upgrade the parser may read a message otherwise: the file names the code that wrote it.
    truth = cold_status(deployed)
    monkeypatch.setattr(event_cache, "fingerprint", lambda: "another version of workbench.core")
    before = reads.single
    assert cold_status(deployed) == truth
    assert reads.single == before + 3


def test_a_hand_written_tag_reads_the_same_from_the_cache(deployed: Path, reads: Reads) -> None:
    released = run_git(deployed, "rev-parse", "greeting@v1^{commit}").strip()  # a canary is a release of its prompt
    message = f'by hand\n\nreason: "manual"\ncanary: {{"commit": "{released}", "percent": 5}}'
    run_git(deployed, "tag", "-a", "-m", message, "deploy/dev/greeting/20990101000000000-00000000")
    first = cold_status(deployed)
    event = next(c for r in first.rows if r.name == "greeting" for c in r.cells if c.env == "dev").event
    assert event is not None and event.reason == "manual" and event.canary is not None and event.canary.percent == 5
    before = reads.single
    assert cold_status(deployed) == first
    assert reads.single == before


# --------------------------------------------------------------------------- races with Git
def _listed(repo: Path, prefix: str) -> event_cache.TagToRead:
    """The newest tag under `prefix` as `status` lists it: (name, object id, parsed name)."""
    from workbench.core.versions import parse_deploy_tag

    tag = run_git(repo, "for-each-ref", "--sort=-refname", "--count=1", "--format=%(refname:strip=2)", f"refs/tags/{prefix}").strip()
    parsed = parse_deploy_tag(tag)
    assert parsed is not None
    return tag, run_git(repo, "rev-parse", f"refs/tags/{tag}").strip(), parsed


def _status_without_the_file(repo: Path) -> env_status.EnvStatus:
    cache_file(repo / ".git").unlink(missing_ok=True)
    return cold_status(repo, read_only=True)


def test_a_tag_replaced_between_listing_and_reading_caches_nothing_false(deployed: Path) -> None:
    # `status` lists (name, object id), then reads the objects: a fetch that force-replaces the
    # tag in between must not leave the new object's event filed under the old object's id,
    # which a later listing naming the old object again (the tag put back) would then show.
    listed = _listed(deployed, "deploy/dev/greeting/")
    tag, old_object = listed[0], listed[1]
    message = run_git(deployed, "tag", "-l", "--format=%(contents)", tag).replace('reason: "hello"', 'reason: "replaced"')
    run_git(deployed, "tag", "-f", "-a", "--cleanup=verbatim", "-m", message, tag, "HEAD~1")
    with RepoSession.open(deployed) as session:
        event_cache.read_events(session, [listed], "refs/tags/deploy/")
    run_git(deployed, "update-ref", f"refs/tags/{tag}", old_object)  # put back, as another fetch would
    status = cold_status(deployed)
    cell = next(c for r in status.rows if r.name == "greeting" for c in r.cells if c.env == "dev")
    assert cell.event is not None and cell.event.reason == "hello"
    assert status == _status_without_the_file(deployed)


def test_a_tag_deleted_between_listing_and_reading_is_not_remembered_as_no_event(deployed: Path) -> None:
    # Read while the tag was gone, the object's event was filed as "not an event": the tag back
    # under the same object (a fetch restoring it) then showed greeting deployed nowhere.
    listed = _listed(deployed, "deploy/dev/greeting/")
    tag, old_object = listed[0], listed[1]
    run_git(deployed, "tag", "-d", tag)
    with RepoSession.open(deployed) as session:
        event_cache.read_events(session, [listed], "refs/tags/deploy/")
    run_git(deployed, "update-ref", f"refs/tags/{tag}", old_object)
    status = cold_status(deployed)
    assert deployed_versions(status)[("greeting", "dev")] == "greeting@v1"
    assert status == _status_without_the_file(deployed)


def test_a_tag_object_gone_when_read_is_not_remembered(deployed: Path, tmp_path: Path) -> None:
    # Deleted and pruned between listing and reading: nothing to read, and nothing filed under
    # its id, so that the same object fetched back later (the tag restored from a clone) shows.
    listed = _listed(deployed, "deploy/dev/greeting/")
    tag = listed[0]
    mirror = tmp_path / "mirror.git"
    run_git(tmp_path, "clone", "-q", "--mirror", str(deployed), str(mirror))
    run_git(deployed, "tag", "-d", tag)
    run_git(deployed, "prune", "--expire=now")
    assert run_git(deployed, "cat-file", "--batch-check", stdin=listed[1] + "\n").strip().endswith("missing")
    with RepoSession.open(deployed) as session:
        assert event_cache.read_events(session, [listed], "refs/tags/deploy/") == {tag: None}
    run_git(deployed, "fetch", "-q", str(mirror), f"refs/tags/{tag}:refs/tags/{tag}")
    status = cold_status(deployed)
    assert deployed_versions(status)[("greeting", "dev")] == "greeting@v1"
    assert status == _status_without_the_file(deployed)


def test_a_deployment_tag_whose_object_is_gone_is_gits_error_not_never_deployed(deployed: Path) -> None:
    # A damaged repository (an object deleted, a borrowed object store gone): the tag is there
    # and names an object Git cannot read. Status said greeting was deployed nowhere in dev and
    # history left the event out (git for-each-ref itself fails: "missing object").
    from workbench.errors import RepoUnreadable

    oid = _listed(deployed, "deploy/dev/greeting/")[1]
    (deployed / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    with RepoSession.open(deployed) as session, pytest.raises(RepoUnreadable, match=oid):
        env_status.status(session)
    assert not cache_file(deployed / ".git").exists()
    with RepoSession.open(deployed) as session, pytest.raises(RepoUnreadable, match=oid):
        deployment_events.deployments(session, "greeting", "dev")


def test_a_tag_object_deleted_after_it_was_cached_is_gits_error_too(deployed: Path, reads: Reads) -> None:
    # The same damage, after a status had cached the event: status showed the cached event
    # while history and the timeline said the repository is damaged.
    from workbench.errors import RepoUnreadable

    cold_status(deployed)
    oid = _listed(deployed, "deploy/dev/greeting/")[1]
    (deployed / ".git" / "objects" / oid[:2] / oid[2:]).unlink()
    with RepoSession.open(deployed) as session, pytest.raises(RepoUnreadable, match=oid):
        env_status.status(session)
    assert reads.bulk == 0  # the other cached events are still not read again


def test_a_fifo_in_place_of_the_file_does_not_hang_status(deployed: Path) -> None:
    """Opening a FIFO for reading waits for a writer: status hung for ever."""
    import os
    import threading

    expected = _status_without_the_file(deployed)
    cache_file(deployed / ".git").parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(cache_file(deployed / ".git"))
    answers: list[env_status.EnvStatus] = []
    reader = threading.Thread(target=lambda: answers.append(cold_status(deployed, read_only=True)), daemon=True)
    reader.start()
    reader.join(20)
    assert answers == [expected]


# How an event is stored in the file, as of each event_cache.FORMAT (a digest of the syntax
# tree of the code that writes and reads an entry: comments and formatting do not count). The
# file names the code of `workbench.core` that parsed the events (`fingerprint`), not this module.
ENTRY_CODE = {1: "948a26fc09e0980d", 2: "c3dd68c37b1ef640", 3: "e66ba7a578af36a8"}


def _entry_digest() -> str:
    import ast
    import hashlib
    import inspect
    import textwrap

    tree = "\n".join(ast.dump(ast.parse(textwrap.dedent(inspect.getsource(code)))) for code in (event_cache._fields, event_cache._event))
    return hashlib.sha256(f"{event_cache._STORED}\n{tree}".encode()).hexdigest()[:16]


def test_the_file_format_changes_with_the_code_that_stores_an_entry() -> None:
    """An entry is a list of fields by position: reordering or reshaping them without bumping
    FORMAT would read the files of the previous version with the fields swapped (another `who`,
    `when` or version in status). This fails until FORMAT is bumped and the digest recorded."""
    digest = _entry_digest()
    assert ENTRY_CODE.get(event_cache.FORMAT) == digest, (
        f"how an event is stored changed (digest {digest}): bump FORMAT in services/event_cache.py "
        f"and add {{{event_cache.FORMAT + 1}: {digest!r}}} to ENTRY_CODE"
    )
