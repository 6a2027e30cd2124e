"""What every environment runs: one row per prompt, one cell per environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.core.versions import (
    SEQ_RE,
    DeploymentEvent,
    parse_deploy_tag,
    parse_release_label,
)
from workbench.services.deployment_events import current_event, events_for_tags
from workbench.services.event_cache import read_events
from workbench.services.session import RepoSession
from workbench.vcs.refs import OffBranches


@dataclass(slots=True)
class StatusCell:
    """What one environment runs for one prompt (not frozen: status builds thousands at once)."""

    env: str
    event: DeploymentEvent | None
    lag: int | None = None  # versions behind the previous environment in the list
    differs: bool = False  # runs another commit than the previous environment
    # No branch (local or remote-tracking) contains the deployed commit any more; None: not
    # known, a shallow clone's history ends before it.
    orphaned: bool | None = False
    # Nothing valid was deployed here, only a malformed tag (on a blob, or a sequence with no
    # real time): it runs nothing, as the runtime and rollback say, and its problem is shown.
    skipped: DeploymentEvent | None = None

    @property
    def version(self) -> str | None:
        return self.event.version if self.event else None

    @property
    def commit(self) -> str | None:
        return self.event.commit if self.event else None

    def to_dict(self) -> dict[str, Any]:
        event = self.event
        return {
            "env": self.env,
            "deployed": event is not None,
            "version": event.version if event else None,
            "commit": event.commit if event else None,
            "who": event.who if event else None,
            "when": event.when if event else None,
            "action": event.action if event else None,
            "canary": event.canary.to_dict() if event and event.canary else None,
            "lag": self.lag,
            "differs_from_previous": self.differs,
            "orphaned": self.orphaned,
            # a malformed event message, read in part; or the malformed tag that is all there is
            "problem": (event.problem or None) if event else (f"{self.skipped.tag}: {self.skipped.problem}" if self.skipped else None),
        }


@dataclass(slots=True)
class StatusRow:
    name: str
    cells: tuple[StatusCell, ...]

    def cell(self, env: str) -> StatusCell | None:
        return next((c for c in self.cells if c.env == env), None)


@dataclass(frozen=True)
class EnvStatus:
    environments: tuple[str, ...]
    rows: tuple[StatusRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "environments": list(self.environments),
            "prompts": [{"name": r.name, "environments": {c.env: c.to_dict() for c in r.cells}} for r in self.rows],
        }

    def row(self, name: str) -> StatusRow | None:
        return next((r for r in self.rows if r.name == name), None)


def serving(event: DeploymentEvent, *, short: bool = False) -> str:
    """What an environment serves of a prompt, as every front end names it: `support/summarize@v2`,
    during a split `support/summarize@v2 (10% → support/summarize@v3)` (what `PromptRepo.get`
    hands out: the canary to that share of keys). `short`: without the prompt's name
    (`v2 (10% → v3)`), where the prompt is named beside it."""
    label = _version_label(event.version, event.commit, short)
    canary = event.canary
    if canary is None:
        return label
    return f"{label} ({canary.percent:g}% → {_version_label(canary.version, canary.commit, short)})"


def _version_label(version: str | None, commit: str, short: bool) -> str:
    if not version:
        return commit[:10]
    return version.rsplit("@", 1)[-1] if short else version


def status(session: RepoSession) -> EnvStatus:
    """Every prompt × environment: deployed version, lag and orphaned versions.

    One for-each-ref lists every branch tip and deployment tag with its object's id; only the
    latest event of each prompt × environment is read (from `event_cache`, else from Git) and
    cached for the session, since tags never move. Meanwhile
    `ls-tree` (prompt names), the release tags and `rev-list` (deployed commits no branch
    contains) run as parallel git processes.
    """
    store = session.store
    cache = session.cache
    cold = not cache.events_by_tag
    head_guess = store.try_resolve("HEAD")
    listing = store.list_prompt_files_later(head_guess) if head_guess and head_guess not in cache.prompt_names_at else None
    refs = store.ref_listing()
    # The newest tag of each prompt × environment, grouped by the tag name's folder: only the
    # winners' names are decoded (a `SEQ_RE` match is all the others need).
    newest: dict[str, tuple[str, str, str]] = {}
    for tag, object_id in refs.deploy_tags:
        folder, _, seq = tag.rpartition("/")
        if SEQ_RE.match(seq) is None:
            continue
        known = newest.get(folder)
        if known is None or seq > known[0]:
            newest[folder] = (seq, tag, object_id)
    latest_tag: dict[tuple[str, str], tuple[str, str, str]] = {}
    for seq, tag, object_id in newest.values():
        parsed = parse_deploy_tag(tag)
        known = latest_tag.get((parsed[1], parsed[0])) if parsed is not None else None
        if parsed is not None and (known is None or seq > known[0]):  # two spellings of one name
            latest_tag[(parsed[1], parsed[0])] = (seq, tag, object_id)
    orphan_check = None
    if cold:
        unread = [(tag, oid, (env, prompt, seq)) for (prompt, env), (seq, tag, oid) in latest_tag.items() if tag not in cache.events_by_tag]
        cache.events_by_tag.update(read_events(session, unread, "refs/tags/deploy/"))
        current = (cache.events_by_tag.get(tag) for _, tag, _ in latest_tag.values())
        commits = frozenset(event.commit for event in current if event and not event.skipped)
        if not (cache.orphans and cache.orphans[:2] == (refs.tips, commits)):
            orphan_check = (commits, store.unreachable_from_branches_later(commits))
    found_events = events_for_tags(session, [tag for _, tag, _ in latest_tag.values()], "refs/tags/deploy/")
    # A newest tag on a blob or tree is skipped (rare): the event before it is what runs.
    found_events = [
        event if not event.skipped else current_event(session, event.prompt, event.env) or event for event in found_events
    ]
    # Labelled from the release tags of each event's commit by `events_for_tags` (`core.event_labels`).
    latest: dict[tuple[str, str], DeploymentEvent] = {}
    skipped: dict[tuple[str, str], DeploymentEvent] = {}  # no valid event before it: nothing runs there
    for event in found_events:
        (skipped if event.skipped else latest)[(event.prompt, event.env)] = event
    deployed = frozenset(c for e in latest.values() for c in (e.commit, e.canary.commit if e.canary else None) if c)
    if orphan_check is not None:
        unreachable = orphan_check[1].result()
        if deployed == orphan_check[0]:
            cache.orphans = (refs.tips, deployed, unreachable)
    orphaned = _orphaned(session, refs.tips, deployed)
    names = {prompt for prompt, _ in (*latest, *skipped)}
    head = refs.head or head_guess
    if listing is not None and head_guess is not None:
        cache.prompt_names_at = {head_guess: [r.name for r in listing.result()]}
    if head is not None:
        if head not in cache.prompt_names_at:
            cache.prompt_names_at = {head: [ref.name for ref in store.list_prompt_files(head)]}
        names.update(cache.prompt_names_at[head])
    envs = session.environments
    deployed_names = {prompt for prompt, _ in (*latest, *skipped)}
    empty = tuple(StatusCell(env, None) for env in envs)  # shared by every prompt deployed nowhere (most)
    return EnvStatus(envs, tuple(_row(name, envs, latest, skipped, orphaned) if name in deployed_names else StatusRow(name, empty) for name in sorted(names)))


def _row(
    name: str, envs: tuple[str, ...], latest: dict[tuple[str, str], DeploymentEvent], skipped: dict[tuple[str, str], DeploymentEvent], orphaned: OffBranches
) -> StatusRow:
    cells = []
    previous: DeploymentEvent | None = None
    for index, env in enumerate(envs):
        event = latest.get((name, env))
        lag = None
        differs = False
        if index > 0 and event is not None and previous is not None:
            differs = previous.commit != event.commit
            ahead = _version_number(previous.version)
            mine = _version_number(event.version)
            if ahead is not None and mine is not None and ahead > mine:
                lag = ahead - mine
        served = {event.commit, event.canary.commit if event.canary else None} if event is not None else set()
        is_orphan: bool | None = bool(served & orphaned.on_no_branch) or (None if served & orphaned.unknown else False)
        cells.append(StatusCell(env, event, lag, differs, is_orphan, skipped.get((name, env))))
        previous = event
    return StatusRow(name, tuple(cells))


def _orphaned(session: RepoSession, tips: frozenset[str], commits: frozenset[str]) -> OffBranches:
    """Deployed commits no branch contains (or not known to); recomputed only when a branch or event moved."""
    cache = session.cache
    if cache.orphans is not None and cache.orphans[0] == tips and cache.orphans[1] == commits:
        return cache.orphans[2]
    result = session.store.unreachable_from_branches(commits)
    cache.orphans = (tips, commits, result)
    return result


def _version_number(version: str | None) -> int | None:
    parsed = parse_release_label(version) if version else None
    return parsed[1] if parsed else None
