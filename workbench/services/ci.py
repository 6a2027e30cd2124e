"""The pull-request job as one use case: `workbench ci check` (and `ci promote` after a merge).

1. Validate every prompt file and `workbench.yaml` of the working copy (`prompts.validate_workspace`).
2. Find the prompts changed since the merge-base with the base revision (`diffing.changes_since`:
   a changed tests file or partial changes every prompt that uses it).
3. Plan: per changed prompt, what runs (base and head, head only, nothing) and how many calls
   that makes now (`evals.estimate_suite`: the cache consulted, nothing sent), so a budget can
   refuse before the first call.
4. Run every suite at once within one concurrency budget (`evals.run_suites`, cache on) and
   compare base and head per prompt (`evals.compare.compare_results`).

The result is one `CiCheck`; its `to_dict()` is the JSON report (a superset of the reports of
`workbench test`, so `workbench report merge` reads it), from which `evals.ci_summary` writes
the Markdown comment and the JUnit file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.core.config import CONFIG_FILE
from workbench.core.model import Problem, Severity
from workbench.errors import NotFound, NothingToDo, PolicyError, WorkbenchError
from workbench.evals.cache import ResponseCache
from workbench.evals.compare import Comparison, compare_results
from workbench.evals.reports import REPORT_VERSION
from workbench.evals.run_model import EventHandler, distinct, occurrences
from workbench.evals.secrets import scrub
from workbench.services import deployments, diffing, prompt_files
from workbench.services.evals import EvalSettings, SuiteEstimate, SuiteOutcome, estimate_suite, run_suites
from workbench.services.prompts import validate_workspace
from workbench.services.session import RepoSession
from workbench.services.test_results import state_dir

# What a changed prompt gets: `compare` (base and head), `head-only` (new, or the base does not
# load), `deleted`, `no-tests`, `invalid` (at head) or `not-run` (its provider cannot start here).
RUNS = ("compare", "head-only")


@dataclass(frozen=True)
class Validation:
    """Every prompt file and `workbench.yaml` of the working copy, checked."""

    files: int
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)

    @property
    def config_broken(self) -> bool:
        """`workbench.yaml` has errors: no session can open, so nothing else is checked."""
        return any(p.path == CONFIG_FILE for p in self.errors)


@dataclass
class PromptCheck:
    """One changed prompt: what changed, what ran, what it found."""

    name: str
    change: str  # added | modified | deleted | renamed
    old_name: str | None
    fields: tuple[str, ...]  # the diff's changed sections ("message 2 (user)", "partial shared/x.jinja")
    status: str  # compare | head-only | deleted | no-tests | invalid | not-run
    note: str | None = None
    estimates: tuple[SuiteEstimate, ...] = ()
    base: SuiteOutcome | None = None
    head: SuiteOutcome | None = None
    comparison: Comparison | None = None
    # case id -> its places in the file (head first, then base): the n-th for its n-th occurrence
    order: dict[str, tuple[int, ...]] = field(default_factory=dict)

    @property
    def broke(self) -> int:
        """Cases that passed on base and error on head (counted with the regressions, by the
        comparison: this only says how many of them errored)."""
        return self.comparison.broken if self.comparison is not None else 0

    @property
    def regressed(self) -> int:
        """Cases that passed on base and fail or error on head; for a prompt with no base
        version, every case that does not pass."""
        if self.comparison is not None:
            return self.comparison.regressed
        if self.status == "head-only" and self.head is not None:
            return len({(r.case_id, r.occurrence) for r in distinct(self.head.results) if r.passed is not True})  # a case's repeats are one case
        return 0

    @property
    def unmeasured(self) -> int:
        """Cases the head errored on that tell nothing: the base did not pass them either (see
        `Comparison.unmeasured`), or there is no base (a new prompt)."""
        if self.comparison is not None:
            return self.comparison.unmeasured
        if self.status == "head-only" and self.head is not None:
            return len({(r.case_id, r.occurrence) for r in distinct(self.head.results) if r.passed is None})
        return 0

    def failing(self, fail_on_regression: bool = True) -> bool:
        """What fails the check: an invalid head, a prompt that could not run or errored at head
        (whatever `fail_on_regression` says: nothing was measured there), a regression."""
        return self.status in ("invalid", "not-run") or self.unmeasured > 0 or (fail_on_regression and self.regressed > 0)

    @property
    def verdict(self) -> str:
        if self.status == "compare" and self.comparison is not None:
            extra = [f"{self.broke} passed on base and error on head"] if self.broke else []
            only_head = sum(1 for p in self.comparison.pairs if p.a is None)
            only_base = sum(1 for p in self.comparison.pairs if p.b is None)
            extra += [f"{only_head} new case{'s' * (only_head != 1)}"] if only_head else []
            extra += [f"{only_base} case{'s' * (only_base != 1)} removed"] if only_base else []
            return "; ".join([self.comparison.verdict, *extra])
        if self.status == "head-only" and self.head is not None:
            s = self.head.summary
            what = "new prompt" if self.change == "added" else "no base version to compare"
            return f"{what}: {s.passed}/{s.total} pass" + (f", {s.errors} errored" if s.errors else "")
        return {
            "deleted": "deleted",
            "no-tests": "no test cases: nothing to compare",
            "invalid": f"invalid: {self.note}",
            "not-run": f"could not run: {self.note}",
        }.get(self.status, self.note or self.status)

    @property
    def estimated_calls(self) -> int:
        return sum(e.calls for e in self.estimates)

    @property
    def estimated_cost(self) -> float | None:
        costs = [e.cost for e in self.estimates]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def calls(self) -> int:
        """Model calls made: answers not from the cache (retries not counted) and model-graded
        assertions."""
        spent = 0
        for outcome, estimate in zip((self.base, self.head), self._estimates_by_side(), strict=True):
            if outcome is not None:
                spent += sum(1 for r in outcome.results if not r.cached) - (estimate.plan.render_errors if estimate else 0)
                spent += estimate.plan.grader_calls if estimate else 0
        return max(0, spent)

    @property
    def cost(self) -> float | None:
        """USD of the answers fetched in this run (cached ones cost nothing again)."""
        total = 0.0
        for outcome in (self.base, self.head):
            for result in outcome.results if outcome is not None else []:
                if result.cached or (result.latency_ms is None and result.passed is None):
                    continue
                if result.cost is None:
                    return None
                total += result.cost
        return total

    def _estimates_by_side(self) -> tuple[SuiteEstimate | None, SuiteEstimate | None]:
        if self.status == "compare" and len(self.estimates) == 2:
            return self.estimates[0], self.estimates[1]
        return None, (self.estimates[-1] if self.estimates else None)

    def to_dict(self, fail_on_regression: bool = True) -> dict[str, Any]:
        def side(outcome: SuiteOutcome | None) -> dict[str, Any] | None:
            if outcome is None:
                return None
            return {"revision": outcome.revision, "provider": outcome.provider_id, **outcome.summary.to_dict()}

        cases: list[dict[str, Any]] = []
        if self.comparison is not None:
            for pair in self.comparison.pairs:
                cases.append(_case(pair.case_id, pair.description, pair.repeat, pair.occurrence, pair.change, pair.a, pair.b))
        elif self.head is not None:
            for result in distinct(self.head.results):
                change = "new" if result.passed is not None else "error"
                cases.append(_case(result.case_id, result.description, result.repeat, result.occurrence, change, None, result))
        last = (1 + max((i for places in self.order.values() for i in places), default=-1),)
        for case in cases:  # results arrive in the order they finish: show them in the file's order
            # the n-th case of a repeated description (its occurrence, as the comparison paired it)
            # is at its n-th place, and so is the n-th in the JUnit file (`same (n)`), whatever
            # the order outcomes sorted the cases in
            places = self.order.get(case["case_id"], last)
            case["index"] = places[min(case["occurrence"], len(places) - 1)]
        cases.sort(key=lambda c: (_RANK.get(c["change"], 9), c["index"], c["repeat"]))
        return {
            "name": self.name,
            "change": self.change,
            "old_name": self.old_name,
            "fields": list(self.fields),
            "status": self.status,
            "note": self.note,
            "verdict": self.verdict,
            "failing": self.failing(fail_on_regression),
            "fixed": self.comparison.fixed if self.comparison is not None else 0,
            "regressed": self.regressed,
            "unmeasured": self.unmeasured,
            "base": side(self.base),
            "head": side(self.head),
            "estimate": {"calls": self.estimated_calls, "cost": self.estimated_cost},
            "calls": self.calls if self.status in RUNS else 0,
            "cost": self.cost if self.status in RUNS else 0.0,
            "cases": cases,
        }


_RANK = {"regressed": 0, "error": 1, "fixed": 2, "missing": 3, "new": 4, "unchanged-fail": 5, "unchanged-pass": 6}


def _case(case_id: str, description: str, repeat: int, occurrence: int, change: str, a: Any, b: Any) -> dict[str, Any]:
    failing = [f"{x.type}: {x.reason}" for x in (b.asserts if b is not None else ()) if not x.passed]
    return {
        "case_id": case_id,
        "description": description,
        "repeat": repeat,
        "occurrence": occurrence,
        "change": change,
        "base": a.status if a is not None else None,
        "head": b.status if b is not None else None,
        "reasons": failing,
        "error": b.error if b is not None else None,
        "output": b.output if b is not None else None,
        "latency_ms": b.latency_ms if b is not None else None,  # the JUnit `time` of the head's case
    }


@dataclass
class CiCheck:
    """The plan of a check and, once run, its results."""

    base: str
    merge_base: str | None
    head: str | None
    head_subject: str
    validation: Validation
    prompts: list[PromptCheck] = field(default_factory=list)
    ran: bool = False
    refused: str | None = None
    fail_on_regression: bool = True

    @property
    def estimated_calls(self) -> int:
        return sum(p.estimated_calls for p in self.prompts if p.status in RUNS)

    @property
    def estimated_cost(self) -> float | None:
        costs = [p.estimated_cost for p in self.prompts if p.status in RUNS]
        return None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)

    @property
    def exit_code(self) -> int:
        """0 passed or nothing changed; 1 an invalid file, a regression (unless not failing on
        them) or a changed prompt that could not run; 2 refused by the budget."""
        if self.refused is not None:
            return 2
        failed = bool(self.validation.errors) or any(p.failing(self.fail_on_regression) for p in self.prompts)
        return 1 if failed else 0

    @property
    def headline(self) -> str:
        """One line: what the check found."""
        if self.refused is not None:
            return f"not run: {self.refused}"
        bad_files = len({p.path for p in self.validation.errors})
        parts = [f"{bad_files} invalid file{'s' * (bad_files != 1)}" if bad_files else ""]
        total = len(self.prompts)
        changed = f"changed prompt{'s' * (total != 1)}"
        regressed = [p.name for p in self.prompts if p.regressed]
        if len(regressed) == 1:
            parts.append(f"{regressed[0]} regressed" + (f" ({total} {changed})" if total > 1 else ""))
        elif regressed:
            parts.append(f"{len(regressed)} of {total} {changed} regressed")
        errored = [p.name for p in self.prompts if p.unmeasured]
        if len(errored) == 1:
            parts.append(f"{errored[0]} errored at head")
        elif errored:
            parts.append(f"{len(errored)} of {total} {changed} errored at head")
        not_run = sum(1 for p in self.prompts if p.status == "not-run")
        parts.append(f"{not_run} {changed if not_run == total else 'prompt' + 's' * (not_run != 1)} could not run" if not_run else "")
        found = "; ".join(x for x in parts if x)
        if not self.prompts:
            return "; ".join(x for x in (found, "no prompt changed") if x)
        return found or f"{total} {changed}, no regression"

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: `suites` and `comparisons` as `workbench test` writes them, plus `ci`."""
        suites = [o.report().to_dict() for p in self.prompts for o in (p.base, p.head) if o is not None]
        comparisons = [p.comparison.to_dict() for p in self.prompts if p.comparison is not None]
        spent_costs = [p.cost for p in self.prompts if p.status in RUNS]
        return {
            "version": REPORT_VERSION,
            "shard": None,
            "suites": suites,
            "comparisons": comparisons,
            "ci": {
                "base": self.base,
                "merge_base": self.merge_base,
                "head": self.head,
                "head_subject": self.head_subject,
                "status": "refused" if self.refused else "failed" if self.exit_code else "passed",
                "exit_code": self.exit_code,
                "headline": self.headline,
                "fail_on_regression": self.fail_on_regression,
                "refused": self.refused,
                "ran": self.ran,
                "files": self.validation.files,
                "problems": [p.to_dict() for p in self.validation.problems],
                "estimate": {"calls": self.estimated_calls, "cost": self.estimated_cost},
                "spent": {
                    "calls": sum(p.calls for p in self.prompts if p.status in RUNS) if self.ran else 0,
                    "cost": (None if any(c is None for c in spent_costs) else sum(c or 0.0 for c in spent_costs)) if self.ran else 0.0,
                },
                "prompts": [p.to_dict(self.fail_on_regression) for p in self.prompts],
            },
        }


