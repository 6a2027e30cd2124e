"""The repository's timeline: every release, promotion, split, finish and rollback across all
prompts, and the merges to the main branch that changed prompts, newest first.

What an on-call engineer asks first ("what changed in prod in the last 24 hours?") and what a
lead browses on Monday. Events come from Git alone (tags and the main branch's merges), so
every clone shows the same timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workbench.core.event_seq import seq_time
from workbench.core.model import PROMPTS_DIR, is_prompt_path, prompt_name_from_path
from workbench.core.periods import parse_since
from workbench.core.versions import DeploymentEvent, ReleaseTag, parse_release_label
from workbench.errors import NotFound
from workbench.services.deployment_events import events
from workbench.services.history import version_commits
from workbench.services.session import RepoSession


@dataclass(frozen=True)
class TimelineEvent:
    when: str  # ISO 8601, UTC
    kind: str  # release | promote | split | finish | rollback | merge
    prompts: tuple[str, ...]
    commit: str
    env: str | None = None
    version: str | None = None
    previous_version: str | None = None
    previous_commit: str | None = None
    who: str = ""
    why: str = ""
    tests: str | None = None
    canary: str | None = None  # `10% → support/summarize@v3` during a split
    seq: str = ""  # a deployment tag's sequence (millisecond time first): orders events of the same second
    tag: str = ""  # the deployment tag
    problem: str = ""  # what its message held that could not be read (`core/event_fields.py`)

    @property
    def prompt(self) -> str:
        return self.prompts[0] if self.prompts else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "when": self.when,
            "kind": self.kind,
            "prompts": list(self.prompts),
            "env": self.env,
            "version": self.version,
            "commit": self.commit,
            "previous_version": self.previous_version,
            "previous_commit": self.previous_commit,
            "who": self.who,
            "why": self.why,
            "tests": self.tests,
            "canary": self.canary,
            "problem": self.problem or None,
        }


def _release_number(event: TimelineEvent) -> int:
    parsed = parse_release_label(event.version) if event.kind == "release" and event.version else None
    return parsed[1] if parsed else 0


def timeline(
    session: RepoSession, *, env: str | None = None, prompt: str | None = None, since: str | None = None, limit: int = 500
) -> list[TimelineEvent]:
    """Events newest first. With `env`, only that environment's deployments; with `prompt`,
    only events of that prompt; with `since` (`24h`, `7d`), only newer events.

    Raises:
        ValueError: `since` is not a duration.
    """
    if env is not None:
        session.require_env(env)
    cutoff = parse_since(since)
    found = [_deployment(e) for e in events(session, env, prompt)]
    if env is None:
        found += [_release(r) for r in session.store.release_tags() if prompt is None or r.prompt == prompt]
        found += _merges(session, prompt, cutoff)
    if cutoff is not None:
        found = [e for e in found if moment(e) >= cutoff]
    # Same second: the deployment's millisecond, then the later stage first (a pipeline
    # promotes dev, then staging, then prod), then the later release of a prompt first (tag
    # dates have whole seconds: releases made in one second were listed oldest first); the
    # tag's random suffix never decides.
    stages = {env: index for index, env in enumerate(session.environments)}
    found.sort(key=lambda e: (moment(e), e.kind != "release", e.seq[:17], stages.get(e.env or "", -1), _release_number(e)), reverse=True)
    return found[:limit]


def versions_of(session: RepoSession, event: TimelineEvent) -> tuple[str | None, str | None]:
    """(the version of the event's first prompt it names, the version it replaced): History
    commits (the commits that changed the prompt), so the app can select and diff them. A
    promotion or rollback replaced what the environment ran; a release or a merge replaced the
    version before it on its line."""
    name = event.prompt

    def owner(rev: str) -> str | None:
        try:
            found = version_commits(session, name, rev, 1)
        except NotFound:  # the prompt did not exist there (a repository git cannot read raises)
            return None
        return found[0] if found else None

    version = owner(event.commit)
    if event.previous_commit:
        return version, owner(event.previous_commit)
    if event.kind == "merge":
        return version, owner(event.commit + "^1")
    older = version_commits(session, name, version, 2)[1:] if version else []
    return version, older[0] if older else None


def _deployment(event: DeploymentEvent) -> TimelineEvent:
    canary = None
    if event.canary is not None:
        canary = f"{event.canary.percent:g}% → {event.canary.version or event.canary.commit[:10]}"
    return TimelineEvent(
        when=event.when,
        kind=event.action,
        prompts=(event.prompt,),
        commit=event.commit,
        env=event.env,
        version=event.version,
        previous_version=event.previous_version,
        previous_commit=event.previous_commit,
        who=event.who,
        why=event.reason,
        tests=event.tests,
        canary=canary,
        seq=event.seq,
        tag=event.tag,
        problem=event.problem,
    )


def _release(tag: ReleaseTag) -> TimelineEvent:
    return TimelineEvent(when=_iso(tag.when), kind="release", prompts=(tag.prompt,), commit=tag.commit, version=tag.label, who=tag.who, why=tag.note)


def _merges(session: RepoSession, prompt: str | None, cutoff: float | None) -> list[TimelineEvent]:
    found = []
    for info, files in session.store.merges(session.main_branch, [PROMPTS_DIR + "/"], since=int(cutoff) if cutoff else None):
        names = tuple(sorted({prompt_name_from_path(f) for f in files if is_prompt_path(f)}))
        if names and (prompt is None or prompt in names):
            found.append(TimelineEvent(when=_iso(info.committer_time), kind="merge", prompts=names, commit=info.sha, who=info.author, why=info.subject))
    return found


def moment(event: TimelineEvent) -> float:
    """When the event counts as having happened: a deployment's sequence time, the one order of
    the events of an environment (`core.event_seq`: after every event its writer saw, even from a
    clock that is behind, when the message's `when` is that clock's), else its date."""
    at = seq_time(event.seq) if event.seq else None
    return at.timestamp() if at is not None else epoch(event.when)


def _iso(stamp: int) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(when: str) -> float:
    try:
        return datetime.fromisoformat(when.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0
