"""Sharing with a remote: push and fetch branches, tags (releases, deployments) and notes.

Nothing is ever forced: a rejected push is explained; a release number another clone took
first for another commit renumbers our unpushed release on fetch (for the same commit, the
remote's tag replaces ours); notes are merged.
"""

from __future__ import annotations

from dataclasses import replace

from workbench.core.git_text import remote_failure, server_said
from workbench.core.safe_text import clean
from workbench.core.versions import RefUpdate, SyncResult, parse_release_tag
from workbench.errors import NotFound, RepoError
from workbench.evals.secrets import known_secrets, register_url, scrub
from workbench.services.releases import Collisions, label_of, settle_collisions
from workbench.services.session import RepoSession
from workbench.services.test_results import NOTES_REF
from workbench.services.upkeep import speed_up_history_later
from workbench.services.write_lock import exclusive

SERVER_LINES = 10  # of the server's own words on a refused push: its reason fits; a page of it does not


def _require_remote(session: RepoSession, remote: str) -> str:
    """The remote's URL; its credentials (and the push URL's) become secrets that every text
    this process shows or writes is scrubbed of."""
    url = session.store.remote_url(remote)
    if url is None:
        raise NotFound(f"no remote named {remote!r}", hint=f"add one: git remote add {remote} URL")
    register_url(url)
    register_url(session.store.config_value(f"remote.{remote}.pushurl"))
    return url


def _failed(session: RepoSession, verb: str, what: str, output: str, remote: str) -> RepoError:
    """A failed push or fetch: one line, git's (and ssh's) reason and the server's words, no
    secret. In the app nothing may ask on the terminal (`terminal_prompts`): the hint says so."""
    if _stale_branch_clash(output, remote):
        return RepoError(
            f"{what} failed: {remote_failure(output, known_secrets())}",
            hint=(
                f"a branch on {remote} was renamed or deleted and a new one took a path through its name"
                f" (feature -> feature/a): your {remote}/ copy of the old one is in the way. Run"
                f" `git remote prune {remote}`, then `workbench fetch` again"
            ),
        )
    hint = "check the remote URL and your access"
    if not session.store.terminal_prompts:
        hint += (
            "; the app cannot answer a password or passphrase prompt: load the SSH key into"
            f" ssh-agent (ssh-add), use a credential helper, or run `workbench {verb}` in a shell"
        )
    return RepoError(f"{what} failed: {remote_failure(output, known_secrets())}", hint=hint)


def _stale_branch_clash(output: str, remote: str) -> bool:
    """Git could not write a remote-tracking branch because a stale one is a file or folder on
    its path ("cannot lock ref 'refs/remotes/origin/feature/a': 'refs/remotes/origin/feature'
    exists"): not a matter of URL or access, and pruning the stale ones ends it."""
    return any(
        "cannot lock ref 'refs/remotes/" + remote + "/" in line and "exists; cannot create" in line
        for line in output.splitlines()
    )


def _said(text: str) -> str:
    """Text from git or the server (a ref's summary, a rejection) as shown: no secret, no control character."""
    return clean(scrub(text))


def push(session: RepoSession, remote: str = "origin") -> SyncResult:
    """Push the current branch, all tags and the workbench notes; never forces."""
    store = session.store
    _require_remote(session, remote)
    refspecs = []
    branch = store.current_branch()
    if branch is not None and store.has_commits():
        refspecs.append(f"refs/heads/{branch}:refs/heads/{branch}")
    refspecs.append("refs/tags/*:refs/tags/*")
    if store.try_resolve(f"refs/notes/{NOTES_REF}") is not None:
        refspecs.append(f"refs/notes/{NOTES_REF}:refs/notes/{NOTES_REF}")
    ok, updates, err = store.push(remote, refspecs)
    updates = [replace(u, ref=_said(u.ref), summary=_said(u.summary)) for u in updates]
    rejected = [u for u in updates if u.rejected]
    if not ok and not rejected:
        raise _failed(session, "push", f"push to {remote}", err, remote)
    if branch is not None and ok:
        store.set_upstream(branch, remote)
    if rejected:
        details = [_explain_rejection(u, remote) for u in rejected]
        if any(_refused_by_server(u) for u in rejected):  # its reason is in its own words, nowhere else
            said = server_said(err, known_secrets())
            details += [f"{remote} said: {line}" for line in said[:SERVER_LINES]]
            if len(said) > SERVER_LINES:
                details.append(f"({len(said) - SERVER_LINES} more lines from {remote})")
        return SyncResult(False, tuple(updates), f"push to {remote} was rejected for {len(rejected)} ref(s)", details=details)
    changed = [u for u in updates if u.flag != "="]
    return SyncResult(True, tuple(updates), f"pushed {len(changed)} ref(s) to {remote}" if changed else "everything up to date")


