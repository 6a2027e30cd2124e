"""Promotion policies of guarded environments, and the pure rules that check a version against them.

An environment in `workbench.yaml` may carry a policy:

    environments:
      - dev
      - staging
      - name: prod
        from: staging          # only versions that staging has run (to all its traffic)
        require_tests: pass    # the latest test summary in the version's git note passed
        soak: 1h               # ... and ran in `from` at least this long without a break
        approvals: 1           # approvals by people other than the promoter

`check_policy` turns a policy and the facts about one version (gathered from Git by
`services.policies`) into one `PolicyCheck` per rule: satisfied or not, what was found, and
how to satisfy it. `promote` (CLI and app) and `workbench audit` both call it, so a promotion
and its later audit cannot disagree about what a rule means.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from workbench.core.event_seq import seq_time

RULES = ("from", "require_tests", "soak", "approvals")
_DURATION_RE = re.compile(r"^(?:(?P<w>[0-9]+)w)?(?:(?P<d>[0-9]+)d)?(?:(?P<h>[0-9]+)h)?(?:(?P<m>[0-9]+)m)?(?:(?P<s>[0-9]+)s)?$")
_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta | None:
    """`1h`, `30m`, `2d`, `1h30m`, `1w`, `45s` -> a timedelta; None when not such a duration."""
    text = str(text).strip()
    match = _DURATION_RE.match(text)
    if not text or match is None or not any(match.groups()):
        return None
    return timedelta(seconds=sum(int(v) * _UNITS[k] for k, v in match.groupdict().items() if v))


def format_duration(delta: timedelta) -> str:
    """A short human duration: `1h 05m`, `3d 2h`, `42s`."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes:02d}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs:02d}s" if secs else f"{minutes}m"
    return f"{secs}s"


@dataclass(frozen=True)
class EnvPolicy:
    """The promotion rules of one environment (all optional; an empty policy allows everything)."""

    env: str
    from_env: str | None = None
    require_tests: str | None = None  # "pass"
    soak: timedelta | None = None  # needs from_env
    soak_text: str | None = None
    approvals: int = 0

    @property
    def empty(self) -> bool:
        return self.from_env is None and self.require_tests is None and self.soak is None and self.approvals <= 0

    def describe(self) -> list[str]:
        """One line per rule, as the app and `audit` show them."""
        rules = []
        if self.from_env:
            rules.append(f"from {self.from_env}: only versions {self.from_env} has run")
        if self.require_tests:
            rules.append("require_tests: pass: the latest test run recorded on the version's commit passed")
        if self.soak is not None:
            rules.append(f"soak {self.soak_text or format_duration(self.soak)}: ran in {self.from_env} at least that long")
        if self.approvals > 0:
            rules.append(f"approvals {self.approvals}: approved for {self.env} by someone other than the promoter")
        return rules

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "from": self.from_env,
            "require_tests": self.require_tests,
            "soak": self.soak_text,
            "approvals": self.approvals,
        }


@dataclass(frozen=True)
class PolicyCheck:
    """One rule against one version: satisfied or not, what was found, how to satisfy it."""

    rule: str  # from | require_tests | soak | approvals | rollback
    ok: bool
    found: str
    fix: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule, "ok": self.ok, "found": self.found, "fix": self.fix}


@dataclass(frozen=True)
class Run:
    """A stretch of time during which an environment served one commit to all its traffic."""

    start: datetime
    end: datetime | None  # None: still running at the moment of the check


@dataclass(frozen=True)
class PolicyFacts:
    """What the rules look at, for one version of one prompt, as of one moment (`at`)."""

    prompt: str
    env: str
    commit: str
    version: str
    at: datetime
    promoter: str  # `Name <email>`
    from_runs: tuple[Run, ...] = ()  # when `from_env` served this commit (before `at`)
    tests: str | None = None  # the latest summary (`✓ 6/6`) in the commit's git note as of `at`
    approvers: tuple[str, ...] = ()  # who approved this commit for `env` before `at`
    notes: tuple[str, ...] = field(default=())


def identity_key(who: str) -> str:
    """The part of `Name <email>` that identifies a person: the email, lower-cased (else the whole text)."""
    match = re.search(r"<([^<>]*)>\s*$", who or "")
    key = match.group(1) if match and match.group(1).strip() else who
    return key.strip().lower()


