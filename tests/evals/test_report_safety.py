"""Reports built from hostile outputs: JUnit stays well-formed XML, the Markdown PR comment
carries no raw HTML, images, links, mentions or references as GitHub renders it (`gfm.py`:
cmark-gfm, then the reference filters), and JSON is written whatever the text holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from gfm import Page

from workbench.evals.assertions import AssertionResult
from workbench.evals.ci_summary import ci_markdown
from workbench.evals.reports import (
    Report,
    SuiteReport,
    markdown,
    merge_reports,
    read_json,
    write_json,
    write_junit,
)
from workbench.evals.runner import CaseResult

HOSTILE = (
    "esc \x1b[2J bell \x07 nul \x00 soh \x01 vt \x0b ff \x0c del \x7f c1 \x9b "
    "nonchar \ufffe\uffff lone surrogate \ud800 cdata ]]> amp & lt < "
    "<img src=x onerror=alert(1)> <script>alert(1)</script> ![](https://evil.example/track.png) "
    "[click](javascript:alert(1)) @octocat @org/security-team </details> | pipe `tick` *bold* _em_ # head"
)


def _report() -> Report:
    failed = CaseResult(
        "c1", f"case {HOSTILE}", 0, False, 0.0, output=f"output {HOSTILE}",
        asserts=(AssertionResult("contains", False, 0.0, f"reason {HOSTILE}"),),
    )
    errored = CaseResult("c2", "errored <b>", 0, None, 0.0, error=f"error {HOSTILE}")
    suite = SuiteReport(f"p<x>{HOSTILE[:20]}", f"rev {HOSTILE[:30]}", f"provider {HOSTILE[:40]}", [failed, errored])
    comparison = {
        "prompt": f"p {HOSTILE[:50]}", "a": "a <i>", "b": "b </details>", "summary_a": {"passed": 1, "total": 2},
        "summary_b": {"passed": 0, "total": 2}, "fixed": 0, "regressed": 1, "verdict": f"worse {HOSTILE[:60]}",
        "cases": [{"description": f"d {HOSTILE}", "change": "regressed", "b": {"case_id": "c1", "asserts": [{"type": "t<y>", "pass": False, "score": 0.0, "reason": HOSTILE}]}}],
    }
    return Report([suite], [comparison])


def test_junit_is_well_formed_xml_with_visible_control_characters(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(_report(), path)
    data = path.read_bytes()
    ET.fromstring(data)  # well-formed: every character allowed in XML 1.0
    text = data.decode("utf-8")
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", text)
    assert "esc ␛[2J" in text and "soh ␁" in text  # shown, not dropped
    root = ET.fromstring(data)
    failure = root.find(".//failure")
    assert failure is not None and "<script>" in (failure.text or "")  # text, escaped by XML


# Every way GitHub turns text into a link, a notification or markup (tests/gfm.py).
LINKY = (
    "see https://evil.example/x www.evil.example/y ftp://evil.example/z (https://evil.example/p) "
    "user@evil.example mailto:user@evil.example xmpp:user@evil.example <https://evil.example/a> "
    "@octocat @org/security-team fixes #123 GH-124 owner/repo#125 commit deadbeefcafe1234 "
    "`tick` ``two`` ``` | pipe \\| a\\|b ![](https://evil.example/t.png) [x](https://evil.example/l) "
    "*bold* _em_ ~~strike~~ <b>html</b> </details> &amp; &#64;octocat :tada:"
)
# What the comment itself writes: headings, tables, folded lists, bold case names, a footnote.
OURS = {"h2", "h3", "p", "table", "thead", "tbody", "tr", "th", "td", "details", "summary", "code", "ul", "li", "strong", "em", "sub"}


def assert_inert(markdown_text: str, *shown: str) -> Page:
    """`markdown_text` as GitHub renders it: no link, image or HTML of the data's, nothing its
    reference filters would link or notify, every table row as wide as its header, and each of
    `shown` readable as it was typed, in a code span."""
    page = Page(markdown_text)
    assert page.links == [], page.links
    assert set(page.tags) <= OURS, set(page.tags) - OURS
    assert page.references() == [], page.references()
    for rows in page.tables:
        assert len(set(rows)) == 1, rows
    for text in shown:
        assert any(text in code for code in page.code), text
    return page


def test_markdown_has_no_raw_html_images_links_or_mentions() -> None:
    text = markdown(_report())
    page = assert_inert(text, "<img src=x onerror=alert(1)>", "[click](javascript:alert(1)) @octocat @org/security-team </details> | pipe `tick`")
    assert page.tags.count("details") == text.count("<details")  # no early close from the data
    assert len(page.tables) == 2


def _linky_report() -> Report:
    failed = CaseResult(
        "c1", f"case {LINKY}", 0, False, 0.0, output=f"output {LINKY}",
        asserts=(AssertionResult("contains", False, 0.0, f"reason {LINKY}"),),
    )
    suite = SuiteReport(f"p {LINKY[:40]}", f"rev {LINKY}", f"provider {LINKY}", [failed, CaseResult("c2", "`edge`", 0, None, 0.0, error=f"error {LINKY}")])
    comparison = {
        "prompt": f"p {LINKY}", "a": f"a {LINKY}", "b": "b", "summary_a": {"passed": 1, "total": 2}, "summary_b": {"passed": 0, "total": 2},
        "fixed": 0, "regressed": 1, "verdict": f"worse {LINKY}",
        "cases": [{"description": f" d {LINKY} ", "change": "regressed", "b": {"asserts": [{"type": "t", "pass": False, "reason": LINKY}]}}],
    }
    return Report([suite], [comparison])


def test_markdown_links_nothing_a_model_wrote() -> None:
    """A model's answer with a bare URL (`see https://evil.example/x`), an email address, an
    @mention or `#123` was a live link, a notification or an issue reference in the comment:
    escaping Markdown syntax stops none of them (GitHub links URLs, emails, mentions and
    references in the HTML, after the Markdown). Every such text is now a code span, which
    both passes leave alone, fenced to hold any backticks, `|` escaped in a table cell."""
    assert_inert(markdown(_linky_report()), f"reason {LINKY}", f"error {LINKY}", f"p {LINKY}", f" d {LINKY} ", "`edge`")


def _ci_report(prompts: int = 1) -> dict[str, Any]:
    prompt = {
        "name": f"p/{LINKY}", "old_name": f"old {LINKY}", "status": "compare", "failing": True, "verdict": f"worse {LINKY}",
        "fields": [f"f {LINKY}", "message 1 (system)"], "base": {"total": 1, "passed": 1}, "head": {"total": 1, "passed": 0},
        "calls": 2, "cost": 0.5,
        "cases": [{"description": f"d {LINKY}", "repeat": 1, "base": "pass", "head": "fail", "change": "regressed", "reasons": [f"r {LINKY}"], "error": None}],
    }
    blocked = {"name": f"q {LINKY}", "status": "not-run", "note": f"n {LINKY}"}
    problem = {"path": f"prompts/{LINKY}.yaml", "line": 3, "col": 1, "severity": "error", "message": f"m {LINKY}", "hint": f"h {LINKY}"}
    return {
        "ci": {
            "status": "failed", "headline": f"p0/{LINKY} regressed; h {LINKY}", "head": "0123456789abcdef", "head_subject": f"s {LINKY}", "base": f"b {LINKY}",
            "merge_base": "fedcba9876543210", "files": 3, "ran": True, "spent": {"calls": 2, "cost": 0.5}, "refused": f"x {LINKY}",
            "prompts": [{**prompt, "name": f"p{i}/{LINKY}"} for i in range(prompts)] + [blocked],
            "problems": [problem, {**problem, "severity": "warning"}],
        }
    }


def test_ci_markdown_links_nothing_from_a_file_a_commit_or_a_model() -> None:
    text = ci_markdown(_ci_report())
    named = ci_markdown({"ci": {"status": "failed", "headline": "www.evil.example regressed", "prompts": [{"name": "www.evil.example"}]}})
    assert named.startswith("## ❌ Prompt Workbench: `www.evil.example` regressed\n")  # the name as data, our words as written
    assert_inert(text, f"d {LINKY}", f"r {LINKY}"[:300], f"s {LINKY}", f"worse {LINKY}", f"n {LINKY}", f"m {LINKY}", f"h {LINKY}", f"f {LINKY}")


@pytest.mark.parametrize("limit", range(6000, 6400, 37))
def test_a_comment_cut_to_fit_is_still_inert(limit: int) -> None:
    """Past the limit the comment is cut: at the end of a line, never inside a code span (half a
    span is a backtick and live text after it)."""
    for text in (ci_markdown(_ci_report(40), limit=limit), markdown(Report(_linky_report().suites * 40), limit=limit)):
        assert len(text) <= limit
        assert_inert(text)
        assert "Cut to fit" in text or "left out to fit" in text


def test_json_reports_survive_any_text(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(_report(), path)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["suites"][0]["cases"][0]["output"].startswith("output esc")
    assert read_json(path).suites[0].results[0].case_id == "c1"
    merged = merge_reports([read_json(path), read_json(path)])
    assert len(merged.suites[0].results) == 2


def test_cli_printing_survives_lone_surrogates(capsys: pytest.CaptureFixture[str]) -> None:
    from workbench.cli.common import emit_json

    emit_json({"output": "x \ud800 y"})
    out = capsys.readouterr().out
    assert json.loads(out)["output"] == "x \ufffd y"


def test_the_git_note_stays_one_line_whatever_the_model_name(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess

    from fake_openai import FakeOpenAI

    from workbench.cli.common import run_app

    monkeypatch.setenv("FAKE_KEY", "k" * 20)
    forged = "gpt\\nworkbench: support/summarize ✓ 99/99 openai:x 2030-01-01T00:00:00Z"
    (prompt_repo / "prompts" / "n.yaml").write_text(
        f'model: {{provider: openai, name: "{forged}", api_key_env: FAKE_KEY}}\n'
        "messages:\n  - {role: user, content: hi}\ntests:\n  - {description: one, assert: [{type: contains, value: hi}]}\n"
    )
    subprocess.run(["git", "add", "-A"], cwd=prompt_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "n"], cwd=prompt_repo, check=True)
    with FakeOpenAI() as server:
        assert run_app(["-C", str(prompt_repo), "test", "n", "--rev", "HEAD", "--base-url", server.base_url]) == 0
    note = subprocess.run(["git", "notes", "--ref=workbench", "show", "HEAD"], cwd=prompt_repo, capture_output=True, text=True, check=True).stdout
    assert note.count("\n") == 1 and note.startswith("workbench: n ✓ 1/1 ")
    assert "support/summarize" not in note.split()[1]
