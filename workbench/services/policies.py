"""Which promotion policy is in force, and the facts the rules need, read from Git.

A policy can be weakened on a branch, so a promotion is checked against the strictest of:
the working copy's `workbench.yaml` (promotions only), the one on the main branch, and the
one in the deployed commit. `workbench audit` checks a past event against the policy in
force then: `workbench.yaml` on the main branch as of the event's time, and in the deployed
commit. The rules themselves are `core.policy.check_policy`, one function for both.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from workbench.core.config import CONFIG_FILE, parse_config
from workbench.core.model import Severity
from workbench.core.policy import EnvPolicy, PolicyCheck, PolicyFacts, Run, check_policy, event_time, runs_of
from workbench.services.approvals import approvals
from workbench.services.deployment_events import events
from workbench.services.session import RepoSession
from workbench.services.test_results import counted_summary

if TYPE_CHECKING:
    from workbench.core.approvals import Approval
    from workbench.core.versions import DeploymentEvent


@dataclass(frozen=True)
class PolicyInForce:
    """The effective policy of an environment and where its rules were read."""

    policy: EnvPolicy | None
    sources: tuple[str, ...] = ()  # e.g. ("workbench.yaml", "main 1a2b3c4", "deployed commit 5d6e7f8")


def merge(policies: list[EnvPolicy]) -> EnvPolicy | None:
    """The strictest combination: every rule any of them has, the larger soak and approval count."""
    present = [p for p in policies if not p.empty]
    if not present:
        return None
    merged = present[0]
    for other in present[1:]:
        soak, soak_text = merged.soak, merged.soak_text
        if other.soak is not None and (soak is None or other.soak > soak):
            soak, soak_text = other.soak, other.soak_text
        merged = replace(
            merged,
            from_env=merged.from_env or other.from_env,
            require_tests=merged.require_tests or other.require_tests,
            soak=soak,
            soak_text=soak_text,
            approvals=max(merged.approvals, other.approvals),
        )
    return merged


def policy_at(session: RepoSession, commit: str, env: str) -> EnvPolicy | None:
    """The policy of `env` in `workbench.yaml` at `commit` (None: no file, no rules, or invalid)."""
    blobs = session.cache.config_blobs  # commit -> its workbench.yaml blob: never changes
    if commit not in blobs:
        blobs[commit] = session.store.blob_sha(commit, CONFIG_FILE)
    blob = blobs[commit]
    if blob is None:
        return None
    cache = session.cache.policy_files
    if blob not in cache:
        text = session.store.read_blob_text(blob) or ""
        config, problems = parse_config(text, CONFIG_FILE)
        cache[blob] = None if any(p.severity is Severity.ERROR for p in problems) else config.policies
    policies = cache[blob]
    return policies.get(env) if policies is not None else None


def main_line(session: RepoSession) -> list[tuple[str, int]]:
    """The main branch's first-parent line (oldest first): local branch, else origin's copy (CI clones)."""
    for ref in (f"refs/heads/{session.main_branch}", f"refs/remotes/origin/{session.main_branch}"):
        tip = session.store.try_resolve(ref)
        if tip is None:
            continue
        cached = session.cache.main_line
        if cached is None or cached[0] != tip:  # keyed by the tip: a new commit on main reads the line again
            session.cache.main_line = (tip, list(reversed(session.store.first_parent_line(tip))))
        return session.cache.main_line[1] if session.cache.main_line else []
    return []


def main_commit_at(session: RepoSession, at: datetime | None, line: list[tuple[str, int]] | None = None) -> str | None:
    """The main branch's commit in force at `at` (its tip when None); `line`: `main_line` read once by the caller."""
    line = main_line(session) if line is None else line
    if not line:
        return None
    if at is None:
        return line[-1][0]
    # The newest commit (in the line's order) committed at or before `at`. Committer times are
    # not always in order (clock skew, rewritten dates), so search the suffix minima, which are.
    index = bisect.bisect_right(_suffix_minima(session, line), int(at.timestamp())) - 1
    return line[index][0] if index >= 0 else None


