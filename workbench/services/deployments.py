"""Promote, split, finish and roll back: one plan, shown, then executed exactly as shown.

Every deployment starts with a plan (`plan_promote`, `plan_finish`, `plan_rollback`): which
version runs now, which one will run, their test summaries and the diff between them. The
CLI executes the plan at once; the app shows it, asks for a reason and a confirmation, then
executes the same plan. Executing writes one new annotated tag (append-only); it refuses if
the environment changed since the plan was made.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from workbench.core.diff import PromptDiff
from workbench.core.event_seq import make_seq
from workbench.core.policy import PolicyCheck
from workbench.core.versions import (
    Canary,
    DeploymentEvent,
    deploy_tag_name,
    format_event_message,
    utc_now_iso,
)
from workbench.errors import (
    GitError,
    NotFound,
    NothingToDo,
    PolicyError,
    PromptError,
    RepoError,
    WorkbenchError,
)
from workbench.services.deployment_events import current_event, current_in, events
from workbench.services.diffing import diff, introduction
from workbench.services.policies import check_promotion, policy_in_force
from workbench.services.prompt_files import prompt_at
from workbench.services.releases import ensure_release, plan_release
from workbench.services.revisions import resolve
from workbench.services.session import RepoSession
from workbench.services.test_results import NOTES_REF, counted_summary, version_tests
from workbench.services.write_lock import exclusive

ACTIONS = ("promote", "split", "finish", "rollback")


@dataclass(frozen=True)
class DeployPlan:
    """What a deployment will do, computed before anything is written."""

    action: str  # promote | split | finish | rollback
    prompt: str
    env: str
    current: DeploymentEvent | None  # what runs now (None: never deployed)
    commit: str  # what will run (the stable arm during a split)
    version: str  # its release label
    new_release: bool  # executing creates the release (of the canary, for a split)
    tests: str | None  # the test result that counts for `commit` (its git note): the event records it
    current_tests: str | None  # the same, of what runs now
    diff: PromptDiff  # from what runs now to what will run
    canary: Canary | None = None  # split only: the canary arm
    notes: tuple[str, ...] = field(default=())  # what the user should know (e.g. "ends the split")
    checks: tuple[PolicyCheck, ...] = field(default=())  # the environment's rules, each satisfied or not
    policy_sources: tuple[str, ...] = field(default=())  # where those rules were read
    tests_aside: str | None = None  # a local run of this version that does not count, and why
    served_before: str = ""  # rollback only: how `env` served `commit` before: "in full", "as a canary" or ""

    @property
    def blocked(self) -> bool:
        """A rule of the environment's policy is not satisfied: only an override may execute it."""
        return any(not check.ok for check in self.checks)

    @property
    def failed_checks(self) -> tuple[PolicyCheck, ...]:
        return tuple(check for check in self.checks if not check.ok)

    @property
    def summary(self) -> str:
        """One line naming exactly what will happen (`roll back x in prod: v3 → v2`)."""
        now = _short(self.current.version or self.current.commit[:10]) if self.current else "nothing"
        if self.action == "split" and self.canary is not None:
            canary = _short(self.canary.version or self.canary.commit[:10])
            return f"split {self.prompt} in {self.env}: {self.canary.percent:g}% to {canary}, the rest stays on {now}"
        verb = {"promote": "promote", "finish": "finish the split of", "rollback": "roll back"}[self.action]
        release = " (new release)" if self.new_release else ""
        return f"{verb} {self.prompt} in {self.env}: {now} → {_short(self.version)}{release}"

    @property
    def like_a_promotion(self) -> str | None:
        """A rollback to a version `env` never ran in full follows its policy as a promotion does: why."""
        if self.action != "rollback" or self.served_before == "in full":
            return None
        short = _short(self.version)
        ran = f"{self.env} ran {short} only as a canary" if self.served_before == "as a canary" else f"{self.env} never ran {short}"
        return f"{ran}: this rollback follows the policy of {self.env} like a promotion"


