"""Tags and branches: listing with targets and messages in one `for-each-ref`, creating, reading."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from workbench.core.event_labels import labelled
from workbench.core.versions import (
    BranchInfo,
    DeploymentEvent,
    ReleaseTag,
    deploy_tag_prefix,
    encode_ref_component,
    parse_event_message,
    parse_release_tag,
    without_canary,
)
from workbench.errors import RepoError
from workbench.vcs.deferred import Deferred
from workbench.vcs.reads import ReadCommands
from workbench.vcs.records import parse_ref_records, ref_format

_TAGS = "refs/tags/"
# `*` stops at `/` in ref patterns; `**/` spans folders, so prompts in folders match too.
RELEASE_TAGS = "refs/tags/**/*@v*"
_TARGET_FORMAT = ref_format("%(refname)", "%(objectname)", "%(*objectname)")
# The type of what a tag points at: `%(*objecttype)` for an annotated tag, else `%(objecttype)`.
_EVENT_FORMAT = ref_format("%(refname)", "%(objectname)", "%(*objectname)", "%(objecttype)", "%(*objecttype)", "%(contents)")
_LISTING_FORMAT = ref_format("%(refname)", "%(objectname)", "%(HEAD)")
_RELEASE_FORMAT = ref_format(
    "%(refname)", "%(objectname)", "%(*objectname)", "%(contents:subject)", "%(taggerdate:unix)", "%(taggername)"
)
_TAG_RECORD_FORMAT = ref_format(
    "%(refname)", "%(objectname)", "%(*objectname)", "%(objecttype)", "%(*objecttype)", "%(taggername)", "%(taggeremail)",
    "%(taggerdate:unix)", "%(contents)",
)
_BRANCH_FORMAT = ref_format(
    "%(refname)",
    "%(objectname)",
    "%(HEAD)",
    "%(upstream:short)",
    "%(upstream:track,nobracket)",
    "%(contents:subject)",
    "%(committerdate:unix)",
)


@dataclass(frozen=True)
class TagRecord:
    """A tag as Git recorded it: who made it and when (annotated tags only), and its message."""

    tag: str  # without refs/tags/
    commit: str  # the peeled target
    target_type: str  # its type: "commit", or a hand-made tag's "blob", "tree"
    annotated: bool
    tagger: str  # `Name <email>`; "" for a lightweight tag
    tagged_at: int | None  # unix seconds; None for a lightweight tag
    message: str


class TagObject(NamedTuple):
    """What a tag object says: the object it points at, that object's type, and its message."""

    target: str
    target_type: str
    message: str


class OffBranches(NamedTuple):
    """Of some commits, those no branch (local or remote-tracking) contains, and those a
    shallow clone cannot place: its history ends before them, so a branch may hold them."""

    on_no_branch: frozenset[str]
    unknown: frozenset[str]


@dataclass(frozen=True)
class RefListing:
    """Branch tips and deployment tags from one `for-each-ref` (what `status` needs)."""

    head: str | None  # the commit of the checked-out branch
    tips: frozenset[str]  # every local and remote-tracking branch tip
    deploy_tags: tuple[tuple[str, str], ...]  # (tag, the id of its object)


def _tag_name(refname: str) -> str:
    return refname[len(_TAGS) :]


