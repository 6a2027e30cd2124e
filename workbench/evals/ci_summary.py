"""The pull-request comment and the JUnit file of `workbench ci check`, written from its JSON report.

Both read only the report's data (`CiCheck.to_dict()`), so they can be rebuilt from a saved
report. Every text that comes from a file, a commit, a model or a server passes the escaping
rules of `evals.reports` (`_md` in Markdown, `_html` inside HTML, `_xml` in JUnit) after known
secrets are removed: a prompt name, a case description or a model's answer cannot add HTML,
a link, an image, a table column, an @mention or a `#123` reference to the comment, nor break
the XML.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from workbench.evals.reports import (
    COMMENT_LIMIT,
    CaseNames,
    _fit,
    _html,
    _md,
    _number,
    _seconds,
    _time,
    _xml,
)
from workbench.evals.run_model import Case, case_names, read_occurrences, whole_number
from workbench.evals.secrets import scrub_data

CASE_ROWS = 50  # per prompt in the comment; the JSON report has every case
MARKS = {"pass": "✓", "fail": "✗", "error": "!", None: "–"}
# What a case did between base and head (`services.ci`): our words, written plainly; any other
# value a report holds is data, and shown as data.
# The headline's own words ("2 of 3 changed prompts regressed"): lowercase words, counts and
# punctuation, no run of 7 hex digits (a commit SHA to GitHub). Nothing else is written plainly.
_OUR_WORDS = re.compile(r"(?!.*\b[0-9a-f]{7,}\b)[a-z0-9 ,;()]*")
CHANGES = frozenset({"regressed", "error", "fixed", "missing", "new", "unchanged-fail", "unchanged-pass"})


def _money(value: Any) -> str:
    if value == "–":
        return "–"
    if value is None:
        return "unknown"
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return "unknown"
    return "$0" if value == 0 else f"${value:.4f}" if value >= 0.0001 else "< $0.0001"


def _rate(side: dict[str, Any] | None) -> str:
    if not side:
        return "–"
    total = side.get("total") or 0
    passed = side.get("passed") or 0
    return f"{passed}/{total} ({passed / total:.0%})" if total else "0/0"


def _mark(prompt: dict[str, Any]) -> str:
    if prompt.get("failing"):
        return "❌"
    if prompt.get("regressed"):
        return "⚠️"  # regressed, but the check does not fail on regressions
    if prompt.get("status") in ("deleted", "no-tests"):
        return "➖"
    return "✅"


def _headline(ci: dict[str, Any]) -> str:
    """The check's one line, its prompt names as data and its own words as written."""
    status = ci.get("status")
    mark = "⏸️" if status == "refused" else "❌" if status == "failed" else "✅"
    names = sorted({str(p.get("name", "")) for p in ci.get("prompts") or [] if isinstance(p, dict)} - {""}, key=len, reverse=True)
    parts = re.split(f"(?<![^\\s;])({'|'.join(map(re.escape, names))})(?![^\\s;])", str(ci.get("headline", ""))) if names else [str(ci.get("headline", ""))]
    said = "".join(part if index % 2 == 0 and _OUR_WORDS.fullmatch(part) else _md(part, cell=False) for index, part in enumerate(parts) if part)
    return f"## {mark} Prompt Workbench: {said}"


def _context(ci: dict[str, Any]) -> str:
    head = str(ci.get("head") or "")[:10]
    merge_base = str(ci.get("merge_base") or "")[:10]
    parts = []
    if head:
        subject = ci.get("head_subject") or ""
        parts.append(f"head {_md(head, cell=False)}" + (f" ({_md(subject, cell=False)})" if subject else ""))
    parts.append(f"against {_md(ci.get('base', ''), cell=False)}" + (f" (merge-base {_md(merge_base, cell=False)})" if merge_base else ""))
    files = ci.get("files", 0)
    parts.append(f"{files} prompt file{'s' * (files != 1)} validated")
    spent, estimate = ci.get("spent") or {}, ci.get("estimate") or {}
    runs = [p for p in ci.get("prompts") or [] if isinstance(p, dict) and p.get("status") in ("compare", "head-only")]
    if ci.get("ran") and runs:
        calls = spent.get("calls", 0)
        parts.append(f"{calls} model call{'s' * (calls != 1)}, {_money(spent.get('cost'))}" if calls else "0 model calls (every answer from the cache)")
    elif runs:
        parts.append(f"would make {estimate.get('calls', 0)} model calls, estimated {_money(estimate.get('cost'))}")
    return " · ".join(parts)


def _fields(fields: list[Any]) -> str:
    shown = [_md(f) for f in fields[:4]]
    more = f" +{len(fields) - 4} more" if len(fields) > 4 else ""
    return ", ".join(shown) + more