# --------------------------------------------------------------------------- the steps
def validate(root: Path) -> Validation:
    """Step 1, before any Git work: every prompt file and `workbench.yaml` of the working copy."""
    results, problems = validate_workspace(root)
    return Validation(len(results), tuple(problems))


def unchecked(validation: Validation, base: str | None, *, fail_on_regression: bool = True) -> CiCheck:
    """The check when `workbench.yaml` is broken: its problems, nothing else (no session opens)."""
    return CiCheck(base or "main", None, None, "", validation, fail_on_regression=fail_on_regression)


def default_base(session: RepoSession) -> str:
    """The configured main branch; in a CI clone without that local branch, origin's copy of it.

    Raises:
        RepoError: neither exists (name one with --base).
    """
    for candidate in (session.main_branch, f"origin/{session.main_branch}"):
        if session.store.try_resolve(candidate) is not None:
            return candidate
    raise NotFound(
        f"the main branch {session.main_branch!r} does not exist here (nor origin/{session.main_branch})",
        hint="name the base with --base REF (in CI, fetch it first: git fetch origin main), or set main_branch in workbench.yaml",
    )


def plan_check(
    session: RepoSession, validation: Validation, base: str | None = None, settings: EvalSettings | None = None, *, fail_on_regression: bool = True
) -> CiCheck:
    """Steps 2 and 3: the changed prompts since the merge-base of HEAD with `base` (default: the
    main branch), what each will run, and the calls that makes now. Nothing is sent.

    Raises:
        RepoError: the base does not exist or shares no history with HEAD.
    """
    settings = settings or EvalSettings()
    base = base or default_base(session)
    review = diffing.changes_since(session, base, "HEAD")
    head = review.head
    check = CiCheck(base, review.merge_base, head, session.store.commit_info(head).subject, validation, fail_on_regression=fail_on_regression)
    cache = ResponseCache(state_dir(session) / "cache.sqlite") if settings.use_cache and (state_dir(session) / "cache.sqlite").exists() else None
    try:
        for item in review.items:
            check.prompts.append(_plan_prompt(session, item, review.merge_base, head, settings, cache))
    finally:
        if cache is not None:
            cache.close()
    return check


