"""The data of a run: options, case results, summaries and progress events.

Plain dataclasses, light to import: the results store, the reports, the CLI and the app read them
without loading the evaluation engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from workbench.core.stats import pass_hat_k, percentile, wilson_interval
from workbench.core.tool_calls import tool_calls_in


@dataclass(frozen=True)
class AssertionResult:
    type: str
    passed: bool
    score: float
    reason: str
    weight: float = 1.0
    metric: str | None = None
    error: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = {"type": self.type, "pass": self.passed, "score": self.score, "reason": self.reason, "weight": self.weight}
        if self.error:
            data["error"] = True
        return data


@dataclass(frozen=True)
class RunOptions:
    concurrency: int = 8
    max_attempts: int = 8
    timeout_s: float = 60.0
    backoff_base_s: float = 0.5  # 5xx, timeouts, dropped connections, while the endpoint is overloaded
    rate_limit_base_s: float = 1.0  # 429 without Retry-After, while the endpoint is overloaded
    healthy_backoff_base_s: float = 0.1  # any transient failure while most attempts succeed
    backoff_cap_s: float = 10.0
    retry_after_cap_s: float = 60.0
    repeat: int = 1
    use_cache: bool = True
    python_assertions: bool = True  # `python` assertions run code from prompt files (core.trust)
    python_assertions_source: str = ""


@dataclass(frozen=True)
class CaseResult:
    case_id: str
    description: str
    repeat: int
    passed: bool | None  # None: errored (no output to judge)
    score: float
    output: str = ""
    asserts: tuple[AssertionResult, ...] = ()
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    error: str | None = None
    cached: bool = False
    attempts: int = 1
    vars: dict[str, Any] = field(default_factory=dict)
    finish_reason: str | None = None  # "length": cut at its token limit (promptfoo's finishReason)
    # Its case's place among the suite's cases with the same case_id (the description): 0, or 1
    # for the second test described `same`. Results are paired, merged and named by `key`.
    occurrence: int = 0

    @property
    def key(self) -> tuple[str, int, int]:
        """(case id, occurrence, repeat): one result of a suite, whatever its cases are described."""
        return (self.case_id, self.occurrence, self.repeat)

    @property
    def tokens(self) -> int | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        return (self.input_tokens or 0) + (self.output_tokens or 0)

    @property
    def status(self) -> str:
        return "error" if self.passed is None else "pass" if self.passed else "fail"

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "description": self.description,
            "repeat": self.repeat,
            **({"occurrence": self.occurrence} if self.occurrence else {}),
            "status": self.status,
            "score": self.score,
            "output": self.output,
            "asserts": [a.to_dict() for a in self.asserts],
            "latency_ms": self.latency_ms,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cost": self.cost,
            "error": self.error,
            "cached": self.cached,
            "attempts": self.attempts,
            "vars": self.vars,
            "finish_reason": self.finish_reason,
            **({"tool_calls": [{"name": n, "arguments": a} for n, a in calls]} if (calls := tool_calls_in(self.output)) else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseResult:
        status = data.get("status")
        return cls(
            case_id=data["case_id"],
            description=data.get("description", data["case_id"]),
            repeat=int(data.get("repeat", 0)),
            passed=None if status == "error" else status == "pass",
            score=float(data.get("score", 0.0)),
            output=data.get("output", ""),
            asserts=tuple(
                AssertionResult(a["type"], bool(a["pass"]), float(a["score"]), a.get("reason", ""), float(a.get("weight", 1.0)))
                for a in data.get("asserts", [])
            ),
            latency_ms=data.get("latency_ms"),
            input_tokens=data.get("input_tokens"),
            output_tokens=data.get("output_tokens"),
            cost=data.get("cost"),
            error=data.get("error"),
            cached=bool(data.get("cached", False)),
            attempts=int(data.get("attempts", 1)),
            vars=dict(data.get("vars") or {}),
            finish_reason=data.get("finish_reason"),
            occurrence=int(data.get("occurrence", 0)),
        )


def occurrences(case_ids: Iterable[str]) -> list[int]:
    """Each case id's place among the equal ids before it: 0, 0, 1 for `a`, `same`, `same`."""
    seen: dict[str, int] = {}
    places = []
    for case_id in case_ids:
        seen[case_id] = seen.get(case_id, -1) + 1
        places.append(seen[case_id])
    return places


