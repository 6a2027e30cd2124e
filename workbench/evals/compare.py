"""A/B comparison of two versions on the same cases: per case, pass rates, significance."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.core.stats import BootstrapResult, mcnemar_exact, paired_bootstrap
from workbench.evals.run_model import CaseResult, RunSummary, distinct, summarize

ALPHA = 0.05


@dataclass(frozen=True)
class CasePair:
    case_id: str
    description: str
    repeat: int
    a: CaseResult | None
    b: CaseResult | None
    occurrence: int = 0  # the place among the cases with this case_id (the description): 0, or 1 for a second `same`

    @property
    def case(self) -> tuple[str, int]:
        """The case this pair is a result of, each repeat alike: (case id, occurrence)."""
        return (self.case_id, self.occurrence)

    @property
    def change(self) -> str:
        """fixed | regressed | unchanged-pass | unchanged-fail | error | missing. An error is
        not a pass: a case that passed on A and errors on B is regressed (B broke it)."""
        if self.a is None or self.b is None:
            return "missing"
        a_passed, b_passed = self.a.passed is True, self.b.passed is True
        if a_passed != b_passed:
            return "fixed" if b_passed else "regressed"
        if self.a.passed is None or self.b.passed is None:
            return "error"
        return "unchanged-pass" if a_passed else "unchanged-fail"


@dataclass(frozen=True)
class Comparison:
    prompt: str
    label_a: str
    label_b: str
    pairs: tuple[CasePair, ...]
    summary_a: RunSummary
    summary_b: RunSummary
    fixed: int
    regressed: int
    p_value: float
    score_diff: BootstrapResult

    @property
    def verdict(self) -> str:
        """Plain language: better, worse, or within noise; and what B could not be measured on."""
        measured = len({p.case for p in self.pairs if p.b is not None})
        if self.unmeasured and self.unmeasured == measured:
            return "not measured: every case errored on B"
        if self.unmeasured:
            return f"{self._difference}; {self.unmeasured} case{'s' * (self.unmeasured != 1)} errored on B: not measured"
        return self._difference

    @property
    def _difference(self) -> str:
        if self.fixed == 0 and self.regressed == 0:
            if self.score_diff.excludes_zero:
                word = "higher" if self.score_diff.mean_difference > 0 else "lower"
                return f"B scores {word} (mean score {self.score_diff.mean_difference:+.2f}, 95% CI {self.score_diff.low:+.2f}..{self.score_diff.high:+.2f}); pass/fail unchanged"
            return "no difference: every case has the same pass/fail result"
        direction = "better" if self.fixed > self.regressed else "worse" if self.regressed > self.fixed else "mixed"
        if self.p_value < ALPHA:
            return f"B is {direction}: {self.fixed} fixed, {self.regressed} regressed (McNemar exact p={self.p_value:.3g})"
        return f"within noise: {self.fixed} fixed, {self.regressed} regressed (p={self.p_value:.2f}; not significant at {ALPHA:g})"

    @property
    def broken(self) -> int:
        """Cases that passed on A and error on B (counted in `regressed`), each once, as
        `_cases_changed` counts: the repeats of a case are one case."""
        return len({p.case for p in self.pairs if p.a is not None and p.b is not None and p.a.passed and p.b.passed is None})

    @property
    def unmeasured(self) -> int:
        """Cases B errored on that A did not pass either, each once: nothing is known of B there
        (a case that passed on A and errors on B is a regression, counted as one)."""
        return len({p.case for p in self.pairs if p.a is not None and p.b is not None and p.b.passed is None and p.a.passed is not True})

    @property
    def regression(self) -> bool:
        """Any case that passed on A fails on B."""
        return self.regressed > 0

    @property
    def failed(self) -> bool:
        """What fails `compare` and a CI check: a regression, or cases B could not be measured on.
        When the endpoint was down for both, every case errored on both sides: "no difference"
        passed, and `ci promote` deployed a version no answer had been checked for."""
        return self.regression or self.unmeasured > 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "a": self.label_a,
            "b": self.label_b,
            "summary_a": self.summary_a.to_dict(),
            "summary_b": self.summary_b.to_dict(),
            "fixed": self.fixed,
            "regressed": self.regressed,
            "unmeasured": self.unmeasured,
            "mcnemar_p": self.p_value,
            "score_difference": {"mean": self.score_diff.mean_difference, "low": self.score_diff.low, "high": self.score_diff.high},
            "verdict": self.verdict,
            "cases": [
                {
                    "case_id": p.case_id,
                    "description": p.description,
                    "repeat": p.repeat,
                    "occurrence": p.occurrence,
                    "change": p.change,
                    "a": p.a.to_dict() if p.a else None,
                    "b": p.b.to_dict() if p.b else None,
                }
                for p in self.pairs
            ],
        }


def compare_results(prompt: str, label_a: str, a: Sequence[CaseResult], label_b: str, b: Sequence[CaseResult]) -> Comparison:
    """Pair results by (case id, occurrence, repeat) and test the difference: the n-th test
    described `same` on A with the n-th so described on B. Paired by (case id, repeat), two
    tests described alike were one pair (the last result of each side): a regression of the
    first was not seen. Each side is in its suite's order (`distinct`)."""
    by_key_a = {r.key: r for r in distinct(a)}
    by_key_b = {r.key: r for r in distinct(b)}
    keys = list(dict.fromkeys([*by_key_a, *by_key_b]))
    pairs = []
    for case_id, occurrence, repeat in keys:
        ra, rb = by_key_a.get((case_id, occurrence, repeat)), by_key_b.get((case_id, occurrence, repeat))
        description = ra.description if ra is not None else rb.description if rb is not None else case_id
        pairs.append(CasePair(case_id, description, repeat, ra, rb, occurrence))
    order = {"regressed": 0, "error": 1, "fixed": 2, "missing": 3, "unchanged-fail": 4, "unchanged-pass": 5}
    pairs.sort(key=lambda p: order[p.change])
    fixed, regressed = _cases_changed(pairs)
    both = [p for p in pairs if p.a is not None and p.b is not None]
    diff = paired_bootstrap([p.a.score for p in both], [p.b.score for p in both])  # type: ignore[union-attr]
    return Comparison(prompt, label_a, label_b, tuple(pairs), summarize(a), summarize(b), fixed, regressed, mcnemar_exact(fixed, regressed), diff)


def _cases_changed(pairs: Sequence[CasePair]) -> tuple[int, int]:
    """(fixed, regressed) cases: a case whose pass count over its repeats rose or fell. The
    repeats of a case are not independent pairs: `--repeat 10` turned one regressed case of a
    deterministic model into "10 regressed, McNemar p=0.002"."""
    passes: dict[tuple[str, int], list[int]] = {}  # case -> [passes on A, passes on B], over the repeats both ran
    for pair in pairs:
        if pair.a is not None and pair.b is not None:
            row = passes.setdefault(pair.case, [0, 0])
            row[0] += pair.a.passed is True
            row[1] += pair.b.passed is True
    return sum(1 for a, b in passes.values() if b > a), sum(1 for a, b in passes.values() if b < a)
