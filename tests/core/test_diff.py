"""The pure diff model: line pairs, intraline spans, folding, field-aware sections."""

from __future__ import annotations

import difflib
import random
import subprocess
import threading
from pathlib import Path

from workbench.core.diff import (
    FoldedLines,
    LineKind,
    PromptDiff,
    diff_lines,
    diff_prompt_texts,
    unified_diff,
    word_spans,
)
from workbench.core.line_match import LineMatcher

BASE = """\
name: support/summarize
description: Summarise a ticket
model:
  provider: echo
  parameters: {temperature: 0.2}
messages:
  - role: system
    content: You summarise tickets in a neutral tone.
  - role: user
    content: "Ticket: {{ ticket }}"
tests:
  - description: refund request is flagged
    vars: {ticket: I want my money back}
    assert:
      - type: icontains
        value: refund
  - description: short
    vars: {ticket: hi}
"""


def test_line_pairs_number_both_sides_and_mark_kinds() -> None:
    diff = diff_lines("a\nb\nc\n", "a\nB\nc\nd\n")
    kinds = [(p.kind, p.left_no, p.right_no) for p in diff.pairs]
    assert kinds == [
        (LineKind.EQUAL, 1, 1),
        (LineKind.REPLACE, 2, 2),
        (LineKind.EQUAL, 3, 3),
        (LineKind.INSERT, None, 4),
    ]
    assert diff.added == 2 and diff.removed == 1
    assert diff.change_indexes() == [1, 3]


def test_intraline_spans_cover_only_the_changed_words() -> None:
    left_spans, right_spans = word_spans("the quick brown fox", "the slow brown fox")
    assert [("the quick brown fox"[a:b]) for a, b in left_spans] == ["quick"]
    assert [("the slow brown fox"[a:b]) for a, b in right_spans] == ["slow"]


def test_unchanged_stretches_fold_to_context() -> None:
    left = "".join(f"line {i}\n" for i in range(30))
    right = left.replace("line 15\n", "line fifteen\n")
    rows = diff_lines(left, right).folded(context=2)
    folds = [r for r in rows if isinstance(r, FoldedLines)]
    assert [f.count for f in folds] == [13, 12]
    assert folds[1].left_start == 19  # "line 15" is line 16; lines 17-18 stay as context
    shown = [r for r in rows if not isinstance(r, FoldedLines)]
    assert len(shown) == 2 + 1 + 2


def test_unified_text_is_a_real_patch() -> None:
    text = unified_diff("a\nb\n", "a\nc\n", "HEAD", "working copy")
    assert text.splitlines()[:2] == ["--- HEAD", "+++ working copy"]
    assert "-b" in text.splitlines() and "+c" in text.splitlines()
    assert unified_diff("same\n", "same\n", "x", "y") == ""


def test_field_sections_name_what_changed() -> None:
    changed = BASE.replace("neutral tone", "friendly tone").replace("temperature: 0.2", "temperature: 0.5")
    changed = changed.replace("value: refund", "value: money")
    diff = diff_prompt_texts(BASE, changed, name="support/summarize", left_label="HEAD", right_label="work")
    assert diff.field_aware
    changed_titles = [s.title for s in diff.changed_sections]
    assert changed_titles == ["model settings", "message 1 (system)", 'test "refund request is flagged"']
    message = next(s for s in diff.sections if s.title == "message 1 (system)")
    pair = next(p for p in message.diff.pairs if p.kind is LineKind.REPLACE)
    assert [pair.right[a:b] for a, b in pair.right_spans] == ["friendly"]
    assert {s.title: s.status for s in diff.sections}['test "short"'] == "unchanged"


def test_inserted_message_does_not_mark_later_messages_changed() -> None:
    inserted = BASE.replace(
        "  - role: user\n", "  - role: assistant\n    content: Sure.\n  - role: user\n", 1
    )
    diff = diff_prompt_texts(BASE, inserted, name="p")
    statuses = {s.title: s.status for s in diff.sections if s.key.startswith("message")}
    assert statuses == {"message 1 (system)": "unchanged", "message 2 (assistant)": "added", "message 3 (user)": "unchanged"}


def test_added_and_removed_tests_and_whole_file_added() -> None:
    fewer = BASE.split("  - description: short")[0]
    diff = diff_prompt_texts(BASE, fewer, name="p")
    assert {s.title: s.status for s in diff.changed_sections} == {'test "short"': "removed"}
    created = diff_prompt_texts(None, BASE, name="p", left_label="HEAD")
    assert all(s.status == "added" for s in created.sections)
    assert created.notes == ("first version of p: every line is new",)
    # The deleted side is labelled "(none)" in the columns: the note said "does not exist at (none)".
    deleted = diff_prompt_texts(BASE, None, name="p", left_label="HEAD", right_label="(none)")
    assert all(s.status == "removed" for s in deleted.sections)
    assert deleted.notes == ("p is deleted (or renamed) here: every line is removed",)


