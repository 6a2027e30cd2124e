"""Releases: annotated tags `<name>@v<N>` that name a prompt version forever.

A release names content: the prompt file and the files it references. Releasing a commit
whose content an earlier release already names reuses that release instead of minting a
new number for identical content.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.core.versions import (
    ReleaseTag,
    encode_ref_component,
    parse_release_tag,
    release_label,
    release_tag_name,
)
from workbench.errors import PromptError
from workbench.services.prompt_files import dependency_files, path_at, prompt_at
from workbench.services.revisions import resolve
from workbench.services.session import RepoSession
from workbench.services.write_lock import exclusive
from workbench.vcs.records import RemoteTag


@dataclass(frozen=True)
class ReleaseResult:
    tag: ReleaseTag
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return f"created {self.tag.label} at {self.tag.commit[:10]}"
        return ReleasePlan(self.tag.commit, self.tag.label, False).message


def releases(session: RepoSession, name: str | None = None) -> list[ReleaseTag]:
    """Release tags of one prompt (or all), ordered by prompt and number."""
    store = session.store
    if name is None:
        tags = store.release_tags()
    else:  # only this prompt's tags: one prompt in a repository of thousands stays fast
        tags = [t for t in store.release_tags(f"refs/tags/{encode_ref_component(name)}@v*") if t.prompt == name]
    return sorted(tags, key=lambda t: (t.prompt, t.number))


def content_key(session: RepoSession, name: str, commit: str) -> tuple[str, ...] | None:
    """The blob ids of the prompt file and the files it depends on at `commit` (tests files,
    partials): a release names all of them. Kept by the session: a commit never changes, and
    each new release compared every release's content again (1,000 imported versions: 385 s)."""
    cache = session.cache.content_keys
    if (name, commit) not in cache:
        store = session.store
        path = path_at(session, name, commit)
        if path is None:
            cache[(name, commit)] = None
        else:
            refs = dependency_files(session, path, store.read_text(commit, path), commit)  # tests files, partials
            cache[(name, commit)] = (str(store.blob_sha(commit, path)), *(f"{ref}:{store.blob_sha(commit, ref)}" for ref in refs))
    return cache[(name, commit)]


def existing_release(session: RepoSession, name: str, commit: str) -> ReleaseTag | None:
    """The release that already names the content of `name` at `commit`, if any."""
    existing = releases(session, name)
    same_commit = [t for t in existing if t.commit == commit]
    if same_commit:
        return max(same_commit, key=lambda t: t.number)
    key = content_key(session, name, commit)
    same_content = [t for t in reversed(existing) if content_key(session, name, t.commit) == key]
    return same_content[0] if same_content and key is not None else None


def next_label(session: RepoSession, name: str) -> str:
    """The label a new release of `name` takes: the number after the highest, past any tag of that name."""
    return release_label(name, _next_number(session, name))


def _next_number(session: RepoSession, name: str) -> int:
    number = max((t.number for t in releases(session, name)), default=0) + 1
    while session.store.tag_exists(release_tag_name(name, number)):
        number += 1
    return number


@dataclass(frozen=True)
class ReleasePlan:
    """Which release a version of a prompt is, or would be: what `tag`, the app's release dialog
    and a deployment's plan say before anything is written."""

    commit: str  # the release's commit (content a release names maps to that release's commit)
    label: str
    new: bool  # releasing creates the tag `label`; False: `label` names this content already

    @property
    def message(self) -> str:
        """What releasing it does, in the words `tag` prints when it is done."""
        if self.new:
            return f"create the release tag {self.label} at {self.commit[:10]}"
        return f"{self.commit[:10]} is already released as {self.label}; reusing it"


def plan_release(session: RepoSession, name: str, commit: str) -> ReleasePlan:
    """The release naming `name` at `commit`: an existing one, else the next label (not written)."""
    found = existing_release(session, name, commit)
    if found is not None:
        return ReleasePlan(found.commit, found.label, False)
    return ReleasePlan(commit, next_label(session, name), True)


def plan_tag(session: RepoSession, name: str, rev: str | None = None) -> ReleasePlan:
    """What `tag_release` of `rev` (default HEAD) would do, nothing written."""
    return plan_release(session, name, resolve(session, rev or "HEAD", name))