def tests_passed(summary: str | None) -> bool:
    """`✓ 6/6` passed; `✗ 3/6`, `✓ 0/0`-like oddities and no summary did not."""
    if not summary:
        return False
    symbol, _, counts = summary.strip().partition(" ")
    passed, _, total = counts.partition("/")
    return symbol == "✓" and passed.isdigit() and passed == total and int(total) > 0


def longest_run(runs: Iterable[Run], at: datetime) -> timedelta:
    best = timedelta(0)
    for run in runs:
        end = min(run.end or at, at)
        if end > run.start:
            best = max(best, end - run.start)
    return best


def check_policy(policy: EnvPolicy, facts: PolicyFacts) -> tuple[PolicyCheck, ...]:
    """One `PolicyCheck` per rule of `policy` for the version in `facts` (empty policy: none)."""
    checks: list[PolicyCheck] = []
    short = facts.version.rsplit("@", 1)[-1]
    name = facts.prompt
    if policy.from_env:
        if facts.from_runs:  # already only the runs before the moment checked (`runs_of(until=...)`)
            checks.append(PolicyCheck("from", True, f"{policy.from_env} ran {short}"))
        else:
            checks.append(
                PolicyCheck(
                    "from",
                    False,
                    f"{policy.from_env} has never run {short}",
                    f"promote it to {policy.from_env} first: workbench promote {name} --env {policy.from_env} --rev {facts.commit[:10]}",
                )
            )
    if policy.require_tests:
        if tests_passed(facts.tests):
            checks.append(PolicyCheck("require_tests", True, f"latest test run {facts.tests}"))
        else:
            found = f"latest test run {facts.tests}" if facts.tests else f"no stored test run of commit {facts.commit[:10]}"
            checks.append(
                PolicyCheck("require_tests", False, found, f"run the tests of this version until they pass: workbench test {name} --rev {facts.commit[:10]}")
            )
    if policy.soak is not None:
        soaked = longest_run(facts.from_runs, facts.at)
        need = policy.soak_text or format_duration(policy.soak)
        where = policy.from_env or "the previous environment"
        if soaked >= policy.soak:
            checks.append(PolicyCheck("soak", True, f"ran {format_duration(soaked)} in {where} (needs {need})"))
        else:
            wait = policy.soak - soaked
            fix = f"let it run in {where} for another {format_duration(wait)}" if soaked else f"promote it to {where} and let it run {need}"
            checks.append(PolicyCheck("soak", False, f"ran {format_duration(soaked)} in {where} (needs {need})", fix))
    if policy.approvals > 0:
        promoter = identity_key(facts.promoter)
        counted = sorted({identity_key(who) for who in facts.approvers} - {promoter})
        own = any(identity_key(who) == promoter for who in facts.approvers)
        found = f"{len(counted)} of {policy.approvals} approval(s)"
        if counted:
            found += f" ({', '.join(counted)})"
        if own:
            found += "; your own approval does not count"
        if len(counted) >= policy.approvals:
            checks.append(PolicyCheck("approvals", True, found))
        else:
            checks.append(
                PolicyCheck(
                    "approvals",
                    False,
                    found,
                    f"ask someone else to run: workbench approve {name} --env {facts.env} --rev {facts.commit[:10]} -m REASON",
                )
            )
    return tuple(checks)


def runs_of(history: Sequence[Any], commit: str, *, until: datetime | None = None) -> tuple[Run, ...]:
    """When the events `history` (one prompt in one environment, oldest first) served `commit`.

    A split keeps the stable version (the event's commit) running; a canary does not count as
    having run. Events at or after `until` are ignored.
    """
    runs: list[Run] = []
    start: datetime | None = None
    for event in history:
        when = event_time(event)
        if when is None or (until is not None and when >= until):
            continue
        if event.commit == commit:
            if start is None:
                start = when
        elif start is not None:
            runs.append(Run(start, when))
            start = None
    if start is not None:
        runs.append(Run(start, None))
    return tuple(runs)


def event_time(event: Any) -> datetime | None:
    """When an event (deployment or approval) happened: the time in its sequence (what orders it)."""
    return seq_time(str(getattr(event, "seq", "") or ""))
