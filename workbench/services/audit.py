"""`workbench audit`: every deployment event checked against the policy in force when it was written.

A Git host cannot stop someone from pushing a `deploy/...` tag made by hand with `git tag`, so
the audit reads every deployment tag as Git recorded it (the tagger, not the message, says who
made it), finds the policy in force at that moment (`workbench.yaml` on the main branch as of
the event's time, and in the deployed commit: `services.policies`), and checks the rules with
the facts as they were then: what `from` had run before, the test summaries in the git notes
stamped before, the approvals tagged before. A rollback to a version the environment had
already run is never a violation. Overrides are listed; they are not violations.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from workbench.core.policy import PolicyCheck, check_policy, event_time, identity_key, runs_of
from workbench.core.versions import DeploymentEvent, deploy_tag_prefix, parse_event_message
from workbench.services.approvals import approvals
from workbench.services.policies import facts_for, main_line, policy_in_force
from workbench.services.session import RepoSession
from workbench.services.test_results import NOTES_REF

STATUSES = ("ok", "violation", "override", "rollback", "unguarded")
# rollback: to a version the (guarded) environment had already run, never a violation;
# unguarded: no policy was in force for that environment then.


@dataclass(frozen=True)
class AuditFinding:
    event: DeploymentEvent
    status: str  # ok | violation | override | rollback | unguarded
    promoter: str  # who Git recorded as the tagger ("" for a lightweight tag)
    checks: tuple[PolicyCheck, ...] = ()
    sources: tuple[str, ...] = ()  # where the policy was read
    problems: tuple[str, ...] = ()  # what is wrong with the tag itself

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.event.tag,
            "prompt": self.event.prompt,
            "env": self.event.env,
            "action": self.event.action,
            "version": self.event.version,
            "commit": self.event.commit,
            "when": self.event.when,
            "status": self.status,
            "promoter": self.promoter,
            "reason": self.event.reason,
            "override": list(self.event.override),
            "policy_sources": list(self.sources),
            "checks": [c.to_dict() for c in self.checks],
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class AuditReport:
    findings: tuple[AuditFinding, ...]

    @property
    def violations(self) -> list[AuditFinding]:
        return [f for f in self.findings if f.status == "violation"]

    @property
    def overrides(self) -> list[AuditFinding]:
        return [f for f in self.findings if f.status == "override"]

    @property
    def ok(self) -> bool:
        return not self.violations

    def counts(self) -> dict[str, int]:
        return {status: sum(1 for f in self.findings if f.status == status) for status in STATUSES}

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "counts": self.counts(), "events": [f.to_dict() for f in self.findings]}


def audit(session: RepoSession, env: str | None = None) -> AuditReport:
    """Check every deployment event (of one environment, or all) against its policy.

    Raises:
        WorkbenchError: an unknown environment.
    """
    if env is not None:
        session.require_env(env)
    # Every event of every environment: `from` rules look at the other environments' history.
    records = session.store.tag_records("refs/tags/deploy/")
    taggers: dict[str, tuple[str, bool]] = {}
    histories: dict[tuple[str, str], list[DeploymentEvent]] = defaultdict(list)
    for record in records:
        event = parse_event_message(record.tag, record.commit, record.message, target_type=record.target_type)
        if event is None:
            continue
        taggers[event.tag] = (record.tagger, record.annotated)
        histories[(event.prompt, event.env)].append(event)
    for key, history in histories.items():
        history.sort(key=lambda e: e.seq)
        histories[key] = session.store.checked_events(history)  # a split to no commit is a problem
    known = approvals(session)
    commits = {e.commit for h in histories.values() for e in h} | {e.canary.commit for h in histories.values() for e in h if e.canary}
    notes = session.store.notes_for(NOTES_REF, commits)
    wanted = deploy_tag_prefix(env) if env is not None else None
    line = main_line(session)
    findings = []
    for (_prompt, _env), history in sorted(histories.items()):
        for event in history:
            if wanted is not None and not event.tag.startswith(wanted):
                continue
            tagger, annotated = taggers[event.tag]
            findings.append(_check_event(session, event, history, histories, known, notes, tagger, annotated, line))
    findings.sort(key=lambda f: (f.event.seq, f.event.env, f.event.prompt))
    return AuditReport(tuple(findings))


def _check_event(
    session: RepoSession,
    event: DeploymentEvent,
    history: list[DeploymentEvent],
    histories: dict[tuple[str, str], list[DeploymentEvent]],
    known: list[Any],
    notes: dict[str, str],
    tagger: str,
    annotated: bool,
    line: list[tuple[str, int]],
) -> AuditFinding:
    at = event_time(event)
    promoter = tagger or event.who
    # A value of the message left out for its shape (read as safely as it can be) is still a
    # tag someone wrote wrong: said whatever the environment's policy.
    malformed = (f"the message is malformed: {event.problem}",) if event.problem else ()
    if at is None or event.skipped:  # no time or no commit to check a policy against: a tag workbench never writes
        return AuditFinding(event, "violation", tagger, problems=(event.problem,))
    commit, version = event.commit, event.version or event.commit[:10]
    if event.action == "split" and event.canary is not None:
        commit, version = event.canary.commit, event.canary.version or event.canary.commit[:10]
    in_force = policy_in_force(session, event.env, commit, at, line=line)
    if in_force.policy is None:
        return AuditFinding(event, "unguarded", tagger, problems=malformed)
    if event.action == "rollback" and runs_of(history, event.commit, until=at):
        short = version.rsplit("@", 1)[-1]
        check = PolicyCheck("rollback", True, f"{event.env} already ran {short}: a rollback to it is never blocked")
        return AuditFinding(event, "rollback", tagger, (check,), in_force.sources)
    problems = list(malformed)
    if not annotated:
        problems.append("a lightweight tag: Git recorded neither who made it nor when (not written by workbench)")
    elif event.who and identity_key(event.who) != identity_key(tagger):
        problems.append(f"the message says {event.who} but Git recorded {tagger} as the tagger")
    policy = in_force.policy
    facts = facts_for(
        session,
        event.prompt,
        event.env,
        commit,
        version,
        policy,
        promoter=promoter,
        at=at,
        known_approvals=known,
        from_history=histories.get((event.prompt, policy.from_env or ""), []),
        note=notes.get(commit, ""),
    )
    checks = check_policy(policy, facts)
    failed = problems or any(not c.ok for c in checks)
    status = "ok" if not failed else ("override" if event.override else "violation")
    return AuditFinding(event, status, tagger, checks, in_force.sources, tuple(problems))