def tag_release(session: RepoSession, name: str, rev: str | None = None, note: str | None = None) -> ReleaseResult:
    """Release prompt `name` at `rev` (default HEAD) as `<name>@v<N+1>`.

    Refuses a prompt that does not exist there or is invalid. Content that a release already
    names reuses that release.
    """
    commit = resolve(session, rev or "HEAD", name)
    return ensure_release(session, name, commit, note)


def ensure_release(session: RepoSession, name: str, commit: str, note: str | None = None) -> ReleaseResult:
    """The release naming `name` at `commit`: an existing one, else a new tag (explicitly created).

    Looked up and written holding the prompt's release lock: three `tag` runs at once on one
    commit each found no release and made three.
    """
    with exclusive(session, "release", name):
        return _ensure_release(session, name, commit, note)


def _ensure_release(session: RepoSession, name: str, commit: str, note: str | None) -> ReleaseResult:
    found = existing_release(session, name, commit)
    if found is not None:
        return ReleaseResult(found, False)
    result = prompt_at(session, name, commit)
    if not result.ok:
        first = result.errors[0].format() if result.errors else f"{name} is invalid"
        missing = result.prompt is None and result.errors and "does not exist" in result.errors[0].message
        raise PromptError(
            f"cannot release {name} at {commit[:10]}: " + (first if missing else f"the file is invalid: {first}"),
            hint="see `workbench list`" if missing else "fix it, commit, and tag the new commit",
        )
    store = session.store
    store.identity()
    number = _next_number(session, name)
    tag = release_tag_name(name, number)
    message = note if note and note.strip() else f"Release {release_label(name, number)}"
    message = message.rstrip("\n") + "\n"
    store.create_annotated_tag(tag, commit, message)
    return ReleaseResult(ReleaseTag(name, number, tag, commit, message.split("\n", 1)[0]), True)


@dataclass(frozen=True)
class Collisions:
    """What a fetch did to our unpushed releases whose names the remote took first."""

    renumbered: list[tuple[str, str]]  # (old tag, new tag): the remote's names another commit
    yielded: list[str]  # ours named the same commit: the remote's tag replaces ours


def settle_collisions(session: RepoSession, remote_tags: dict[str, RemoteTag]) -> Collisions:
    """Make room for the remote's release tags that our unpushed ones clash with, so the fetch
    can take them: for another commit ours gets the next free number; for the same commit ours
    is dropped (that commit is released under that number already: the remote's tag is fetched
    in its place). Without the second, push ("already exists") and fetch ("would clobber")
    each failed forever.

    Only tags the remote does not have are ever removed or renamed: a tag object of ours that
    differs from the remote's one of the same name was never pushed there (tags never move).
    """
    store = session.store
    objects = store.ref_snapshot()
    clashes = [
        t for t in store.release_tags() if t.tag in remote_tags and remote_tags[t.tag].object != objects.get(f"refs/tags/{t.tag}")
    ]
    renumbered, yielded = [], []
    for clash in clashes:
        if remote_tags[clash.tag].commit == clash.commit:
            store.delete_local_tag(clash.tag)
            session.cache.forget_tag(clash.tag)
            yielded.append(clash.tag)
            continue
        made = [t for t in store.release_tags() if t.prompt == clash.prompt and t.commit == clash.commit and t.tag not in remote_tags]
        if made:  # a fetch killed between making the new name and dropping ours: that name is it
            store.delete_local_tag(clash.tag)
            session.cache.forget_tag(clash.tag)
            renumbered.append((clash.tag, made[0].tag))
            continue
        taken = {t.number for t in store.release_tags() if t.prompt == clash.prompt}
        taken |= {
            parsed[1] for parsed in (parse_release_tag(name) for name in remote_tags) if parsed is not None and parsed[0] == clash.prompt
        }
        new_tag = release_tag_name(clash.prompt, max(taken) + 1)
        found = store.read_tag(clash.tag)
        message = found.message if found and found.message.strip() else f"Release {label_of(new_tag)}\n"
        store.create_annotated_tag(new_tag, clash.commit, message)
        store.delete_local_tag(clash.tag)  # never pushed: the remote holds another tag of this name
        session.cache.forget_tag(clash.tag)
        renumbered.append((clash.tag, new_tag))
    return Collisions(renumbered, yielded)


def label_of(tag: str) -> str:
    parsed = parse_release_tag(tag)
    return release_label(*parsed) if parsed else tag

