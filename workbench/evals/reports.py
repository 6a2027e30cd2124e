"""Reports for CI: JSON (mergeable across shards), JUnit XML and a Markdown PR comment."""

from __future__ import annotations

import html
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from workbench.core.json_document import json_document
from workbench.core.limited_read import mib, read_limited
from workbench.core.safe_text import clean, well_formed
from workbench.core.schema import data_problem
from workbench.core.tool_calls import describe_tool_calls
from workbench.evals.compare import compare_results
from workbench.evals.run_model import (
    Case,
    CaseResult,
    case_names,
    read_occurrences,
    read_results,
    repeat_stats,
    summarize,
    whole_number,
)
from workbench.evals.secrets import scrub_data

REPORT_VERSION = 1
COMMENT_LIMIT = 60_000  # GitHub refuses a comment over 65,536 characters; the step summary takes 1 MiB
MAX_REPORT_BYTES = 256 * 1024 * 1024  # the demo: ~1.6 KB a case result, so ~170,000 results; read no further


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
        return cls(data["prompt"], data.get("revision", ""), data.get("provider", ""), read_results(data.get("cases", [])), bool(data.get("cancelled")))


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
    """Join shard reports: suites of the same prompt/revision/provider are joined by case (its
    id and occurrence) and repeat (each once, the first report's); a comparison found in several reports is computed
    again from their cases (`_merged_comparison`), one found once is kept as it is."""
    merged: dict[tuple[str, str, str], SuiteReport] = {}
    comparisons: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for report in reports:
        for suite in report.suites:
            key = (suite.prompt, suite.revision, suite.provider)
            if key in merged:
                seen = {r.key for r in merged[key].results}
                merged[key].results.extend(r for r in suite.results if r.key not in seen)
                merged[key].cancelled |= suite.cancelled
            else:
                merged[key] = SuiteReport(suite.prompt, suite.revision, suite.provider, list(suite.results), suite.cancelled)
        for comparison in report.comparisons:
            comparisons.setdefault((comparison["prompt"], comparison["a"], comparison["b"]), []).append(comparison)
    return Report(list(merged.values()), [parts[0] if len(parts) == 1 else _merged_comparison(parts) for parts in comparisons.values()])