def distinct(results: Iterable[CaseResult]) -> list[CaseResult]:
    """`results` (in the suite's order) with no two sharing a `key`: a result whose key an
    earlier one has takes the next free occurrence. A result of this version has its own; one
    that says none (an older report's, one made by hand) where descriptions repeat is the n-th
    so described, in order: no result stands for another."""
    taken: set[tuple[str, int, int]] = set()
    out = []
    for result in results:
        occurrence = result.occurrence
        while (result.case_id, occurrence, result.repeat) in taken:
            occurrence += 1
        taken.add((result.case_id, occurrence, result.repeat))
        out.append(result if occurrence == result.occurrence else replace(result, occurrence=occurrence))
    return out


def read_occurrences(items: Sequence[dict[str, Any]]) -> list[int]:
    """The occurrence of each result of a report (a file, a part, a stored run), in the order
    they appear. One that says its `occurrence` has it. One that says none (this release omits
    0; the previous one wrote none at all) is the first so described, 0, or, where 0 is taken
    for its (case id, repeat), the next free occurrence: two tests described alike in an old
    report are 0 and 1 in order, as this release writes them, not two results with one key.
    Whatever the items hold (a report another job wrote), never an error."""
    said = [whole_number(item.get("occurrence")) if "occurrence" in item else None for item in items]
    keys = [(str(item.get("case_id")), whole_number(item.get("repeat"))) for item in items]
    taken = {(*key, n) for key, n in zip(keys, said, strict=True) if n is not None}
    lowest: dict[tuple[str, int], int] = {}  # below it, every occurrence of the key is taken
    places = []
    for key, n in zip(keys, said, strict=True):
        if n is None:
            n = lowest.get(key, 0)
            while (*key, n) in taken:
                n += 1
            taken.add((*key, n))
            lowest[key] = n + 1
        places.append(n)
    return places


def read_results(items: Sequence[dict[str, Any]]) -> list[CaseResult]:
    """The results of a report as written (`CaseResult.to_dict`), each with its occurrence
    (`read_occurrences`): every reader of a report file, a report part or a stored run."""
    results = []
    for item, occurrence in zip(items, read_occurrences(items), strict=True):
        result = CaseResult.from_dict(item)
        results.append(result if result.occurrence == occurrence else replace(result, occurrence=occurrence))
    return results