def _short(version: str) -> str:
    return version.rsplit("@", 1)[-1]


def plan_promote(
    session: RepoSession,
    name: str,
    env: str,
    rev: str | None = None,
    *,
    from_env: str | None = None,
    split_percent: float | None = None,
) -> DeployPlan:
    """Plan deploying `rev` (default HEAD), or what `from_env` runs, to `env`.

    With `split_percent`, plan a canary split: that share of keys gets the new version, the
    rest keeps the current one, until `plan_finish` or `plan_rollback` ends it.
    """
    session.require_env(env)
    if rev is not None and from_env is not None:
        raise WorkbenchError("--rev and --from name two versions: give one")
    if from_env is not None:
        session.require_env(from_env)
        if from_env == env:
            raise WorkbenchError("--from names the same environment as --env")
        source = current_event(session, name, from_env)
        if source is None:
            raise NotFound(f"{name} is not deployed to {from_env}: nothing to copy to {env}")
        commit = source.commit
    else:
        commit = resolve(session, rev or "HEAD", name)
    commit, version, new = _release_for(session, name, commit)
    current = current_event(session, name, env)
    if split_percent is not None:
        if not 0 < split_percent < 100:
            raise WorkbenchError("a split percentage must be between 0 and 100 (exclusive)")
        if current is None:
            raise NotFound(f"{name} is not deployed to {env} yet: promote it fully before a split")
        if current.commit == commit:
            raise NothingToDo(f"{env} already runs {current.version or version}: nothing to split against")
        canary = Canary(version, commit, float(split_percent))
        stable = current.version or current.commit[:10]
        if current.canary is not None and (current.canary.commit, current.canary.percent) == (commit, canary.percent):
            raise NothingToDo(f"{env} already runs {stable} with {canary.percent:g}% to {current.canary.version or version}", hint="nothing to split")
        return _plan(session, "split", name, env, current, current.commit, stable, new, canary=canary, diff_to=commit)
    if current is not None and current.commit == commit and current.canary is None:
        # What the event says it runs: `version` is the label a new release would take (two
        # promotes at once: the second named a release that was never made).
        raise NothingToDo(f"{env} already runs {current.version or version} for {name}", hint="nothing to promote")
    notes = (f"ends the running split ({current.canary.percent:g}% canary)",) if current and current.canary else ()
    return _plan(session, "promote", name, env, current, commit, version, new, notes=notes)


def plan_deploy(
    session: RepoSession, name: str, env: str, *, rev: str | None = None, from_env: str | None = None, split_percent: float | None = None, finish: bool = False
) -> DeployPlan:
    """`plan_finish` when `finish`, else `plan_promote`; a finish deploys the running split's
    canary, so a version named beside it is refused, not dropped."""
    if finish:
        if rev is not None or from_env is not None or split_percent is not None:
            raise WorkbenchError("--finish deploys the running split's canary; --rev, --from and --split name another: give one")
        return plan_finish(session, name, env)
    return plan_promote(session, name, env, rev, from_env=from_env, split_percent=split_percent)


def plan_finish(session: RepoSession, name: str, env: str) -> DeployPlan:
    """Plan ending a canary split by sending all traffic to the canary version."""
    session.require_env(env)
    current = current_event(session, name, env)
    if current is None or current.canary is None:
        raise NotFound(f"no split is running for {name} in {env}")
    commit, version, new = _release_for(session, name, current.canary.commit)
    return _plan(session, "finish", name, env, current, commit, version, new)


