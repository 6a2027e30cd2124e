"""Reading deployment events: which version each environment runs, and how it got there.

Events are annotated tags `deploy/<env>/<prompt>/<seq>`; the latest `seq` of a prompt in an
environment is what runs. Each tag is parsed once per session (tags never move).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from workbench.core.versions import (
    DeploymentEvent,
    ReleaseTag,
    deploy_tag_prefix,
    encode_ref_component,
    parse_deploy_tag,
    parse_event_message,
)
from workbench.services.session import RepoSession

BULK_THRESHOLD = 32  # above this many unread tags, one for-each-ref beats cat-file reads


def events_for_tags(
    session: RepoSession, tags: Sequence[str], bulk_pattern: str | None = None, releases: Sequence[ReleaseTag] | None = None
) -> list[DeploymentEvent]:
    """Deployment events for tag names, parsed once per session.

    Many unknown tags are read with one for-each-ref call over `bulk_pattern`; a few are
    read through the persistent cat-file process. `releases`: see `checked_events`.
    """
    cache = session.cache.events_by_tag
    missing = [t for t in tags if t not in cache]
    if bulk_pattern is not None and len(missing) > BULK_THRESHOLD:
        for event in session.store.deployment_events(pattern=bulk_pattern, only=set(missing)):
            cache[event.tag] = event
    for tag in missing:
        if tag in cache:
            continue
        found = session.store.read_tag(tag)
        cache[tag] = parse_event_message(tag, found.target, found.message, target_type=found.target_type) if found else None
    # Checked on every read, not cached: whether the canary's commit is here is Git's answer now.
    return session.store.checked_events([event for event in (cache.get(t) for t in tags) if event is not None], releases)


def event_tags(session: RepoSession, env: str | None = None, name: str | None = None) -> tuple[list[str], str]:
    """Deployment tag names (one cheap for-each-ref) and the pattern that lists them."""
    if env is not None:
        pattern = "refs/tags/" + deploy_tag_prefix(env, name)
    elif name is not None:
        pattern = f"refs/tags/deploy/*/{encode_ref_component(name)}/*"
    else:
        pattern = "refs/tags/deploy/"
    tags = []
    for ref in session.store.ref_names(pattern):
        tag = ref[len("refs/tags/") :]
        parsed = parse_deploy_tag(tag)
        if parsed is not None and (name is None or parsed[1] == name) and (env is None or parsed[0] == env):
            tags.append(tag)
    return tags, pattern


def events(session: RepoSession, env: str | None = None, name: str | None = None) -> list[DeploymentEvent]:
    """Events sorted by (prompt, env, seq): the last of each group is what runs now."""
    tags, pattern = event_tags(session, env, name)
    return sorted(events_for_tags(session, tags, pattern), key=lambda e: (e.prompt, e.env, e.seq))


def deployments(session: RepoSession, name: str, env: str | None = None) -> list[DeploymentEvent]:
    """Deployment events of a prompt (one environment or all), newest first."""
    return sorted(events(session, env, name), key=lambda e: (e.seq, e.env), reverse=True)


def current_event(session: RepoSession, name: str, env: str) -> DeploymentEvent | None:
    """The latest event of `name` in `env` that names a commit: what runs there now (None:
    never deployed). A later tag on a blob or tree is skipped, and named in its problem, so that
    it neither shows as a version nor blocks the promotion or rollback that replaces it."""
    tags, pattern = event_tags(session, env, name)
    newest_first = sorted(tags, key=lambda t: t.rsplit("/", 1)[1], reverse=True)
    return current_in(found[0] for tag in newest_first if (found := events_for_tags(session, [tag], pattern)))


def current_in(newest_first: Iterable[DeploymentEvent]) -> DeploymentEvent | None:
    """What runs, from one prompt's events in one environment, newest first (read lazily: the
    first event that names a commit ends it)."""
    skipped: list[DeploymentEvent] = []
    for event in newest_first:
        if not event.skipped:
            return with_skipped(event, skipped)
        skipped.append(event)
    return None


def with_skipped(event: DeploymentEvent, skipped: Sequence[DeploymentEvent]) -> DeploymentEvent:
    """`event` with the problems of the later events skipped over it (shown where it is)."""
    if not skipped:
        return event
    problems = [f"{later.tag}: {later.problem}" for later in skipped]
    return replace(event, problem="; ".join(p for p in (*problems, event.problem) if p))


def current_events(session: RepoSession, env: str | None = None) -> dict[str, DeploymentEvent]:
    """Latest event per prompt for one env, keyed by prompt name (or `prompt\\0env` for all)."""
    latest: dict[str, DeploymentEvent] = {}
    for event in events(session, env):
        key = event.prompt if env is not None else f"{event.prompt}\0{event.env}"
        if not event.skipped:
            latest[key] = event  # events are sorted by seq within each group
    return latest