def _plan_prompt(session: RepoSession, item: diffing.ReviewItem, fork: str, head: str, settings: EvalSettings, cache: ResponseCache | None) -> PromptCheck:
    fields = tuple(s.title for s in item.diff.changed_sections) if item.change not in ("added", "deleted") else (item.change,)
    check = PromptCheck(item.name, item.change, item.old_name, fields, "compare")
    if item.change == "deleted":
        return replace(check, status="deleted", note="deleted: nothing to run")
    loaded = prompt_files.prompt_at(session, item.name, head)
    if loaded.prompt is None or not loaded.ok:
        first = loaded.errors[0] if loaded.errors else None
        where = f"{first.path}:{first.line}:{first.col}: {first.message}" if first else "it does not load"
        return replace(check, status="invalid", note=where)
    if not loaded.prompt.tests:
        return replace(check, status="no-tests", note="no test cases")
    estimates: list[SuiteEstimate] = []
    base_name = item.old_name or item.name
    note = None
    for index, case in enumerate(loaded.prompt.tests):
        check.order[case.case_id] = (*check.order.get(case.case_id, ()), index)
    if item.change != "added":
        base_loaded = prompt_files.prompt_at(session, base_name, fork)
        base_ids = [case.case_id for case in base_loaded.prompt.tests] if base_loaded.prompt is not None else []
        after = len(loaded.prompt.tests)
        for case_id, occurrence in zip(base_ids, occurrences(base_ids), strict=True):
            places = check.order.get(case_id, ())
            if occurrence >= len(places):  # a case only the base has (or one more so described): after the head's
                check.order[case_id], after = (*places, after), after + 1
        if base_loaded.prompt is not None and base_loaded.ok:
            try:
                estimates.append(estimate_suite(session, base_name, fork, settings, cache))
            except WorkbenchError as err:
                return replace(check, status="not-run", note=_reason(err))
        else:
            note = "the base version does not load: head only"
    try:
        estimates.append(estimate_suite(session, item.name, head, settings, cache))
    except WorkbenchError as err:
        return replace(check, status="not-run", note=_reason(err))
    status = "compare" if len(estimates) == 2 else "head-only"
    return replace(check, status=status, note=note, estimates=tuple(estimates))