def plan_rollback(session: RepoSession, name: str, env: str, to: str | None = None, *, how_to_name: str = "name one with --to") -> DeployPlan:
    """Plan rolling `env` back: to `to`, else to the version that ran before the current one.

    Any version can be `to` (the CLI's --to, the app's version selected in History): one `env`
    ran is never blocked; another follows the policy of `env`, and the plan's notes say so.

    `how_to_name`: the hint when no earlier version is left, in the caller's words (the app
    has no --to: it told its user to pass one).

    During a canary split, a rollback without `to` ends the split and stays on the stable
    version. Rolling back to a version this environment already ran is never blocked.
    """
    session.require_env(env)
    history = events(session, env, name)  # one listing answers what runs, what ran, and the policy's question
    current = current_in(reversed(history))
    if current is None:
        raise NotFound(f"{name} is not deployed to {env}: nothing to roll back")
    notes: tuple[str, ...] = ()
    if to is not None:
        commit = resolve(session, to, name)
    elif current.canary is not None:
        commit = current.commit
        notes = (f"ends the split: the {current.canary.percent:g}% canary of {current.canary.version} stops",)
    else:
        stack = deployed_stack(history)
        if len(stack) < 2:
            raise NotFound(f"{env} has no earlier version of {name} to roll back to", hint=how_to_name)
        commit = stack[-2]
    commit, version, new = _release_for(session, name, commit)
    if commit == current.commit and current.canary is None:
        raise NothingToDo(f"{env} already runs {current.version or commit[:10]} for {name}")
    plan = _plan(session, "rollback", name, env, current, commit, version, new, notes=notes, history=history)
    return replace(plan, notes=(*plan.notes, plan.like_a_promotion)) if plan.like_a_promotion else plan


def rollback_choices(
    session: RepoSession, name: str, env: str, selected: str | None, *, how_to_name: str = "name one with --to"
) -> tuple[DeployPlan, DeployPlan | None]:
    """What a rollback offers: the plan back to the previous version and, when `selected` is
    another version `env` served (in full or as a canary) and serves no more, the plan to it;
    with no previous version left, the selected one alone (NotFound when neither is left).
    A version `env` never served is a promotion, not offered here (`rollback --to` plans it)."""
    to = _offered(session, name, env, selected) if selected is not None else None
    try:
        previous = plan_rollback(session, name, env, how_to_name=how_to_name)
    except NotFound:
        if to is None:
            raise
        return to, None
    return previous, (to if to is not None and to.commit != previous.commit else None)


def _offered(session: RepoSession, name: str, env: str, selected: str) -> DeployPlan | None:
    try:
        plan = plan_rollback(session, name, env, selected)
    except GitError:
        raise  # Git failed or cannot read the repository: its error, never "not offered"
    except WorkbenchError:
        return None
    assert plan.current is not None  # a rollback plans from what runs
    running = {plan.current.commit, *([plan.current.canary.commit] if plan.current.canary else [])}
    return plan if plan.served_before and plan.commit not in running else None


def served_before(history: Sequence[DeploymentEvent], commit: str) -> str:
    """How an environment's events served `commit`: "in full", "as a canary" or "" (never)."""
    shown = [e for e in history if not e.skipped]
    if any(e.commit == commit for e in shown if e.action != "split"):
        return "in full"
    return "as a canary" if any(e.canary is not None and e.canary.commit == commit for e in shown) else ""


def deployed_stack(history: Sequence[DeploymentEvent]) -> list[str]:
    """Replay events (oldest first) into a stack of deployed commits: a rollback pops back to its target."""
    stack: list[str] = []
    for event in history:
        if event.action == "split" or event.skipped:  # a skipped tag names no commit that ran
            continue
        if event.action == "rollback" and event.commit in stack:
            while stack and stack[-1] != event.commit:
                stack.pop()
            continue
        if not stack or stack[-1] != event.commit:
            stack.append(event.commit)
    return stack