class RefCommands(ReadCommands):
    def shallow_commits(self) -> frozenset[str]:
        """The commits a shallow clone's history ends at (their parents were not fetched): Git's
        `shallow` file, in the common git dir of a linked worktree; empty in a full clone."""
        common = self.git_dir
        pointer = common / "commondir"
        if pointer.is_file():
            common = common / pointer.read_text(encoding="utf-8").strip()
        try:
            return frozenset((common / "shallow").read_text(encoding="ascii").split())
        except (FileNotFoundError, NotADirectoryError):
            return frozenset()

    # ----------------------------------------------------------------- listing
    def ref_names(self, *patterns: str) -> list[str]:
        """Ref names only: the cheapest listing (no object is read)."""
        return self._read("for-each-ref", "--format=%(refname)", "--", *patterns, reading="the refs").splitlines()

    def ref_names_later(self, *patterns: str) -> Deferred[list[str]]:
        """Ref names, each ref's object and an annotated tag's target checked to be there (their
        types, from their headers: ~1 ms for 500 tags): a tag whose object or commit is gone is
        Git's error here, where `git tag --contains` (`tags_containing_later`) passes over it
        without a word."""
        return self._read_later(_names, "for-each-ref", "--format=%(refname) %(objecttype) %(*objecttype)", "--", *patterns, reading="the refs")

    def tag_targets(self, *patterns: str) -> dict[str, str]:
        """Tag name -> the commit it points at (peeled), for tags under `patterns`."""
        return self.tag_targets_later(*patterns).result()

    def tag_targets_later(self, *patterns: str) -> Deferred[dict[str, str]]:
        return self._read_later(_parse_targets, "for-each-ref", f"--format={_TARGET_FORMAT}", "--", *patterns, reading="the tags")

    def tags_containing_later(self, commits: Sequence[str], *patterns: str) -> Deferred[dict[str, str]]:
        """`tag_targets` of the tags under `patterns` (`refs/tags/...`) whose commit is one of
        `commits` or has one in its history, in a process started now (`commits` not empty).

        `git tag --contains`: a tag older than all of `commits` is passed over by its generation
        number (the commit-graph) without a walk, and without a commit-graph each commit is
        walked once for all the tags (`for-each-ref --contains` walks for each tag: 4 s for 461
        tags on the synthetic repository). Its patterns are matched without `/` stopping `*`: a
        few more tags than `patterns` names may be listed, for the caller to narrow.
        """
        args = ("tag", "--list", "--no-column", f"--format={_TARGET_FORMAT}", *(f"--contains={c}" for c in commits))
        args += ("--", *(pattern.removeprefix(_TAGS) for pattern in patterns))
        return self._read_later(_parse_targets, *args, revs=commits, reading="the tags of the history shown")

    def ref_snapshot(self) -> dict[str, str]:
        """Every ref -> the object it names (to tell what a fetch changed)."""
        out = self._read("for-each-ref", "--format=%(refname)%00%(objectname)", reading="the refs")
        return dict(line.split("\0", 1) for line in out.splitlines() if "\0" in line)

    def ref_exists(self, ref: str) -> bool:
        return self._succeeds("show-ref", "--verify", "--quiet", ref)

    def ref_listing(self) -> RefListing:
        """Branch tips and deployment tags with their objects' ids: no object is read (9 ms for
        3,000 tags where reading their targets and messages takes 50; `tag_objects` reads them)."""
        out = self._read("for-each-ref", f"--format={_LISTING_FORMAT}", "refs/heads/", "refs/remotes/", "refs/tags/deploy/", reading="the branches and deployments")
        head = None
        tips = set()
        tags = []
        for refname, objectname, is_head in parse_ref_records(out, 3):
            if refname.startswith(("refs/heads/", "refs/remotes/")):
                tips.add(objectname)
                if is_head == "*":
                    head = objectname
            else:
                tags.append((_tag_name(refname), objectname))
        return RefListing(head, frozenset(tips), tuple(tags))

    def tag_objects(self, pattern: str) -> dict[str, TagObject]:
        """Object id -> what it points at and its message, of every tag under `pattern`, from one
        for-each-ref (each tag object is read). A lightweight tag's object is its target."""
        out = self._read("for-each-ref", f"--format={_EVENT_FORMAT}", "--", pattern, reading="the deployment events")
        return {
            objectname: TagObject(peeled or objectname, peeled_type or kind, contents)
            for _, objectname, peeled, kind, peeled_type, contents in parse_ref_records(out, 6)
        }

    # ----------------------------------------------------------------- release and deployment tags
    def release_tags(self, pattern: str = RELEASE_TAGS) -> list[ReleaseTag]:
        """Release tags `<name>@v<N>` (all, or those matching a for-each-ref pattern)."""
        out = self._read("for-each-ref", f"--format={_RELEASE_FORMAT}", "--", pattern, reading="the release tags")
        tags: list[ReleaseTag] = []
        for refname, objectname, peeled, subject, when, tagger in parse_ref_records(out, 6):
            name = _tag_name(refname)
            parsed = parse_release_tag(name)
            if parsed is not None:
                stamp = int(when) if when.isdigit() else 0
                tags.append(ReleaseTag(parsed[0], parsed[1], name, peeled or objectname, subject, stamp, tagger))
        return tags

    def deployment_events(
        self, env: str | None = None, prompt: str | None = None, *, pattern: str | None = None, only: set[str] | None = None
    ) -> list[DeploymentEvent]:
        """Deployment events with their messages, from one for-each-ref call.

        Args:
            env, prompt: narrow the listing (by ref pattern, then by the parsed prompt name).
            pattern: an explicit ref pattern instead. only: parse just these tag names.

        Returns events sorted by (prompt, env, seq): the last of each group is what runs now.
        """
        if pattern is None:
            pattern = _TAGS + (deploy_tag_prefix(env, prompt) if env is not None else "deploy/")
        out = self._read("for-each-ref", f"--format={_EVENT_FORMAT}", "--", pattern, reading="the deployment events")
        events: list[DeploymentEvent] = []
        for refname, objectname, peeled, kind, peeled_type, contents in parse_ref_records(out, 6):
            tag = _tag_name(refname)
            if only is not None and tag not in only:
                continue
            event = parse_event_message(tag, peeled or objectname, contents, target_type=peeled_type or kind)
            if event is not None and (prompt is None or event.prompt == prompt):
                events.append(event)
        events.sort(key=lambda e: (e.prompt, e.env, e.seq))
        return self.checked_events(events)

    def checked_events(self, events: list[DeploymentEvent], releases: Iterable[ReleaseTag] | None = None) -> list[DeploymentEvent]:
        """`events` labelled from the release tags of their commits (`core.event_labels`), and
        each split whose canary is not a released commit of its prompt ignored, as a problem
        (its canary labelled from the release tags too: a renumbered release keeps its commit).

        The canary commit was served as the message said: a hand-made split to the full id of
        an unreleased commit served work nobody released under a made-up label, and one to an id
        this repository lacks, a blob or a tree failed every request. A split workbench writes
        always releases its canary first. One for-each-ref of the release tags, one header read
        per split (rare).

        `releases`: every release tag of the events' commits, without its date (History's page
        has them): no listing then, unless an event is a split (its canary may be any commit)
        or names another version than its commit's release (the tags' dates tell which is right).
        """
        if not events:
            return []
        prompts = {event.prompt for event in events}
        released = _highest_releases(prompts, releases) if releases is not None else None
        if released is None or any(event.canary is not None or _relabelled(event, released) for event in events):
            pattern = f"{_TAGS}{encode_ref_component(next(iter(prompts)))}@v*" if len(prompts) == 1 else RELEASE_TAGS
            released = _highest_releases(prompts, self.release_tags(pattern))
        checked = []
        for event in events:
            event = labelled(event, released.get((event.prompt, event.commit)))
            canary = event.canary
            if canary is not None:
                found = self._header(canary.commit)
                canary_release = released.get((event.prompt, canary.commit))
                if found is None or found[1] != "commit":
                    what = f"a {found[1]}" if found is not None else "no object of this repository"
                    event = without_canary(event, f"canary.commit {canary.commit[:10]} names {what}, not a commit")
                elif canary_release is None:
                    event = without_canary(event, f"canary.commit {canary.commit[:10]} is no release of {event.prompt}")
                elif canary.version != canary_release.label:
                    event = replace(event, canary=replace(canary, version=canary_release.label))
            checked.append(event)
        return checked

    def tag_records(self, *patterns: str) -> list[TagRecord]:
        """Every tag under `patterns` with its tagger, tag date and message (one for-each-ref)."""
        out = self._read("for-each-ref", f"--format={_TAG_RECORD_FORMAT}", "--", *patterns, reading="the tags")
        records = []
        for refname, objectname, peeled, kind, peeled_type, name, email, date, contents in parse_ref_records(out, 9):
            annotated = kind == "tag"
            tagger = f"{name} {email}".strip() if annotated else ""
            when = int(date) if annotated and date.strip().isdigit() else None
            records.append(
                TagRecord(_tag_name(refname), peeled or objectname, peeled_type or kind, annotated, tagger, when, contents if annotated else "")
            )
        return records

    def read_tag(self, tag: str) -> TagObject | None:
        """What a tag points at and its message, through the persistent cat-file process; None when
        there is no such tag. A tag naming an object that is gone is Git's error (`_check_named`)."""
        found = self.read_tag_object(_TAGS + tag)
        if found is None:
            self._check_named(_TAGS + tag)
        return found

    def read_tag_object(self, spec: str) -> TagObject | None:
        """What the tag object `spec` names points at, and its message: a tag's ref, or an object
        id (what a listing said the tag was, even if it has moved since). None when absent."""
        found = self.read_object(spec)
        if found is None:
            return None
        sha, kind, data = found
        if kind != "tag":
            return TagObject(sha, kind, "")  # a lightweight tag points at the object itself
        header, _, message = data.decode("utf-8", "replace").partition("\n\n")
        fields = dict(line.partition(" ")[::2] for line in header.split("\n"))
        return TagObject(fields.get("object", ""), fields.get("type", ""), message)

    def tag_exists(self, name: str) -> bool:
        return self._succeeds("rev-parse", "--verify", "--quiet", _TAGS + name)

    def create_annotated_tag(self, name: str, commit: str, message: str) -> None:
        """Create an annotated tag with `message` kept verbatim; never moves an existing tag."""
        self.check_writable()
        if not self._succeeds("check-ref-format", _TAGS + name) or name.startswith("-"):
            raise RepoError(f"{name!r} is not a valid tag name")
        status, out, err = self._run_full("tag", "-a", "--cleanup=verbatim", "-F", "-", "--", name, commit, stdin=message)
        if status != 0:
            if "already exists" in err:
                raise RepoError(f"tag {name} already exists", hint="tags never move; choose another version")
            raise self._error(["tag"], status, err, out)

    def delete_local_tag(self, name: str) -> None:
        """Delete a tag that was never published (release renumbering on fetch only)."""
        self._run("tag", "-d", "--", name)

    # ----------------------------------------------------------------- branches
    def branches(self) -> list[BranchInfo]:
        out = self._read("for-each-ref", f"--format={_BRANCH_FORMAT}", "refs/heads/", reading="the branches")
        result: list[BranchInfo] = []
        for refname, commit, is_head, upstream, track, subject, when in parse_ref_records(out, 7):
            ahead = behind = 0
            for part in track.split(","):
                word, _, number = part.strip().partition(" ")
                if word == "ahead" and number.isdigit():
                    ahead = int(number)
                elif word == "behind" and number.isdigit():
                    behind = int(number)
            result.append(
                BranchInfo(
                    name=refname[len("refs/heads/") :],
                    commit=commit,
                    is_current=is_head == "*",
                    upstream=upstream or None,
                    ahead=ahead,
                    behind=behind,
                    subject=subject,
                    committer_time=int(when or 0),
                )
            )
        return result

    def current_branch(self) -> str | None:
        """The checked-out branch name, None when HEAD is detached (an unborn branch has a name)."""
        status, out, _ = self._answer("symbolic-ref", "--quiet", "HEAD")
        if status != 0:
            return None
        ref = out.strip()
        return ref[len("refs/heads/") :] if ref.startswith("refs/heads/") else ref

    def branch_exists(self, name: str) -> bool:
        return self._succeeds("rev-parse", "--verify", "--quiet", f"refs/heads/{name}")

    def check_branch_name(self, name: str) -> None:
        """Git's rule for a branch name. `check-ref-format --branch` also expands Git's shorthands
        (`@{-1}`: the branch checked out before), so its answer must be the name itself."""
        status, out, _ = (1, "", "") if name.startswith("-") else self._answer("check-ref-format", "--branch", name)
        if status != 0 or out.strip() != name:
            raise RepoError(f"{name!r} is not a valid branch name", hint="use letters, digits, '-', '_', '/' and '.'")

    def create_branch(self, name: str, commit: str) -> None:
        self.check_branch_name(name)
        self.check_writable()
        self._run("branch", "--no-track", "--", name, commit)

    def branches_containing(self, commit: str) -> list[str]:
        out = self._read("for-each-ref", "--format=%(refname)", "--contains", commit, "refs/heads/", revs=[commit], reading=f"the branches containing {commit}")
        return [line[len("refs/heads/") :] for line in out.splitlines() if line]

    def unreachable_from_branches(self, commits: Iterable[str]) -> OffBranches:
        """Those of `commits` that no branch contains, in one `rev-list`."""
        return self.unreachable_from_branches_later(commits).result()

    def unreachable_from_branches_later(self, commits: Iterable[str]) -> Deferred[OffBranches]:
        """Remote-tracking branches count: a clone of one branch has the others' commits
        under refs/remotes/ only, and they were said to be on no branch."""
        wanted = {c for c in commits if c}
        # Checked as `revs` on failure: a commit an event names may not be here (hand-written,
        # not fetched), which is git's answer, not damage.
        revs = sorted(wanted)
        args = ("rev-list", "--stdin", "--not", "--branches", "--remotes")
        return self._read_later(
            lambda out: self._checked_unreachable(wanted & set(out.split())), *args, revs=revs, stdin="\n".join(revs) + "\n", reading="the branches"
        )

    def _checked_unreachable(self, found: set[str]) -> OffBranches:
        """`rev-list A --not --branches` skips, without a word, a branch commit it cannot read
        (a parent on the `--not` side), so what lies below it reads as on no branch. Commits said
        to be on none are confirmed by walking the branches down to them (one more `rev-list`,
        only then): that walk reads every commit that could join a branch to them, and fails
        on damage. In a shallow clone the walk ends at the boundary, where a branch's older
        commits were not fetched: what it did not reach is unknown, not on no branch."""
        if not found:
            return OffBranches(frozenset(), frozenset())
        self._read("rev-list", "--count", "--branches", "--remotes", "--not", *sorted(found), "--", reading="the branches' history")
        if self._read("rev-parse", "--is-shallow-repository", reading="the repository").strip() == "true":
            return OffBranches(frozenset(), frozenset(found))
        return OffBranches(frozenset(found), frozenset())


def _highest_releases(prompts: set[str], releases: Iterable[ReleaseTag]) -> dict[tuple[str, str], ReleaseTag]:
    """(prompt, commit) -> the highest release of `prompts` there."""
    released: dict[tuple[str, str], ReleaseTag] = {}
    for release in releases:
        known = released.get((release.prompt, release.commit))
        if release.prompt in prompts and (known is None or release.number > known.number):
            released[(release.prompt, release.commit)] = release
    return released


def _relabelled(event: DeploymentEvent, released: dict[tuple[str, str], ReleaseTag]) -> bool:
    """Whether `labelled` would read the release's date to label `event`."""
    release = released.get((event.prompt, event.commit))
    return release is not None and not event.skipped and event.version != release.label


def _parse_targets(out: str) -> dict[str, str]:
    return {_tag_name(ref): peeled or obj for ref, obj, peeled in parse_ref_records(out, 3)}


def _names(out: str) -> list[str]:
    return [line.split(" ", 1)[0] for line in out.splitlines()]  # a ref name holds no space