def test_unparseable_side_falls_back_to_whole_file() -> None:
    broken = BASE.replace("messages:", "messages: [unclosed")
    diff = diff_prompt_texts(BASE, broken, name="p", right_label="work")
    assert not diff.field_aware
    assert [s.title for s in diff.sections] == ["file"]
    assert diff.sections[0].status == "changed"
    assert "not a YAML mapping" in diff.notes[0]
    as_json = diff.to_dict()
    assert as_json["sections"][0]["lines"]


def _suite(cases: int, version: str) -> str:
    """A prompt whose every test case differs between versions (a vars value and an assertion)."""
    lines = ["name: p", "messages:", "  - role: user", '    content: "Ticket: {{ ticket }}"', "tests:"]
    for index in range(cases):
        lines += [
            f"  - description: case {index}",
            f"    vars: {{ticket: text {index} {version}}}",
            "    assert:",
            "      - type: icontains",
            f"        value: refund {version}",
        ]
    return "\n".join(lines) + "\n"


def _diff_in_thread(left: str, right: str, seconds: float) -> PromptDiff | None:
    """The diff, or None when it is not made within `seconds` (the thread is a daemon: no hang)."""
    made: list[PromptDiff] = []
    worker = threading.Thread(target=lambda: made.append(diff_prompt_texts(left, right, name="p")), daemon=True)
    worker.start()
    worker.join(seconds)
    return made[0] if made else None


def test_diff_of_thousands_of_changed_cases_is_made_and_correct(tmp_path: Path) -> None:
    # The whole-file line diffs (difflib over every line, repeated lines like `assert:` not junked)
    # grew cubically: 400 changed cases took 10 s, 2,000 did not finish in minutes.
    left, right = _suite(2000, "v1"), _suite(2000, "v2")
    diff = _diff_in_thread(left, right, seconds=20)
    assert diff is not None, "the diff of 2,000 changed cases was not made within 20 s"
    tests = [s for s in diff.sections if s.key.startswith("test:")]
    assert len(tests) == 2000 and {s.status for s in tests} == {"changed"}
    case = next(s for s in tests if s.title == 'test "case 1500"')
    replaced = [p for p in case.diff.pairs if p.kind is LineKind.REPLACE]
    assert [[p.right[a:b] for a, b in p.right_spans] for p in replaced if p.right] == [["v2"], ["v2"]]
    # The whole-file pairs still give both texts line by line, each case's lines paired with its own.
    pairs = diff.text.pairs
    assert [p.left for p in pairs if p.left is not None] == left.splitlines()
    assert [p.right for p in pairs if p.right is not None] == right.splitlines()
    assert all(p.kind is not LineKind.EQUAL or p.left == p.right for p in pairs)
    assert all(p.kind is not LineKind.REPLACE or p.left_no == p.right_no for p in pairs)
    # The unified text is still a patch that turns the left text into the right one.
    (tmp_path / "a.yaml").write_text(left)
    patch = unified_diff(left, right, "a", "b", left_path="a.yaml", right_path="a.yaml")
    (tmp_path / "change.patch").write_text(patch)
    subprocess.run(["git", "apply", "change.patch"], cwd=tmp_path, check=True)
    assert (tmp_path / "a.yaml").read_text() == right


def test_small_texts_are_matched_by_difflib_alone() -> None:
    # Anchoring is only for long texts: the diff of a prompt of ordinary size reads as it always did.
    rng = random.Random(3)
    words = ["a", "b", "", "  assert:", "- x"]
    for _ in range(300):
        left = [rng.choice(words) for _ in range(rng.randint(0, 60))]
        right = [rng.choice(words) for _ in range(rng.randint(0, 60))]
        for autojunk in (False, True):
            expected = difflib.SequenceMatcher(None, left, right, autojunk).get_opcodes()
            assert LineMatcher(left, right, autojunk).get_opcodes() == expected


def test_long_texts_without_unique_lines_still_diff_quickly() -> None:
    # No description and every value changed: only lines repeated once per case (`assert:`) anchor.
    left, right = (_suite(2000, v).replace("  - description: case", "  - vars2:") for v in ("v1", "v2 x"))
    diff = _diff_in_thread(left, right, seconds=20)
    assert diff is not None, "not made within 20 s"
    assert [p.right for p in diff.text.pairs if p.right is not None] == right.splitlines()
    assert sum(1 for p in diff.text.pairs if p.kind is LineKind.EQUAL) >= 2 * 2000  # assert: and type: lines