def _table(ci: dict[str, Any]) -> list[str]:
    calls_title = "calls" if ci.get("ran") else "calls (estimated)"
    lines = [f"| | prompt | base → head | verdict | changed | {calls_title} | cost |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for prompt in ci.get("prompts", []):
        name = _md(prompt.get("name", ""))
        if prompt.get("old_name"):
            name += f" (was {_md(prompt['old_name'])})"
        calls: Any
        cost: Any
        if prompt.get("status") not in ("compare", "head-only"):
            calls, cost = "–", "–"
        elif ci.get("ran"):
            calls, cost = prompt.get("calls", 0), prompt.get("cost")
        else:
            calls, cost = (prompt.get("estimate") or {}).get("calls", 0), (prompt.get("estimate") or {}).get("cost")
        rates = f"{_rate(prompt.get('base'))} → {_rate(prompt.get('head'))}" if prompt.get("head") else "–"
        lines.append(
            f"| {_mark(prompt)} | {name} | {rates} | {_md(prompt.get('verdict', ''))} | {_fields(prompt.get('fields') or [])}"
            f" | {calls if calls == '–' else _md(calls)} | {_money(cost)} |"
        )
    return lines


def _change(change: object) -> str:
    return change if isinstance(change, str) and change in CHANGES else _md(change)


def _cases(prompt: dict[str, Any]) -> list[dict[str, Any]]:
    """A prompt's cases, each with its `occurrence` as a report's results are read
    (`read_occurrences`: a report of the previous release says none)."""
    cases = [c for c in prompt.get("cases") or [] if isinstance(c, dict)]
    return [{**case, "occurrence": n} for case, n in zip(cases, read_occurrences(cases), strict=True)]


def _shown(case: dict[str, Any], clean_text: Callable[[str], str] = str) -> Case:
    """A case of the report as `case_names` names it: (description, occurrence, repeat)."""
    return (clean_text(str(case.get("description", ""))), whole_number(case.get("occurrence")), whole_number(case.get("repeat")))


def _details(prompt: dict[str, Any]) -> list[str]:
    cases = _cases(prompt)
    if not cases:
        return []
    counts: dict[str, int] = {}
    for case in cases:
        counts[str(case.get("change"))] = counts.get(str(case.get("change")), 0) + 1
    said = ", ".join(f"{n} {change if change in CHANGES else _html(change)}" for change, n in counts.items())
    opened = " open" if prompt.get("failing") or prompt.get("regressed") else ""
    lines = [f"<details{opened}><summary>{_mark(prompt)} {_html(prompt.get('name', ''))}: {said}</summary>", ""]
    lines += ["| case | base | head | change | why |", "| --- | --- | --- | --- | --- |"]
    names = case_names([_shown(case) for case in cases])  # as the JUnit file names them
    for case, name in zip(cases[:CASE_ROWS], names, strict=False):
        why = case.get("error") or "; ".join(str(r) for r in case.get("reasons") or [])
        lines.append(
            f"| {_md(name)} | {MARKS.get(case.get('base'), '–')} | {MARKS.get(case.get('head'), '–')} | {_change(case.get('change', ''))} | {_md(why[:300])} |"
        )
    if len(cases) > CASE_ROWS:
        lines.append(f"\n… and {len(cases) - CASE_ROWS} more cases (the JSON report has them all).")
    return [*lines, "", "</details>", ""]


def _problems(ci: dict[str, Any]) -> list[str]:
    problems = [p for p in ci.get("problems") or [] if isinstance(p, dict)]
    errors = [p for p in problems if p.get("severity") == "error"]
    warnings = [p for p in problems if p.get("severity") != "error"]
    lines: list[str] = []

    def item(p: dict[str, Any]) -> str:
        where = f"{p.get('path', '')}:{p.get('line', 0)}:{p.get('col', 0)}"
        hint = f" (hint: {_md(p['hint'], cell=False)})" if p.get("hint") else ""
        return f"- {_md(where, cell=False)}: {_md(p.get('message', ''), cell=False)}{hint}"

    if errors:
        lines += [f"### Invalid files ({len(errors)} error{'s' * (len(errors) != 1)})", "", *[item(p) for p in errors], ""]
    if warnings:
        lines += [f"<details><summary>Warnings ({len(warnings)})</summary>", "", *[item(p) for p in warnings], "", "</details>", ""]
    return lines


def ci_markdown(report: dict[str, Any], *, limit: int = COMMENT_LIMIT) -> str:
    """The PR comment: headline, one table row per changed prompt (pass rates base → head,
    verdict, changed fields, calls and cost), per-case details folded (open where something
    regressed), the prompts that could not run and why, invalid files.

    Past `limit` characters the per-case details are left out (the JSON report keeps them).
    """
    ci = scrub_data(report).get("ci") or {}
    text = _render(ci, details=True)
    if len(text) > limit:
        text = _render(ci, details=False)
        text = _fit(text, limit, "\n_Per-case details left out to fit a comment: see the JSON report or the job summary._\n")
    return text


def _render(ci: dict[str, Any], *, details: bool) -> str:
    lines = [_headline(ci), "", _context(ci), ""]
    if ci.get("refused"):
        lines += [f"**Not started**: {_md(ci['refused'], cell=False)}. Raise the budget or narrow the change.", ""]
    prompts = [p for p in ci.get("prompts") or [] if isinstance(p, dict)]
    if prompts:
        lines += [*_table(ci), ""]
        if details:
            for prompt in prompts:
                lines += _details(prompt)
        blocked = [p for p in prompts if p.get("status") == "not-run"]  # invalid ones: under Invalid files
        if blocked:
            lines += ["### Could not run", ""]
            lines += [f"- {_md(p.get('name', ''), cell=False)}: {_md(p.get('note', ''), cell=False)}" for p in blocked]
            lines.append("")
    elif not ci.get("problems"):
        lines += ["No prompt changed: nothing to run.", ""]
    lines += _problems(ci)
    lines.append("<sub>workbench ci check · answers are cached: a rerun on the same files makes no model calls</sub>")
    return "\n".join(lines) + "\n"


def write_ci_junit(report: dict[str, Any], path: Path) -> None:
    """One <testsuite> per changed prompt, one <testcase> per case of its head version (a failure
    says whether it passed on base); a prompt that could not run is one errored testcase; the
    files that do not validate are a `validate` testsuite, one testcase per file. Each element
    has a `time` (the head's latency; 0 where nothing ran): dorny/test-reporter reads a missing
    one as NaN."""
    ci = scrub_data(report).get("ci") or {}
    root = ET.Element("testsuites", name="workbench ci")
    total = 0.0
    names = CaseNames()
    for prompt in [p for p in ci.get("prompts") or [] if isinstance(p, dict)]:
        name = str(prompt.get("name", ""))
        every = _cases(prompt)  # base's too: the names are chosen among them, as the comment's
        cases = [c for c in every if c.get("head") is not None]
        cases.sort(key=lambda c: (_number(c.get("index")), _number(c.get("repeat"))))  # the file's order
        if prompt.get("status") in ("invalid", "not-run"):
            suite = ET.SubElement(root, "testsuite", name=_xml(name), tests="1", failures="0", errors="1", time=_time(0))
            run_case = ET.SubElement(suite, "testcase", classname=_xml(name), name=names.names(_xml(name), [("run", 0, 0)])[0], time=_time(0))
            ET.SubElement(run_case, "error", message=_xml(str(prompt.get("verdict", ""))[:500])).text = _xml(prompt.get("note") or "")
            continue
        if not cases:
            continue
        failures = sum(1 for c in cases if c.get("head") == "fail")
        errors = sum(1 for c in cases if c.get("head") == "error")
        seconds = [_seconds(c.get("latency_ms")) for c in cases]
        total += sum(seconds)
        suite = ET.SubElement(root, "testsuite", name=_xml(name), tests=str(len(cases)), failures=str(failures), errors=str(errors), time=_time(sum(seconds)))
        titles = names.names(_xml(name), [_shown(case, _xml) for case in cases], [_shown(case, _xml) for case in every])
        for case, took, title in zip(cases, seconds, titles, strict=True):
            element = ET.SubElement(suite, "testcase", classname=_xml(name), name=title, time=_time(took))
            reasons = "\n".join(str(r) for r in case.get("reasons") or [])
            before = {"pass": "regressed: passed on base", "fail": "also failed on base", "error": "errored on base"}.get(case.get("base") or "", "no base result")
            if case.get("head") == "error":
                message = f"{before}; {case.get('error') or 'error'}"
                ET.SubElement(element, "error", message=_xml(message[:500])).text = _xml(case.get("error") or "")
            elif case.get("head") == "fail":
                first = reasons.splitlines()[0] if reasons else "failed"
                ET.SubElement(element, "failure", message=_xml(f"{before}; {first}"[:500])).text = _xml(f"{reasons}\n\noutput:\n{case.get('output') or ''}")
    by_file: dict[str, list[dict[str, Any]]] = {}
    for problem in ci.get("problems") or []:
        if isinstance(problem, dict) and problem.get("severity") == "error":
            by_file.setdefault(str(problem.get("path", "")), []).append(problem)
    if by_file:
        suite = ET.SubElement(root, "testsuite", name="validate", tests=str(len(by_file)), failures=str(len(by_file)), errors="0", time=_time(0))
        for (file, found), title in zip(by_file.items(), names.names("validate", [(_xml(file), 0, 0) for file in by_file]), strict=True):
            element = ET.SubElement(suite, "testcase", classname="validate", name=title, time=_time(0))
            text = "\n".join(f"{file}:{p.get('line', 0)}:{p.get('col', 0)}: {p.get('message', '')}" for p in found)
            ET.SubElement(element, "failure", message=_xml(text.splitlines()[0][:500])).text = _xml(text)
    root.set("time", _time(total))
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
