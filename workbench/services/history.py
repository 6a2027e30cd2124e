"""The history of one prompt: the commits that changed it, with their releases and deployments.

A release or deployment tag points at whatever commit was HEAD when it was made, which need
not have touched the prompt. It belongs to the history entry whose content it names: the
newest commit at or before the tag that changed the prompt (or its tests file, a partial it
includes, or a file its assertions name: `suite_files.suite_dependencies_at`). The CLI's
`log` and the app's History both show entries built here, so they always agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from workbench.core.graph import GraphRow, graph_rows
from workbench.core.model import prompt_name_from_path
from workbench.core.versions import (
    CommitInfo,
    HistoryEntry,
    ReleaseTag,
    encode_ref_component,
    parse_deploy_tag,
    parse_release_tag,
)
from workbench.errors import NotFound
from workbench.services.deployment_events import BULK_THRESHOLD, events_for_tags
from workbench.services.prompt_files import candidate_paths, path_at
from workbench.services.session import RepoSession
from workbench.services.suite_files import suite_dependencies_at
from workbench.vcs.deferred import Deferred
from workbench.vcs.records import LogEntry

CONTAINS_LIMIT = 500  # a page of more commits has its tags found one by one (`tag_commits`)
PAGE_TAGS_LIMIT = 256  # pages whose tags a session remembers
K = TypeVar("K")


def tag_patterns(*names: str) -> list[str]:
    """for-each-ref patterns for the release and deployment tags of some prompts."""
    patterns = []
    for name in sorted(names):
        encoded = encode_ref_component(name)
        patterns += [f"refs/tags/{encoded}@v*", f"refs/tags/deploy/*/{encoded}/*"]
    return patterns


def history(session: RepoSession, name: str, limit: int = 50, offset: int = 0, rev: str = "HEAD") -> list[HistoryEntry]:
    """Commits that touched prompt `name`, newest first, renames followed, paged.

    Each entry carries the release tags and deployment events of its content. `branches` is
    left None: ask `branches_containing(commit)` for the entry the user looks at.
    """
    store = session.store
    if not store.has_commits():
        return []
    path = _prompt_path(session, name, rev)
    # The prompt's tag names are listed beside `git log`, their objects checked: the page's own
    # listing of its tags (`git tag --contains`) passes over a tag whose object is gone, and the
    # version prod runs showed no prod badge. Once the session showed a page of the prompt, the
    # names also tell whether it knows the page's tags.
    pending = store.ref_names_later(*tag_patterns(name))
    raw = _log_with_tests_file(session, path, rev, offset + limit)[offset : offset + limit]
    return _with_tags(session, name, path, raw, pending.result(), suite_dependencies_at(session, path, rev))


def cut_short(session: RepoSession, entries: Sequence[HistoryEntry]) -> str | None:
    """What to say when a shallow clone cuts this history: its oldest commit shown is one whose
    parents were not fetched, so older versions may exist (None: nothing is cut here)."""
    oldest = entries[-1].commit.sha if entries else None
    if oldest is None or oldest not in session.store.shallow_commits():
        return None
    return f"shallow clone: the history ends at {oldest[:10]}, whose parents were not fetched; older versions may exist (git fetch --unshallow)"


def version_commits(session: RepoSession, name: str, rev: str, count: int) -> list[str]:
    """The commits of the newest `count` versions of `name` at or before `rev`: History's rows,
    without reading their tags (for finding which row a commit's content belongs to)."""
    if not session.store.has_commits():
        return []
    return [info.sha for info, _change, _path, _old in _log_with_tests_file(session, _prompt_path(session, name, rev), rev, count)]


def _prompt_path(session: RepoSession, name: str, rev: str) -> str:
    """Where `name` lives: in the working copy, else at `rev`, else where it was last seen."""
    return path_at(session, name, None) or path_at(session, name, session.store.try_resolve(rev)) or _deleted_path(session, name, rev)


@dataclass(frozen=True)
class BranchHistory:
    """A prompt's commits on every branch, with the graph that joins them."""

    entries: tuple[HistoryEntry, ...]
    graph: tuple[GraphRow, ...]  # one row per entry
    heads: dict[str, tuple[str, ...]]  # commit -> the branches whose version of the prompt it is


def branch_history(session: RepoSession, name: str, limit: int = 200, offset: int = 0) -> BranchHistory:
    """The commits of every local and remote-tracking branch that touched `name` (and its tests
    file), newest first in topological order, with graph lanes (forks, merges) and branch heads.

    Renames are not followed across branches (History's current-branch mode follows them).
    """
    store = session.store
    if not store.has_commits():
        return BranchHistory((), (), {})
    path = _prompt_path(session, name, "HEAD")
    paths = [path, *suite_dependencies_at(session, path, "HEAD")]
    # The prompt's tags and the branches, in one listing beside `git log` (started after it: a
    # process started while another starts waits for a core, on 2 cores).
    pending_log = store.log_branches_later(paths, limit=offset + limit)
    pending = store.ref_names_later(*tag_patterns(name), "refs/heads/", "refs/remotes/")
    raw = pending_log.result()
    rows = graph_rows([(info.sha, info.parents) for info, _, _, _ in raw])[offset : offset + limit]
    raw = raw[offset : offset + limit]
    refs = pending.result()
    tag_refs = [ref for ref in refs if ref.startswith("refs/tags/")]
    branch_refs = [ref for ref in refs if ref.startswith(("refs/heads/", "refs/remotes/")) and not ref.endswith("/HEAD")]
    # The page's listing of its tags, beside `_branch_heads`' look-ups; for a renamed prompt only
    # once its older names' tags are listed (`_with_tags`).
    owners = _page_owners(name, raw)
    listing = _page_tags_later(session, owners, raw) if tag_refs and owners == {name} else None
    heads: dict[str, list[str]] = {}
    for ref, commit in _branch_heads(session, branch_refs, path, paths, raw).items():
        heads.setdefault(commit, []).append(ref.removeprefix("refs/heads/").removeprefix("refs/remotes/"))
    entries = _with_tags(session, name, path, raw, tag_refs, paths[1:], listing)
    return BranchHistory(tuple(entries), tuple(rows), {commit: tuple(sorted(names)) for commit, names in heads.items()})


def _branch_heads(session: RepoSession, refs: list[str], path: str, paths: list[str], page: list[LogEntry]) -> dict[str, str]:
    """For each branch, the listed commit whose version of the prompt it holds.

    The prompt's blob at each branch tip and at each listed commit are read through the
    persistent `cat-file` helper (no process: 251 look-ups, 4.8 ms where a `cat-file
    --batch-check` process took 9.4, and it runs beside the page's listing of its tags). Nothing changed the prompt on a branch
    after its newest commit that touched it, so the tip holds that commit's blob: a blob that
    only one listed commit has places the branch at once (a later change of the tests file
    alone would be a second commit with the same blob). A `git log` per branch is left for the
    ambiguous ones (the same content twice: a merge and the branch it merged, a revert).
    """
    store = session.store
    specs = [(info.sha, entry_path or path) for info, _change, entry_path, _old in page] + [(ref, path) for ref in refs]
    blobs = [store.blob_sha(rev, file) for rev, file in specs]
    by_blob: dict[str, list[str]] = {}
    for (info, _change, _path, _old), blob in zip(page, blobs, strict=False):
        if blob is not None:
            by_blob.setdefault(blob, []).append(info.sha)
    found: dict[str, str] = {}
    unsure = []
    for ref, blob in zip(refs, blobs[len(page) :], strict=True):
        candidates = by_blob.get(blob, []) if blob is not None else []
        if len(candidates) == 1:
            found[ref] = candidates[0]
        elif candidates:
            unsure.append(ref)
        # No listed commit holds it: the branch's version is older than this page.
    found.update(store.newest_touching(unsure, paths) if unsure else {})
    return found


def _with_tags(
    session: RepoSession,
    name: str,
    path: str,
    raw: list[LogEntry],
    tag_refs: list[str],
    tests_files: list[str],
    listing: Deferred[dict[str, str]] | None = None,
) -> list[HistoryEntry]:
    """History entries with the release tags and deployment events of their content attached.

    `tag_refs`: the prompt's tags, listed before the page's listing of its tags was started;
    `listing`: `_page_tags_later`, when the caller started it already.
    """
    if not raw:
        return []
    owners = _page_owners(name, raw)
    older_names = owners - {name}
    if older_names:  # renamed: the older names' tags too, listed before the page's listing starts
        tag_refs = tag_refs + session.store.ref_names_later(*tag_patterns(*older_names)).result()
    tags = [ref[len("refs/tags/") :] for ref in tag_refs if ref]
    commits = _page_tag_commits(session, tags, owners, raw, listing)
    listed = [(tag, commits[tag]) for tag in tags if tag in commits]  # in the order refs are listed
    paths = sorted({path, *(p for _, _, p, _ in raw if p), *(o for _, _, _, o in raw if o), *tests_files})
    in_page = {entry[0].sha for entry in raw}
    # An entry that is not a merge changed the prompt: its tags are its own. A merge may have
    # kept one side's version (every branch's page draws it): asked as any other commit.
    changes = {entry[0].sha for entry in raw if len(entry[0].parents) < 2}
    owners_of = _content_owners(session, {commit for _, commit in listed} - changes, raw, paths)
    releases: dict[str, list[ReleaseTag]] = {}
    event_tags: dict[str, list[str]] = {}
    for tag, commit in listed:
        owner = commit if commit in changes else owners_of.get(commit)
        if owner not in in_page:
            continue
        release = parse_release_tag(tag)
        if release is not None:
            if release[0] in owners:
                releases.setdefault(owner, []).append(ReleaseTag(release[0], release[1], tag, commit))
            continue
        parsed = parse_deploy_tag(tag)
        if parsed is not None and parsed[1] in owners:
            event_tags.setdefault(owner, []).append(tag)
    # The page's events, labelled from the release tags of their commits, which the page's listing
    # holds (an event's commit is its tag's: one of those listed).
    listed_releases = [ReleaseTag(r[0], r[1], tag, commit) for tag, commit in listed if (r := parse_release_tag(tag)) is not None]
    page_events = events_for_tags(session, [tag for tags in event_tags.values() for tag in tags], releases=listed_releases)
    events_by_tag = {event.tag: event for event in page_events}
    entries = []
    for info, change, entry_path, old in raw:
        found = (events_by_tag[tag] for tag in event_tags.get(info.sha, []) if tag in events_by_tag)
        events = sorted(found, key=lambda e: (e.seq, e.env))
        entries.append(
            HistoryEntry(
                commit=info,
                path=entry_path or path,
                change=change,
                releases=tuple(sorted(releases.get(info.sha, []), key=lambda r: r.number)),
                deployments=tuple(events),
                branches=None,
                old_path=old,
            )
        )
    return entries


def _page_owners(name: str, raw: list[LogEntry]) -> set[str]:
    """The prompt's name and the names it had on the page (renamed): whose tags the page shows."""
    return {name, *(prompt_name_from_path(p) for _, _, p, _ in raw if p)}


def _page_tags_later(session: RepoSession, owners: set[str], raw: list[LogEntry]) -> Deferred[dict[str, str]] | None:
    """The listing `_page_tag_commits` reads, started now; None when the session has it, or the
    page is too long to name on a command line."""
    page = tuple(entry[0].sha for entry in raw)
    patterns = tuple(tag_patterns(*owners))
    if not page or len(page) > CONTAINS_LIMIT or (page, patterns) in session.cache.page_tags:
        return None
    return session.store.tags_containing_later(page, *patterns)


def _page_tag_commits(
    session: RepoSession, tags: list[str], owners: set[str], raw: list[LogEntry], listing: Deferred[dict[str, str]] | None
) -> dict[str, str]:
    """Tag -> its commit, for the tags of `tags` (listed before this listing starts) that may belong
    to an entry of the page: the tags whose commit is an entry's or has one in its history. A
    tag belongs to the entry of its content, a commit at or before it, so no other tag can;
    most tags of a long history are older than its first page, and finding their content
    walked the whole history twice (two `rev-list`s). One `git tag --contains` per page and set
    of tags (cached for the session). Its patterns match a few more tags than `tags`' listing
    (`*` matches `/` there): tags of other prompts, which the caller leaves out by name.
    """
    patterns = tag_patterns(*owners)
    page = tuple(entry[0].sha for entry in raw)
    if len(page) > CONTAINS_LIMIT:
        return dict(zip(tags, tag_commits(session, tags, patterns), strict=True))
    cache = session.cache.page_tags
    key = (page, tuple(patterns))
    known = cache.get(key)
    if listing is None and (not tags or (known is not None and known[0].issuperset(tags))):
        found = known[1] if known is not None else {}
    else:
        found = (listing or session.store.tags_containing_later(page, *patterns)).result()
        if len(cache) >= PAGE_TAGS_LIMIT:
            cache.clear()
        cache[key] = (frozenset(tags), found)
    return {tag: found[tag] for tag in tags if tag in found}


def _log_with_tests_file(session: RepoSession, path: str, rev: str, count: int) -> list[LogEntry]:
    """`git log --follow` of the prompt, plus commits that only changed its tests file, a
    partial it includes or a file its assertions name (those it uses now)."""
    store = session.store
    raw = store.log_path(path, limit=count, rev=rev)
    # `git log --follow` also follows copies, so a prompt created as a copy of another would
    # inherit that one's history: stop at the copy instead.
    for index, (info, change, entry_path, _old) in enumerate(raw):
        if change == "C":
            raw = [*raw[:index], (info, "A", entry_path, None)]
            break
    others = suite_dependencies_at(session, path, rev)  # its tests files, partials and assertion files
    if not others:
        return raw
    followed = {entry[0].sha: entry for entry in raw}
    union = store.log(rev, limit=count, paths=[path, *others])
    created = next((entry[0].sha for entry in raw if entry[1] == "A"), None)
    if created is not None:
        # A shared partial is older than most prompts that include it: its commits from before
        # the prompt existed are not this prompt's history.
        cut = next((i for i, info in enumerate(union) if info.sha == created), None)
        if cut is not None:
            union = union[: cut + 1]
    merged: list[LogEntry] = [followed.get(info.sha, (info, "M", path, None)) for info in union]
    in_union = {info.sha for info in union}
    return merged + [entry for entry in raw if entry[0].sha not in in_union]


def _content_owners(session: RepoSession, commits: set[str], page: list[LogEntry], paths: Sequence[str]) -> dict[str, str | None]:
    """For each tag commit, the commit of its content: the newest commit at or before it that
    changed `paths`, as `git log -n1 <commit> -- <paths>` names it (after a merge that kept one
    side's files, that side's change; see `last_commits_touching`), else None. One rule for
    every page and session: every branch's page draws merges that changed nothing of the
    prompt, and never owns a tag with them.

    Cached per session; a few commits ask git one by one (`last_commit_touching`), many are
    answered from one walk of the graph down to the page's oldest entry. A commit whose content
    is older than that entry is not on the page: kept as None for this page, not the session
    (another page may show it).
    """
    if not commits:
        return {}
    cache = session.cache.touching
    key_paths = tuple(paths)
    this_page = _page_cache(session.cache.page_owners, (tuple(entry[0].sha for entry in page), key_paths))
    missing = [c for c in commits if (c, key_paths) not in cache and c not in this_page]
    if len(missing) > 4 and page:
        walked = session.store.last_commits_touching(missing, page[-1][0].sha, paths)
        for commit in missing:
            if commit in walked:
                cache[(commit, key_paths)] = walked[commit]
            else:
                this_page[commit] = None
    for commit in missing:
        if (commit, key_paths) not in cache and commit not in this_page:
            cache[(commit, key_paths)] = session.store.last_commit_touching(commit, paths)
    return {c: cache.get((c, key_paths)) for c in commits}


def _page_cache(caches: dict[K, dict[str, None]], key: K) -> dict[str, None]:
    """The session's cache for one page (all of them dropped once PAGE_TAGS_LIMIT pages are kept)."""
    if key not in caches and len(caches) >= PAGE_TAGS_LIMIT:
        caches.clear()
    return caches.setdefault(key, {})


def require_known(session: RepoSession, name: str, env: str | None = None) -> None:
    """For a command that found nothing about `name` (no deployment, no production event): an
    environment not in workbench.yaml, or a prompt neither in the working copy nor in the current
    branch's history (a deleted one counts), is an error, as for every other command; else "none"
    is the answer.

    Raises:
        WorkbenchError: an unknown environment. NotFound: an unknown prompt.
    """
    if env is not None:
        session.require_env(env)
    if path_at(session, name, None) is not None:
        return
    head = session.store.try_resolve("HEAD")
    if head is None:
        raise NotFound(f"no prompt named {name!r} in this repository", hint="see `workbench list`")
    if path_at(session, name, head) is None:
        _deleted_path(session, name, head)


def _deleted_path(session: RepoSession, name: str, rev: str) -> str:
    """The path of a prompt that exists neither in the working copy nor at `rev` (deleted)."""
    for path in candidate_paths(name):
        if session.store.last_commit_touching(rev, [path]):
            return path
    raise NotFound(f"no prompt named {name!r} in the working copy or this branch's history", hint="see `workbench list`; a prompt of another branch: switch to it")


def tag_commits(session: RepoSession, tags: Sequence[str], patterns: Sequence[str] = ("refs/tags/",)) -> list[str]:
    """The commit each tag points at (many at once: one listing of `patterns`); cached per session."""
    cache = session.cache.tag_targets
    missing = [t for t in tags if t not in cache]
    if len(missing) > BULK_THRESHOLD:
        cache.update(session.store.tag_targets(*patterns))
    for tag in missing:
        if tag not in cache:
            cache[tag] = session.store.try_resolve(f"refs/tags/{tag}") or ""
    return [cache[t] for t in tags]


def commit_info(session: RepoSession, commit: str) -> CommitInfo:
    return session.store.commit_info(commit)


def branches_containing(session: RepoSession, commit: str) -> list[str]:
    return session.store.branches_containing(commit)