def execute(
    session: RepoSession, plan: DeployPlan, reason: str, *, tests: str | None = None, override: bool = False
) -> DeploymentEvent:
    """Write the deployment event `plan` describes, with a reason (required).

    The environment's policy is checked again first (an approval may have arrived, a newer
    test run may have failed). A plan that breaks a rule is refused unless `override`: then the
    event is written and records which rules it broke (`workbench audit` lists it).

    Raises:
        WorkbenchError: no reason. PolicyError: a rule is not satisfied and no override.
        RepoError: the environment changed since the plan was made.
    """
    require_reason(plan.action, reason)
    checks, _ = policy_checks(session, plan.action, plan.prompt, plan.env, *_checked_version(plan))
    failed = [check for check in checks if not check.ok]
    if failed and not override:
        raise policy_error(plan, failed)
    # Checked and written holding the environment's lock: two processes that both passed the
    # check wrote two events with the same previous version.
    with exclusive(session, "deploy", plan.env, plan.prompt):
        now = current_event(session, plan.prompt, plan.env)
        if (now.tag if now else None) != (plan.current.tag if plan.current else None):
            shown = now.version or now.commit[:10] if now else "nothing"
            raise RepoError(f"{plan.env} changed while you looked: it now runs {shown} for {plan.prompt}", hint="review the new state and try again")
        version, canary = plan.version, plan.canary
        if plan.new_release:  # the label the plan showed, unless another release took it meanwhile
            if canary is not None:
                canary = replace(canary, version=ensure_release(session, plan.prompt, canary.commit).tag.label)
            else:
                version = ensure_release(session, plan.prompt, plan.commit).tag.label
        broken = tuple(f"{check.rule}: {check.found}" for check in failed) if override else ()
        return _write_event(session, plan, version, reason, tests or plan.tests, canary, broken)


def policy_checks(
    session: RepoSession,
    action: str,
    name: str,
    env: str,
    commit: str,
    version: str,
    *,
    note: str | None = None,
    history: Sequence[DeploymentEvent] | None = None,
) -> tuple[tuple[PolicyCheck, ...], tuple[str, ...]]:
    """The rules of `env` for putting `commit` there, each checked; a rollback to a version
    `env` already ran in full is never blocked (one `rollback` check says so). `note`: the
    commit's note, `history`: the events of `name` in `env`, when the caller read them already."""
    if action == "rollback" and served_before(events(session, env, name) if history is None else history, commit) == "in full":
        in_force = policy_in_force(session, env, commit)
        if in_force.policy is None:  # an unguarded environment: nothing to say
            return (), ()
        short = _short(version)
        return (PolicyCheck("rollback", True, f"{env} already ran {short}: a rollback to it is never blocked"),), in_force.sources
    checks, in_force = check_promotion(session, name, env, commit, version, note=note)
    return checks, in_force.sources


def policy_error(plan: DeployPlan, failed: Sequence[PolicyCheck]) -> PolicyError:
    lines = [f"{plan.summary}: blocked by the policy of {plan.env}"]
    for check in failed:
        lines.append(f"  ✗ {check.rule}: {check.found}")
        if check.fix:
            lines.append(f"      to satisfy it: {check.fix}")
    return PolicyError("\n".join(lines), hint="satisfy the rules above, or in an emergency: --override -m REASON (recorded in the event)")


def _checked_version(plan: DeployPlan) -> tuple[str, str]:
    """The version the policy looks at: the canary of a split, else what will run."""
    if plan.canary is not None:
        return plan.canary.commit, plan.canary.version or plan.canary.commit[:10]
    return plan.commit, plan.version


def promote(
    session: RepoSession,
    name: str,
    env: str,
    rev: str | None = None,
    reason: str = "",
    *,
    from_env: str | None = None,
    split_percent: float | None = None,
    tests: str | None = None,
    override: bool = False,
) -> DeploymentEvent:
    """Plan and execute a promotion (or a split) at once: what the CLI and scripts do."""
    plan = plan_promote(session, name, env, rev, from_env=from_env, split_percent=split_percent)
    return execute(session, plan, reason, tests=tests, override=override)


def finish(session: RepoSession, name: str, env: str, reason: str = "") -> DeploymentEvent:
    return execute(session, plan_finish(session, name, env), reason)