def _reason(err: WorkbenchError) -> str:
    return scrub(f"{err.message} (hint: {err.hint})" if err.hint else err.message)


def budget_problem(check: CiCheck, max_calls: int | None = None, max_cost: float | None = None) -> str | None:
    """Why the run must not start (None: within the budget); names the calls it would make."""
    calls, cost = check.estimated_calls, check.estimated_cost
    shown = f"${cost:.4f}" if cost is not None else "unknown (no prices for this model)"
    if max_calls is not None and calls > max_calls:
        return f"the run would make {calls} model calls (estimated cost {shown}), more than --max-calls {max_calls}"
    if max_cost is not None:
        if cost is None:
            return f"the run would make {calls} model calls whose cost cannot be estimated (no known prices), and --max-cost {max_cost:g} is set"
        if cost > max_cost:
            return f"the run would make {calls} model calls, estimated cost {shown}, more than --max-cost {max_cost:g}"
    return None


async def run_check(
    session: RepoSession,
    check: CiCheck,
    settings: EvalSettings | None = None,
    on_event: EventHandler | None = None,
    *,
    git_lock: Callable[[Callable[[], Any]], Any] | None = None,
) -> CiCheck:
    """Step 4: every planned suite at once, within one concurrency budget; then compare."""
    settings = settings or EvalSettings()
    targets: list[tuple[str, str | None]] = []
    owners: list[tuple[PromptCheck, str]] = []
    for prompt in check.prompts:
        if prompt.status == "compare":
            targets.append((prompt.old_name or prompt.name, check.merge_base))
            owners.append((prompt, "base"))
        if prompt.status in RUNS:
            targets.append((prompt.name, check.head))
            owners.append((prompt, "head"))
    outcomes = await run_suites(session, targets, settings, on_event, git_lock=git_lock) if targets else []
    for (prompt, side), outcome in zip(owners, outcomes, strict=True):
        setattr(prompt, side, outcome)
    for prompt in check.prompts:
        if prompt.base is not None and prompt.head is not None:
            prompt.comparison = compare_results(
                prompt.name, f"{check.base} {check.merge_base[:10] if check.merge_base else ''}".strip(), prompt.base.results,
                f"head {check.head[:10] if check.head else ''}".strip(), prompt.head.results,
            )
    check.ran = True
    return check