def whole_number(value: object) -> int:
    """A whole number a report holds (an occurrence, a repeat), else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


Case = tuple[str, int, int]  # as people read it: (description, occurrence, repeat)


def case_names(cases: Sequence[Case], among: Iterable[Case] = (), taken: set[str] | None = None) -> list[str]:
    """The names of `cases` in every output: the CLI rows, the app, the PR comments, the JUnit
    files (`reports.CaseNames`). A case is named by its description, and the first so described
    (occurrence 0) by its description alone: a literal description is never changed. The n-th
    so described is `x (n)`, unless a case is literally described `x (n)` or another took it:
    then the next free number (`x`, `x (3)` beside a literal `x (2)`). A repeat adds ` #k`.

    The numbers depend on the cases only, not their order: on `cases` and `among` (those shown
    beside them: the other version of a comparison), so one case has one name in every output
    of one run. No two names are alike (GitLab keeps one of two JUnit cases with one classname
    and name), nor like one in `taken` (the names given already in the same output, added to
    it): where the rule still gives one twice (the same result twice, a literal `x #2` beside
    the second repeat of `x`), the one that is not a literal description gets ` (k)`."""
    everything = [*cases, *among]
    reserved = {description for description, occurrence, _ in everything if not occurrence}
    numbered: dict[tuple[str, int], str] = {}
    # The numbers of one description grow with its occurrences (taken in order), so each
    # starts past the last one given: a number is tried once, however many are reserved.
    # (`x (n)` is made from `x` alone: another description's numbers never meet these.)
    last: dict[str, int] = {}
    for description, occurrence in sorted({(d, o) for d, o, _ in everything if o}):
        number = max(occurrence + 1, last.get(description, 0) + 1)
        while f"{description} ({number})" in reserved:
            number += 1
        last[description] = number
        reserved.add(numbered.setdefault((description, occurrence), f"{description} ({number})"))
    wanted = [numbered.get((d, o), d) + (f" #{r + 1}" if r else "") for d, o, r in cases]
    claimed = {numbered.get((d, o), d) + (f" #{r + 1}" if r else "") for d, o, r in everything}
    used = taken if taken is not None else set()
    names = [""] * len(cases)
    # Likewise each name wanted twice goes on from the last number it was given: the ones
    # before are still used (`w (k)` is made from `w` alone, or is claimed).
    again: dict[str, int] = {}
    # literal descriptions first, then by case: whichever order the cases come in
    for index in sorted(range(len(cases)), key=lambda i: (bool(cases[i][1] or cases[i][2]), cases[i][2], cases[i][0], cases[i][1], i)):
        name = wanted[index]
        if name in used:
            number = again.get(name, 1) + 1
            while (candidate := f"{name} ({number})") in used or candidate in claimed:
                number += 1
            again[name], name = number, candidate
        used.add(name)
        names[index] = name
    return names


@dataclass(frozen=True)
class RunSummary:
    total: int
    passed: int
    failed: int
    errors: int
    pass_rate: float
    interval: tuple[float, float]
    latency_p50: float | None
    latency_p95: float | None
    tokens: int
    cost: float | None

    @property
    def symbol(self) -> str:
        return "✓" if self.total and self.passed == self.total else "✗"

    @property
    def short(self) -> str:
        """`✓ 12/12` or `✗ 9/12`: what the history shows."""
        return f"{self.symbol} {self.passed}/{self.total}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "pass_rate": self.pass_rate,
            "interval95": list(self.interval),
            "latency_p50_ms": self.latency_p50,
            "latency_p95_ms": self.latency_p95,
            "tokens": self.tokens,
            "cost": self.cost,
        }


def repeat_stats(results: Sequence[CaseResult]) -> list[dict[str, Any]]:
    """With --repeat K: per case, its pass rate over the K samples and pass^K (all K passed)."""
    by_case: dict[tuple[str, int], list[CaseResult]] = {}
    for result in distinct(results):
        by_case.setdefault((result.case_id, result.occurrence), []).append(result)
    rows = []
    for (case_id, occurrence), samples in by_case.items():
        passes = sum(1 for r in samples if r.passed)
        rows.append(
            {
                "case_id": case_id,
                **({"occurrence": occurrence} if occurrence else {}),
                "trials": len(samples),
                "passes": passes,
                "pass_rate": passes / len(samples),
                "pass_hat_k": pass_hat_k(passes, len(samples), len(samples)),
            }
        )
    return rows


def summarize(results: Sequence[CaseResult]) -> RunSummary:
    total = len(results)
    passed = sum(1 for r in results if r.passed)
    errors = sum(1 for r in results if r.passed is None)
    cases = len({(r.case_id, r.occurrence) for r in distinct(results)})
    latencies = [r.latency_ms for r in results if r.latency_ms is not None and not r.cached]
    costs = [r.cost for r in results if r.cost is not None]
    return RunSummary(
        total=total,
        passed=passed,
        failed=total - passed - errors,
        errors=errors,
        pass_rate=passed / total if total else 0.0,
        # Counted in cases: a case's repeats are not independent samples (`--repeat 10` of a
        # deterministic model narrowed 6%–79% to 19%–51% on the same answers).
        interval=wilson_interval(passed * cases / total if total else 0, cases),
        latency_p50=percentile(latencies, 50) if latencies else None,
        latency_p95=percentile(latencies, 95) if latencies else None,
        tokens=sum(r.tokens or 0 for r in results),
        cost=sum(costs) if costs else None,
    )


@dataclass(frozen=True)
class RunStarted:
    arm: int
    label: str
    total: int
    cases: tuple[tuple[str, str], ...]  # (case_id, description)
    model: str = ""  # the provider's label: what this arm calls (a prompt may name its own model)


@dataclass(frozen=True)
class CaseFinished:
    arm: int
    result: CaseResult


@dataclass(frozen=True)
class RunFinished:
    arm: int
    summary: RunSummary
    cancelled: bool = False


Event = RunStarted | CaseFinished | RunFinished
EventHandler = Callable[[Event], None]