def _suffix_minima(session: RepoSession, line: list[tuple[str, int]]) -> list[int]:
    cached = session.cache.main_minima
    if cached is not None and cached[0] is line:
        return cached[1]
    minima = [t for _, t in line]
    for i in range(len(minima) - 2, -1, -1):
        minima[i] = min(minima[i], minima[i + 1])
    session.cache.main_minima = (line, minima)
    return minima


def policy_in_force(
    session: RepoSession, env: str, commit: str, at: datetime | None = None, *, line: list[tuple[str, int]] | None = None
) -> PolicyInForce:
    """The policy a deployment of `commit` to `env` must satisfy: now (`at` None) or at a past moment."""
    found: list[tuple[str, EnvPolicy]] = []
    if at is None and env in session.config.policies:
        found.append(("workbench.yaml", session.config.policies[env]))
    main = main_commit_at(session, at, line)
    if main is not None and (policy := policy_at(session, main, env)) is not None:
        found.append((f"{session.main_branch} {main[:7]}", policy))
    if (policy := policy_at(session, commit, env)) is not None:
        found.append((f"deployed commit {commit[:7]}", policy))
    return PolicyInForce(merge([p for _, p in found]), tuple(source for source, _ in found))


def facts_for(
    session: RepoSession,
    name: str,
    env: str,
    commit: str,
    version: str,
    policy: EnvPolicy,
    *,
    promoter: str,
    at: datetime | None = None,
    known_approvals: Sequence[Approval] | None = None,
    from_history: Sequence[DeploymentEvent] | None = None,
    note: str | None = None,
) -> PolicyFacts:
    """What the rules of `policy` look at for this version, now (`at` None) or as of `at`.

    `known_approvals`, `from_history` (events of `policy.from_env` for `name`, oldest first) and
    `note` (the commit's workbench note) save reading Git again when many events are checked.
    """
    moment = at or session.clock()
    from_runs: tuple[Run, ...] = ()
    if policy.from_env:
        history = from_history if from_history is not None else events(session, policy.from_env, name)
        from_runs = runs_of(history, commit, until=at)
    tests = None
    if policy.require_tests:
        # The commit's git note, now as for `audit`: what travels with the repository. A run in
        # the local results store alone (of the working copy, of another commit with the same
        # text) let a promotion through that `audit` then flagged as untested.
        stamp = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at is not None else None
        tests = counted_summary(session, name, commit, note=note, before=stamp)
    approvers: tuple[str, ...] = ()
    if policy.approvals > 0:
        pool = known_approvals if known_approvals is not None else approvals(session, env, name)
        approvers = tuple(
            a.who for a in pool if a.prompt == name and a.env == env and a.commit == commit and _before(a, at)
        )
    return PolicyFacts(name, env, commit, version, moment, promoter, from_runs, tests, approvers)


def _before(approval: Approval, at: datetime | None) -> bool:
    if at is None:
        return True
    when = event_time(approval)
    return when is not None and when < at


def promoter_identity(session: RepoSession) -> str:
    """Who would write the event now (`Name <email>`), "" when Git does not know (execute will say so)."""
    try:
        name, email = session.store.identity()
    except Exception:
        return ""
    return f"{name} <{email}>"


def check_promotion(
    session: RepoSession, name: str, env: str, commit: str, version: str, *, note: str | None = None
) -> tuple[tuple[PolicyCheck, ...], PolicyInForce]:
    """The rules in force for deploying `commit` of `name` to `env` now, each checked (`note`:
    the commit's note, when the caller read it already)."""
    in_force = policy_in_force(session, env, commit)
    if in_force.policy is None:
        return (), in_force
    facts = facts_for(session, name, env, commit, version, in_force.policy, promoter=promoter_identity(session), note=note)
    return check_policy(in_force.policy, facts), in_force