# --------------------------------------------------------------------------- after the merge
@dataclass(frozen=True)
class Promotion:
    """What `ci promote` did for one changed prompt."""

    prompt: str
    status: str  # promoted | unchanged | blocked | skipped
    detail: str
    event: Any = None  # the DeploymentEvent written

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "status": self.status, "detail": self.detail, "event": self.event.to_dict() if self.event else None}


def first_environment(session: RepoSession) -> str:
    if not session.environments:
        raise WorkbenchError("workbench.yaml names no environment to promote to")
    return session.environments[0]


def promote_changed(session: RepoSession, check: CiCheck, env: str | None = None, reason: str | None = None) -> list[Promotion]:
    """Promote HEAD of every changed prompt that passed to `env` (default: the first
    environment) with `reason` (default `CI: <HEAD's subject>`). The environment's policy
    applies: a blocked promotion is reported with its rules and nothing is written for it.

    Raises:
        WorkbenchError: the check did not pass (nothing is promoted then).
    """
    if check.exit_code != 0 or not check.ran:
        raise WorkbenchError(f"the check did not pass ({check.headline}): nothing promoted")
    env = env or first_environment(session)
    session.require_env(env)
    reason = reason or f"CI: {check.head_subject}"
    done: list[Promotion] = []
    for prompt in check.prompts:
        if prompt.status == "deleted":
            done.append(Promotion(prompt.name, "skipped", "deleted"))
            continue
        try:
            plan = deployments.plan_promote(session, prompt.name, env, check.head)
        except NothingToDo as err:  # it runs there already; any other error stops the job
            done.append(Promotion(prompt.name, "unchanged", err.message))
            continue
        try:
            event = deployments.execute(session, plan, reason)
        except PolicyError as err:
            done.append(Promotion(prompt.name, "blocked", err.message))
            continue
        done.append(Promotion(prompt.name, "promoted", plan.summary, event))
    return done
