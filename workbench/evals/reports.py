"""Reports for CI: JSON (mergeable across shards), JUnit XML and a Markdown PR comment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from workbench.evals.runner import CaseResult, repeat_stats, summarize
from workbench.evals.secrets import scrub_data

REPORT_VERSION = 1


@dataclass
class SuiteReport:
    prompt: str
    revision: str
    provider: str
    results: list[CaseResult]
    cancelled: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "revision": self.revision,
            "provider": self.provider,
            "cancelled": self.cancelled,
            "summary": summarize(self.results).to_dict(),
            "cases": [r.to_dict() for r in self.results],
            **({"repeats": repeat_stats(self.results)} if any(r.repeat for r in self.results) else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SuiteReport:
        return cls(data["prompt"], data.get("revision", ""), data.get("provider", ""), [CaseResult.from_dict(c) for c in data.get("cases", [])], bool(data.get("cancelled")))


@dataclass
class Report:
    suites: list[SuiteReport] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    shard: str | None = None

    @property
    def failed(self) -> bool:
        return any(r.passed is not True for s in self.suites for r in s.results) or any(c.get("regressed", 0) for c in self.comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "shard": self.shard,
            "suites": [s.to_dict() for s in self.suites],
            "comparisons": self.comparisons,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Report:
        if data.get("version") != REPORT_VERSION:
            raise ValueError(f"not a workbench report (version {data.get('version')!r})")
        return cls([SuiteReport.from_dict(s) for s in data.get("suites", [])], list(data.get("comparisons", [])), data.get("shard"))


def merge_reports(reports: Sequence[Report]) -> Report:
    """Join shard reports: suites of the same prompt/revision/provider are concatenated."""
    merged: dict[tuple[str, str, str], SuiteReport] = {}
    comparisons: dict[str, dict[str, Any]] = {}
    for report in reports:
        for suite in report.suites:
            key = (suite.prompt, suite.revision, suite.provider)
            if key in merged:
                seen = {(r.case_id, r.repeat) for r in merged[key].results}
                merged[key].results.extend(r for r in suite.results if (r.case_id, r.repeat) not in seen)
                merged[key].cancelled |= suite.cancelled
            else:
                merged[key] = SuiteReport(suite.prompt, suite.revision, suite.provider, list(suite.results), suite.cancelled)
        for comparison in report.comparisons:
            key_c = f"{comparison['prompt']}\0{comparison['a']}\0{comparison['b']}"
            if key_c in comparisons:
                previous = comparisons[key_c]
                previous["cases"] = previous["cases"] + comparison["cases"]
                previous["fixed"] += comparison["fixed"]
                previous["regressed"] += comparison["regressed"]
            else:
                comparisons[key_c] = dict(comparison)
    return Report(list(merged.values()), list(comparisons.values()))


def scrubbed(report: Report) -> Report:
    """The report with no known secret, URL credential or bearer token in any of its texts."""
    return Report.from_dict(scrub_data(report.to_dict()))


def write_json(report: Report, path: Path) -> None:
    path.write_text(json.dumps(scrub_data(report.to_dict()), indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")


def read_json(path: Path) -> Report:
    return Report.from_dict(json.loads(path.read_text(encoding="utf-8")))


def write_junit(report: Report, path: Path) -> None:
    """One <testsuite> per prompt version, one <testcase> per case (and repeat)."""
    report = scrubbed(report)
    root = ET.Element("testsuites", name="workbench")
    for suite in report.suites:
        summary = summarize(suite.results)
        element = ET.SubElement(
            root,
            "testsuite",
            name=f"{suite.prompt}@{suite.revision}",
            tests=str(summary.total),
            failures=str(summary.failed),
            errors=str(summary.errors),
        )
        for result in suite.results:
            name = result.description + (f" #{result.repeat + 1}" if result.repeat else "")
            case = ET.SubElement(element, "testcase", classname=suite.prompt, name=name, time=f"{(result.latency_ms or 0) / 1000:.3f}")
            if result.passed is None:
                ET.SubElement(case, "error", message=(result.error or "error")[:500]).text = result.error
            elif not result.passed:
                reasons = "\n".join(f"{a.type}: {a.reason}" for a in result.asserts if not a.passed)
                ET.SubElement(case, "failure", message=reasons.splitlines()[0][:500] if reasons else "failed").text = f"{reasons}\n\noutput:\n{result.output}"
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(report: Report) -> str:
    """A pull-request comment: summary table, regressions first, details collapsed."""
    report = scrubbed(report)
    lines = ["## Prompt Workbench results", ""]
    if report.comparisons:
        lines += ["| prompt | A | B | pass rate A | pass rate B | fixed | regressed | verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for c in sorted(report.comparisons, key=lambda c: -c["regressed"]):
            a, b = c["summary_a"], c["summary_b"]
            mark = "❌" if c["regressed"] else "✅"
            lines.append(
                f"| {mark} `{c['prompt']}` | {_cell(c['a'])} | {_cell(c['b'])} | {a['passed']}/{a['total']} | {b['passed']}/{b['total']}"
                f" | {c['fixed']} | {c['regressed']} | {_cell(c['verdict'])} |"
            )
        lines.append("")
        for c in report.comparisons:
            regressions = [case for case in c["cases"] if case["change"] == "regressed"]
            if regressions:
                lines += [f"<details open><summary>Regressions in <code>{c['prompt']}</code> ({len(regressions)})</summary>", ""]
                for case in regressions:
                    failing = [x for x in (case["b"] or {}).get("asserts", []) if not x["pass"]]
                    lines.append(f"- **{_cell(case['description'])}**: " + "; ".join(_cell(f"{x['type']}: {x['reason']}") for x in failing))
                lines += ["", "</details>", ""]
    if report.suites:
        lines += ["| prompt | revision | provider | passed | failed | errors |", "| --- | --- | --- | --- | --- | --- |"]
        for suite in sorted(report.suites, key=lambda s: summarize(s.results).pass_rate):
            s = summarize(suite.results)
            mark = "✅" if s.total and s.passed == s.total else "❌"
            lines.append(f"| {mark} `{suite.prompt}` | {_cell(suite.revision)} | {_cell(suite.provider)} | {s.passed}/{s.total} | {s.failed} | {s.errors} |")
        lines.append("")
        for suite in report.suites:
            bad = [r for r in suite.results if r.passed is not True]
            if not bad:
                continue
            lines += [f"<details><summary>Failures in <code>{suite.prompt}</code> ({len(bad)})</summary>", ""]
            for result in bad:
                why = result.error or "; ".join(f"{a.type}: {a.reason}" for a in result.asserts if not a.passed)
                lines.append(f"- **{_cell(result.description)}**: {_cell(why)}")
            lines += ["", "</details>", ""]
    return "\n".join(lines)