def rollback(session: RepoSession, name: str, env: str, to: str | None = None, reason: str = "") -> DeploymentEvent:
    require_reason("rollback", reason)  # before any planning work: on-call learns what is missing first
    return execute(session, plan_rollback(session, name, env, to), reason)


def require_reason(action: str, reason: str) -> None:
    """Every deployment event records why: an empty reason is refused before anything is written."""
    if not reason.strip():
        what = "a rollback" if action == "rollback" else "a deployment"
        raise WorkbenchError(f"{what} needs a reason", hint='pass -m "why" (it is recorded in the event)')


# --------------------------------------------------------------------------- internals
def _release_for(session: RepoSession, name: str, commit: str) -> tuple[str, str, bool]:
    """(commit to deploy, its release label, whether executing creates that release).

    Content that a release already names deploys that release's commit, so one label always
    means one commit. A version that is not valid cannot be deployed.
    """
    planned = plan_release(session, name, commit)
    if planned.new:
        result = prompt_at(session, name, commit)
        if not result.ok:
            first = result.errors[0].format() if result.errors else "invalid"
            raise PromptError(f"cannot deploy {name} at {commit[:10]}: {first}", hint="fix it, commit, and deploy the new commit")
    return planned.commit, planned.label, planned.new


def _plan(
    session: RepoSession,
    action: str,
    name: str,
    env: str,
    current: DeploymentEvent | None,
    commit: str,
    version: str,
    new_release: bool,
    *,
    canary: Canary | None = None,
    diff_to: str | None = None,
    notes: tuple[str, ...] = (),
    history: Sequence[DeploymentEvent] | None = None,
) -> DeployPlan:
    """`history`: the events of `name` in `env` (a rollback's plan has read them)."""
    shown = diff_to or commit
    changes = diff(session, name, current.commit, shown) if current is not None else introduction(session, name, shown)
    checked = (canary.commit, canary.version or canary.commit[:10]) if canary is not None else (commit, version)
    notes_of = session.store.notes_for(NOTES_REF, [checked[0], shown, *([current.commit] if current else [])])  # one read for all
    checks, sources = policy_checks(session, action, name, env, *checked, note=notes_of.get(checked[0], ""), history=history)
    tests = version_tests(session, name, shown, note=notes_of.get(shown, ""))
    return DeployPlan(
        action=action,
        prompt=name,
        env=env,
        current=current,
        commit=commit,
        version=version,
        new_release=new_release,
        tests=tests.counted,
        current_tests=counted_summary(session, name, current.commit, note=notes_of.get(current.commit, "")) if current else None,
        diff=changes,
        canary=canary,
        notes=notes,
        checks=checks,
        policy_sources=sources,
        tests_aside=tests.explain(shown),
        served_before=served_before(history, commit) if history is not None else "",
    )


def _write_event(
    session: RepoSession,
    plan: DeployPlan,
    version: str,
    reason: str,
    tests: str | None,
    canary: Canary | None,
    override: tuple[str, ...] = (),
) -> DeploymentEvent:
    store = session.store
    who_name, who_email = store.identity()
    who = f"{who_name} <{who_email}>"
    now = session.clock()
    previous = plan.current
    suffix = hashlib.sha256(f"{who}\0{plan.commit}\0{plan.env}\0{plan.prompt}\0".encode() + os.urandom(16)).hexdigest()
    seq = make_seq(now, suffix, after=previous.seq if previous else None)
    event = DeploymentEvent(
        tag=deploy_tag_name(plan.env, plan.prompt, seq),
        prompt=plan.prompt,
        env=plan.env,
        seq=seq,
        action=plan.action,
        version=version,
        commit=plan.commit,
        previous_version=previous.version if previous else None,
        previous_commit=previous.commit if previous else None,
        reason=reason.strip(),
        who=who,
        when=utc_now_iso(now),
        tests=tests,
        canary=canary,
        override=override,
    )
    store.create_annotated_tag(event.tag, plan.commit, format_event_message(event))
    return event
