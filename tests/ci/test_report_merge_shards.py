"""`workbench report merge` with shard files another job wrote: what it accepts, it can read back.

A shard is uploaded by one job and downloaded by another; the merge must not take a file that a
JSON reader refuses (`NaN`, `Infinity`: Python's `json` reads them, `jq` and `JSON.parse` do
not), nor write a merged report that the next `report merge` refuses.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app


def shard(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], path: Path) -> dict[str, object]:
    code = run_app(["-C", str(repo), "test", "support/reply", "--base-url", server.base_url, "--json-file", str(path)])
    capsys.readouterr()
    assert code in (0, 1)
    data: dict[str, object] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_shard_holding_a_number_json_has_not_is_refused(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path, constant: str) -> None:
    path = tmp_path / "shard.json"
    text = json.dumps(shard(repo, server, capsys, path))
    hostile, found = re.subn(r'"score": [0-9.]+', f'"score": {constant}', text, count=1)
    assert found == 1
    path.write_text(hostile, encoding="utf-8")
    merged = tmp_path / "merged.json"
    code = run_app(["report", "merge", str(path), "--json-file", str(merged)])
    err = capsys.readouterr().err
    assert code == 2, err
    assert f"{path}: not a readable workbench report" in err and constant in err
    assert not merged.exists()


def test_a_merged_report_is_read_back_by_report_merge(repo: Path, server: FakeOpenAI, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    first = tmp_path / "one.json"
    shard(repo, server, capsys, first)
    merged = tmp_path / "merged.json"
    assert run_app(["report", "merge", str(first), str(first), "--json-file", str(merged)]) in (0, 1)
    again = tmp_path / "again.json"
    code = run_app(["report", "merge", str(merged), "--json-file", str(again)])
    err = capsys.readouterr().err
    assert code in (0, 1), err
    assert json.loads(again.read_text(encoding="utf-8"))["suites"] == json.loads(merged.read_text(encoding="utf-8"))["suites"]


# GitHub refuses a comment (and `gh pr comment`) whose body is over 65,536 characters.
GITHUB_COMMENT_LIMIT = 65_536


def test_the_markdown_of_a_big_failing_suite_fits_a_github_comment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "repo"
    assert run_app(["init", str(repo)]) == 0
    cases = "".join(
        f"  - description: case {i} says the refund policy\n    vars: {{k: 'ticket {i}'}}\n"
        "    assert: [{type: icontains, value: 'the refund policy of the company'}]\n"
        for i in range(600)
    )
    (repo / "prompts" / "many.yaml").write_text(
        "description: many\nmodel: {provider: echo}\ninputs:\n  k: {type: string, required: true}\n"
        "messages:\n  - role: user\n    content: '{{ k }}'\ntests:\n" + cases,
        encoding="utf-8",
    )
    shard_file, comment = tmp_path / "shard.json", tmp_path / "comment.md"
    assert run_app(["-C", str(repo), "test", "many", "--json-file", str(shard_file), "--markdown", str(comment)]) == 1
    merged = tmp_path / "merged.md"
    assert run_app(["report", "merge", str(shard_file), "--markdown", str(merged)]) == 1
    capsys.readouterr()
    for path in (comment, merged):
        text = path.read_text(encoding="utf-8")
        assert len(text) <= GITHUB_COMMENT_LIMIT, (path.name, len(text))
        assert "| ❌ `many` | `working copy` | `echo` | 0/600 | 600 | 0 |" in text  # the summary is kept
        assert "case 0 says the refund policy" in text  # and the first failures
        assert "JSON report" in text  # saying where the rest is
        assert text.count("<details") == text.count("</details>")