def fetch(session: RepoSession, remote: str = "origin") -> SyncResult:
    """Fetch branches (as <remote>/*), tags and notes; merge the notes (cat_sort_uniq).

    A release number taken on the remote by another clone for a different commit, while ours
    was never pushed, is renumbered here (ours becomes the next free number) so the remote's
    tag can be fetched; one taken for the same commit is already released: ours is dropped for
    the remote's. Nothing published ever moves.
    """
    store = session.store
    _require_remote(session, remote)
    remote_tags = store.remote_tags(remote)
    settled = settle_collisions(session, remote_tags) if remote_tags is not None else Collisions([], [])
    before = store.ref_snapshot()
    ok, err = store.fetch(
        remote,
        [
            f"+refs/heads/*:refs/remotes/{remote}/*",
            "refs/tags/*:refs/tags/*",
            # a glob, so a remote without notes is not an error
            f"+refs/notes/{NOTES_REF}*:refs/notes/remotes/{remote}/{NOTES_REF}*",
        ],
    )
    details = []
    if not ok:
        clobber = [_said(line.strip()) for line in err.splitlines() if "rejected" in line or "clobber" in line]
        if not clobber or _stale_branch_clash(err, remote):  # the clash's hint, also beside a tag's
            raise _failed(session, "fetch", f"fetch from {remote}", err, remote)
        details.extend(clobber)
        details.append("a tag on the remote has the same name as a local tag but points elsewhere; tags never move")
    notes_merged = _merge_notes(session, f"refs/notes/remotes/{remote}/{NOTES_REF}")
    after = store.ref_snapshot()
    updates = tuple(
        RefUpdate(ref, "*" if ref not in before else " ", "new" if ref not in before else "updated")
        for ref, sha in sorted(after.items())
        if before.get(ref) != sha
    )
    message = f"fetched {len(updates)} new or updated ref(s) from {remote}" if updates else "already up to date"
    for old_tag, new_tag in settled.renumbered:
        details.append(
            f"{label_of(old_tag)} was released on {remote} for another commit first: your unpushed release is now {label_of(new_tag)}"
        )
    for tag in settled.yielded:
        details.append(
            f"{label_of(tag)} was already released on {remote} for the same commit: its tag replaces yours, which was never pushed"
        )
    if settled.renumbered or settled.yielded or updates:
        session.cache.events_by_tag.clear()  # labels in events may have changed meaning
    job = speed_up_history_later(session)  # a first fetch of a big history: keep `log` fast
    if job is not None:
        job.result()
    return SyncResult(ok, updates, message, notes_merged, details)


def _merge_notes(session: RepoSession, remote_notes: str) -> bool:
    """Merge the fetched notes into ours (cat_sort_uniq); False when there was nothing to take.

    Git's identity is asked only when a merge commit is written: a fresh clone without
    user.name failed its first fetch though taking the remote's notes (a fast-forward) writes
    no commit."""
    if _notes_to_take(session, remote_notes) is None:  # most fetches: nothing new, and no lock taken
        return False
    with exclusive(session, "notes", NOTES_REF):  # ours read again and written as one step (see `record_note`)
        heads = _notes_to_take(session, remote_notes)
        if heads is None:
            return False
        theirs, ours = heads
        if ours is not None and not session.store.is_ancestor(ours, theirs):
            session.store.identity()
        session.store.notes_merge(NOTES_REF, remote_notes)
        return True


def _notes_to_take(session: RepoSession, remote_notes: str) -> tuple[str, str | None] | None:
    """(theirs, ours) when the fetched notes hold something ours lack; None otherwise."""
    store = session.store
    theirs = store.try_resolve(remote_notes)
    ours = store.try_resolve(f"refs/notes/{NOTES_REF}")
    if theirs is None or theirs == ours or (ours is not None and store.is_ancestor(theirs, ours)):
        return None
    return theirs, ours


def _refused_by_server(update: RefUpdate) -> bool:
    """Git sent the ref and the server's own rule (a hook, a protected branch, permissions)
    turned it down: not a race with another clone, so fetching changes nothing."""
    return update.summary.startswith("[remote rejected]")


def _explain_rejection(update: RefUpdate, remote: str) -> str:
    ref = update.ref
    if _refused_by_server(update):
        name = ref.removeprefix("refs/heads/").removeprefix("refs/tags/")
        return (
            f"{name}: {update.summary}: {remote} refused it by a rule of its own (a hook, a protected"
            f" branch or tag, your permissions); fetching does not change that: see what {remote} said"
        )
    if ref.startswith("refs/heads/"):
        branch = ref[len("refs/heads/") :]
        return (
            f"{branch}: {update.summary}: {remote} has commits your branch does not have. "
            f"Run `workbench fetch`, then `workbench merge {remote}/{branch}`, then push again."
        )
    if ref.startswith("refs/tags/"):
        tag = ref[len("refs/tags/") :]
        text = f"{tag}: {update.summary}: the remote has a different tag with this name; tags never move."
        if parse_release_tag(tag) is not None:
            text += (
                " Another clone released this number first: run `workbench fetch` (it gives your"
                " unpushed release the next free number, or, when the remote's names the same commit,"
                " keeps the remote's), then push again."
            )
        return text
    if ref.startswith("refs/notes/"):
        return f"notes: {update.summary}: run `workbench fetch` (it merges notes), then push again."
    return f"{ref}: {update.summary}"