def _merged_comparison(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One comparison computed again from the cases of all `parts` (each case once, the first
    report's, as suites are merged), so its counts, summaries, p-value and verdict agree: adding
    the parts' counts counted a case twice when a report was merged twice, and kept the first
    part's verdict. Cases are paired in (case, occurrence, repeat) order, whatever order the parts
    came in: keyed by (case, repeat), two cases described alike were one, and a regression of
    one of them was lost in the merge."""
    sides: tuple[dict[tuple[str, int, int], CaseResult], dict[tuple[str, int, int], CaseResult]] = ({}, {})
    for part in parts:
        for side, which in zip(sides, ("a", "b"), strict=True):
            # a pair's own occurrence decides (its results omit 0); where a part says none (an
            # older release's), its results are read as a suite's are (`read_results`)
            found = [_with_occurrence(case[which], case) for case in part["cases"] if case.get(which) is not None]
            for result in read_results(found):
                side.setdefault(result.key, result)
    a, b = ([side[key] for key in sorted(side)] for side in sides)
    return compare_results(parts[0]["prompt"], parts[0]["a"], a, parts[0]["b"], b).to_dict()


def _with_occurrence(result: dict[str, Any], pair: dict[str, Any]) -> dict[str, Any]:
    return {**result, "occurrence": pair["occurrence"]} if "occurrence" in pair else result


def scrubbed(report: Report) -> Report:
    """The report with no known secret, URL credential or bearer token in any of its texts."""
    return Report.from_dict(scrub_data(report.to_dict()))


def write_json(report: Report, path: Path) -> None:
    path.write_text(json_document(scrub_data(report.to_dict())), encoding="utf-8")


def read_json(path: Path) -> Report:
    """A report another job wrote, checked against `schema/report.schema.json` first: a malformed
    one is a ValueError saying what is wrong, not a TypeError in the merge. Read to at most
    MAX_REPORT_BYTES, whatever `path` is (a FIFO, `<(gunzip -c shard.json.gz)`, a device).

    Raises:
        OSError: unreadable. ValueError: more than MAX_REPORT_BYTES (`TooLarge`), not UTF-8,
            not JSON, nested too deeply, or not a report.
    """
    text = read_limited(path, MAX_REPORT_BYTES, f"a report may hold at most {mib(MAX_REPORT_BYTES)}").decode("utf-8")
    try:
        data = json.loads(text, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    problem = data_problem(data, "report", "the report")
    if problem is not None:
        raise ValueError(problem)
    return Report.from_dict(data)


def _not_json(constant: str) -> None:
    """`NaN`, `Infinity` and `-Infinity`: Python's `json` reads them, no JSON reader does (`jq`,
    `JSON.parse`), and a merge that took one wrote `null` where the schema wants a number, so
    its own next `report merge` refused the merged file."""
    raise ValueError(f"{constant} is not a JSON number")


def _xml(value: object) -> str:
    """Text fit for XML 1.0: control characters shown as symbols (ESC as ␛), ill-formed
    characters replaced; ElementTree escapes `&`, `<` and quotes."""
    return well_formed(clean(value))


def _seconds(latency_ms: object) -> float:
    """A latency in milliseconds as the seconds of a JUnit `time`: 0 for what is not a
    duration (None, NaN, ±Infinity and negative numbers, which a shard file may hold)."""
    if not isinstance(latency_ms, (int, float)) or isinstance(latency_ms, bool) or not math.isfinite(latency_ms) or latency_ms < 0:
        return 0.0
    return round(latency_ms / 1000, 3)


def _time(seconds: float) -> str:
    """A JUnit `time` attribute: seconds with 3 decimals, as Jenkins' schema (SUREFIRE_TIME) and
    dorny/test-reporter's parseFloat read it."""
    return f"{seconds:.3f}"


class CaseNames:
    """JUnit testcase names no two cases of one report share under one classname.

    GitLab keeps a report's cases in a hash per status keyed by the SHA-256 of "suite
    name_classname_name" (`Gitlab::Ci::Reports::TestCase#key`): a second case with the same key
    replaces the first, one result fewer in the merge request widget. Jenkins files cases by
    classname and finds a case's history by its name. The names are those of every other
    output (`run_model.case_names`): they depend on the cases, not on their order or results,
    so a case keeps its name, and its history, from one run to the next.
    """

    def __init__(self) -> None:
        self.taken: dict[str, set[str]] = {}

    def names(self, classname: str, cases: Sequence[Case], among: Sequence[Case] = ()) -> list[str]:
        """The names of `cases` ((description, occurrence, repeat)) shown beside `among`, none
        given under `classname` before."""
        return case_names(cases, among, self.taken.setdefault(classname, set()))


def _shown(suites: Sequence[SuiteReport], clean_text: Callable[[str], str] = str) -> dict[str, list[Case]]:
    """Each prompt's cases in `suites` (all its versions): the cases its names are chosen among."""
    cases: dict[str, list[Case]] = {}
    for suite in suites:
        cases.setdefault(suite.prompt, []).extend((clean_text(r.description), r.occurrence, r.repeat) for r in suite.results)
    return cases


def _classnames(suites: Sequence[SuiteReport]) -> list[str]:
    """Each suite's JUnit classname: its prompt, as `test` has always written it; `prompt@revision`
    where the report has that prompt more than once (`compare`: one suite per version, the same
    case names), and the provider too where that is still not enough (shards of two providers)."""
    prompts = Counter(s.prompt for s in suites)
    versions = Counter((s.prompt, s.revision) for s in suites)
    return [
        s.prompt if prompts[s.prompt] == 1 else f"{s.prompt}@{s.revision}" if versions[(s.prompt, s.revision)] == 1 else f"{s.prompt}@{s.revision} {s.provider}"
        for s in suites
    ]


def write_junit(report: Report, path: Path) -> None:
    """One <testsuite> per prompt version, one <testcase> per case (and repeat).

    Every text comes from prompt files, models or servers, so each passes `_xml` first: a
    single ESC in an output would otherwise make the file unreadable for every CI parser.
    Every testsuite, testcase and the root carry a `time`: dorny/test-reporter reads a missing
    one as NaN ("NaNms").
    """
    report = scrubbed(report)
    root = ET.Element("testsuites", name="workbench")
    total = 0.0
    names = CaseNames()
    among = _shown(report.suites, _xml)
    for suite, classname in zip(report.suites, _classnames(report.suites), strict=True):
        summary = summarize(suite.results)
        seconds = [_seconds(r.latency_ms) for r in suite.results]
        total += sum(seconds)
        element = ET.SubElement(
            root,
            "testsuite",
            name=_xml(f"{suite.prompt}@{suite.revision}"),
            tests=str(summary.total),
            failures=str(summary.failed),
            errors=str(summary.errors),
            time=_time(sum(seconds)),
        )
        titles = names.names(_xml(classname), [(_xml(r.description), r.occurrence, r.repeat) for r in suite.results], among[suite.prompt])
        for result, took, title in zip(suite.results, seconds, titles, strict=True):
            case = ET.SubElement(element, "testcase", classname=_xml(classname), name=title, time=_time(took))
            if result.passed is None:
                ET.SubElement(case, "error", message=_xml((result.error or "error")[:500])).text = _xml(result.error or "")
            elif not result.passed:
                reasons = "\n".join(f"{a.type}: {a.reason}" for a in result.asserts if not a.passed)
                message = reasons.splitlines()[0][:500] if reasons else "failed"
                calls = describe_tool_calls(result.output)
                shown = f"tool calls:\n{calls}\n\n" if calls else ""
                ET.SubElement(case, "failure", message=_xml(message)).text = _xml(f"{reasons}\n\n{shown}output:\n{result.output}")
    root.set("time", _time(total))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


_BACKTICKS = re.compile(r"`+")


def _flat(value: object) -> str:
    return well_formed(clean(value)).replace("\n", " ").replace("\t", " ")


def _md(value: object, *, cell: bool = True) -> str:
    """Untrusted text (a name, a reason, a model's answer) in Markdown: a code span, shown as
    typed and inert on GitHub. Escaping Markdown syntax is not enough there: cmark-gfm links a
    bare `www.`, `http(s)://`, `ftp://` or email address, and GitHub then links @mentions,
    `#123`, commit SHAs and addresses in the HTML, whatever the Markdown escaped; both leave a
    code span alone, and nothing in one is HTML. The fence is one backtick longer than the
    longest run inside, spaced where the text starts or ends with a backtick or a space (so
    the span ends where it should and keeps the text's own spaces); in a table cell (`cell`)
    each `|` is `\\|`, which the table reads as a `|` of the span, not a column. Numbers are
    written as they are: nothing in one is markup."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = _flat(value)
    if not text:
        return ""
    fence = "`" * (1 + max((len(run) for run in _BACKTICKS.findall(text)), default=0))
    pad = " " if text.strip(" ") and (text[0] in "` " or text[-1] in "` ") else ""
    shown = text.replace("|", "\\|") if cell else text
    return f"{fence}{pad}{shown}{pad}{fence}"


def _html(value: object) -> str:
    """Untrusted text inside an HTML block (`<summary>`), where Markdown is not parsed but
    GitHub still links mentions and references: as `<code>`, which it leaves alone."""
    return f"<code>{html.escape(_flat(value), quote=True)}</code>"


def _fit(text: str, limit: int, note: str) -> str:
    """`text` cut to `limit` characters with `note` at the end, at the end of a line: never
    inside a code span (half a span is a backtick, and live text after it)."""
    return text[: text.rfind("\n", 0, limit - len(note)) + 1] + note


def markdown(report: Report, *, limit: int = COMMENT_LIMIT) -> str:
    """A pull-request comment: summary table, regressions first, details collapsed.

    Prompt names, revisions, outputs, reasons and errors come from files, models and servers:
    each passes `_md` (or `_html` inside `<summary>`), so the comment cannot carry raw HTML,
    tracking images, links, mentions or references, and a `|` in the data never adds a column.

    Past `limit` characters (GitHub refuses a comment over 65,536) each folded list keeps its
    first 50, then 10, then none of its items, saying how many more the JSON report has; tables
    too long even then are cut at a line.
    """
    report = scrubbed(report)
    text = ""
    for cap in (None, 50, 10, 0):
        text = _markdown(report, cap)
        if len(text) <= limit:
            return text
    return _fit(text, limit, "\n_Cut to fit a comment: the JSON report has every result._\n")


def _folded(title: str, items: list[str], cap: int | None) -> list[str]:
    """A `<details>` list of `items`, the first `cap` of them (all when None; nothing when 0)."""
    if cap == 0:
        return []
    shown = items if cap is None else items[:cap]
    more = [f"- … and {len(items) - len(shown)} more (the JSON report has them all)"] if len(shown) < len(items) else []
    return [title, "", *shown, *more, "", "</details>", ""]


def _markdown(report: Report, cap: int | None) -> str:
    lines = ["## Prompt Workbench results", ""]
    if report.comparisons:
        lines += ["| prompt | A | B | pass rate A | pass rate B | fixed | regressed | verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        for c in sorted(report.comparisons, key=lambda c: -_number(c.get("regressed"))):
            a, b = c.get("summary_a") or {}, c.get("summary_b") or {}
            mark = "❌" if _number(c.get("regressed")) or _number(c.get("unmeasured")) else "✅"
            lines.append(
                f"| {mark} {_md(c.get('prompt', ''))} | {_md(c.get('a', ''))} | {_md(c.get('b', ''))}"
                f" | {_md(a.get('passed'))}/{_md(a.get('total'))} | {_md(b.get('passed'))}/{_md(b.get('total'))}"
                f" | {_md(c.get('fixed'))} | {_md(c.get('regressed'))} | {_md(c.get('verdict', ''))} |"
            )
        lines.append("")
        for c in report.comparisons:
            cases = [case for case in c.get("cases") or [] if isinstance(case, dict)]
            named = case_names([(str(case.get("description", "")), n, whole_number(case.get("repeat"))) for case, n in zip(cases, read_occurrences(cases), strict=True)])
            regressions = [(case, name) for case, name in zip(cases, named, strict=True) if case.get("change") == "regressed"]
            if regressions:
                items = []
                for case, name in regressions:
                    failing = [x for x in (case.get("b") or {}).get("asserts", []) if isinstance(x, dict) and not x.get("pass")]
                    items.append(f"- **{_md(name, cell=False)}**: " + "; ".join(_md(f"{x.get('type')}: {x.get('reason')}", cell=False) for x in failing))
                lines += _folded(f"<details open><summary>Regressions in {_html(c.get('prompt', ''))} ({len(regressions)})</summary>", items, cap)
    if report.suites:
        lines += ["| prompt | revision | provider | passed | failed | errors |", "| --- | --- | --- | --- | --- | --- |"]
        for suite in sorted(report.suites, key=lambda s: summarize(s.results).pass_rate):
            s = summarize(suite.results)
            mark = "✅" if s.total and s.passed == s.total else "❌"
            lines.append(f"| {mark} {_md(suite.prompt)} | {_md(suite.revision)} | {_md(suite.provider)} | {s.passed}/{s.total} | {s.failed} | {s.errors} |")
        lines.append("")
        shown = _shown(report.suites)
        for suite in report.suites:
            named = case_names([(r.description, r.occurrence, r.repeat) for r in suite.results], shown[suite.prompt])
            bad = [(result, name) for result, name in zip(suite.results, named, strict=True) if result.passed is not True]
            if not bad:
                continue
            items = []
            for result, name in bad:
                why = result.error or "; ".join(f"{a.type}: {a.reason}" for a in result.asserts if not a.passed)
                calls = describe_tool_calls(result.output).replace("\n", "; ")
                items.append(f"- **{_md(name, cell=False)}**: {_md(why, cell=False)}" + (f" (called {_md(calls, cell=False)})" if calls else ""))
            lines += _folded(f"<details><summary>Failures in {_html(suite.prompt)} ({len(bad)})</summary>", items, cap)
    return "\n".join(lines)


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0
