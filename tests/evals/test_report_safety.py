"""Reports built from hostile outputs: JUnit stays well-formed XML, the Markdown PR comment
carries no raw HTML, images, links or mentions, and JSON is written whatever the text holds."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from workbench.evals.assertions import AssertionResult
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


def test_markdown_has_no_raw_html_images_links_or_mentions() -> None:
    text = markdown(_report())
    for bad in ("<img", "<script", "<b>", "<i>", "![", "](javascript", "](https", "\x1b", "\x00"):
        assert bad not in text, bad
    assert text.count("</details>") == text.count("<details")  # no early close from the data
    assert not re.search(r"(?<![\w`])@(octocat|org/security-team)", text)  # no mention pings
    tables: list[list[str]] = []
    previous = ""
    for line in text.splitlines():
        if line.startswith("| "):
            if not previous.startswith("| "):
                tables.append([])
            tables[-1].append(line)
        previous = line
    assert len(tables) == 2
    for rows in tables:  # a | from the data never adds a column
        columns = rows[0].count("|")
        assert all(len(re.findall(r"(?<!\\)\|", row)) == columns for row in rows), rows
    assert "&lt;img src=x" in text  # what the output said is still readable


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
