"""The screen's geometry (tui/layout.py): pane sizes, zoom modes and table columns that fit."""

from __future__ import annotations

from workbench.tui.layout import (
    Column,
    arrange,
    fit_columns,
    left_width,
    next_mode,
    plainest_width,
    share_height,
)
from workbench.tui.panes.history import MESSAGE_WANTED, HistoryRow, history_columns
from workbench.tui.text import cell, initials, relative_time


def test_zoom_cycles_normal_half_full_both_ways() -> None:
    assert [next_mode("normal", 1), next_mode("half", 1), next_mode("full", 1)] == ["half", "full", "normal"]
    assert [next_mode("normal", -1), next_mode("full", -1), next_mode("half", -1)] == ["full", "half", "normal"]


def test_the_tree_takes_what_it_needs_up_to_a_share_and_history_the_rest() -> None:
    assert share_height(34, wanted=12, share=0.45, other_wants=40) == 12
    assert share_height(34, wanted=60, share=0.45, other_wants=40) == 15  # capped at 45%
    assert share_height(34, wanted=60, share=0.45, other_wants=5) == 29  # history needs little: the tree may take more
    assert share_height(34, wanted=1, share=0.45, other_wants=40) == 3  # never below a border and a line


def test_the_left_column_is_as_wide_as_history_needs_within_its_shares() -> None:
    assert left_width(120, wanted=67) == 66  # at most 55%
    assert left_width(160, wanted=67) == 72  # at least 45%
    assert left_width(140, wanted=67) == 67


def test_normal_half_and_full_arrangements() -> None:
    wants = {"prompts": 12, "history": 9, "tests": 12}
    normal = arrange(120, 34, "history", "normal", wants, 67)
    assert normal.visible == {"prompts", "history", "diff", "tests"} and normal.left_width == 66
    assert normal.heights == {"prompts": 12, "tests": 12} and normal.show_status and not normal.show_tabs
    half = arrange(120, 34, "history", "half", wants, 67)
    assert half.visible == {"history", "diff", "tests"} and half.left_width == 66
    half_right = arrange(120, 34, "tests", "half", wants, 67)
    assert half_right.visible == {"diff", "tests"} and half_right.left_width == 0  # the right column takes the width
    full = arrange(120, 34, "diff", "full", wants, 67)
    assert full.visible == {"diff"} and not full.show_status and not full.show_tabs
    narrow = arrange(80, 22, "tests", "normal", wants, 67)
    assert narrow.visible == {"tests"} and narrow.narrow and narrow.show_tabs and narrow.left_width == 0
    narrow_full = arrange(80, 22, "history", "full", wants, 67)
    assert narrow_full.visible == {"history"} and not narrow_full.show_tabs and not narrow_full.show_status


def test_columns_degrade_in_rank_order_and_the_flexible_column_takes_the_rest() -> None:
    columns = [
        Column("name", (10,)),
        Column("when", (8, 3), degrade=(1,)),
        Column("who", (12, 2), degrade=(2, 3)),
        Column("text", (0,), flex=20, flex_min=10, gap=0),
    ]
    wide = fit_columns(columns, 80)
    assert wide.forms == {"name": 0, "when": 0, "who": 0, "text": 0} and wide.widths["text"] == 80 - 11 - 9 - 13
    assert fit_columns(columns, 50).forms == {"name": 0, "when": 1, "who": 0, "text": 0}
    assert fit_columns(columns, 40).forms == {"name": 0, "when": 1, "who": 1, "text": 0}
    # Dropping waits until the flexible column is below its minimum.
    assert fit_columns(columns, 30).has("who")
    assert not fit_columns(columns, 22).has("who")


def test_steps_of_the_same_rank_happen_together() -> None:
    arms = [Column("case", (0,), flex=20), Column("a", (24, 6), degrade=(1,)), Column("b", (24, 6), degrade=(1,))]
    fit = fit_columns(arms, 60)  # losing one arm's detail would be enough; both lose it
    assert fit.forms["a"] == fit.forms["b"] == 1


def test_the_flexible_column_is_capped_by_its_content() -> None:
    fit = fit_columns([Column("case", (12,), flex=20), Column("a", (6,))], 100)
    assert fit.widths["case"] == 12


def test_history_shows_every_column_and_40_characters_of_message_at_120_columns() -> None:
    rows = [
        HistoryRow("a" * 40, "a21ff95", 1_700_000_000.0, "Ben Okafor", "Complete the test suites", ("p@v4",), ("prod",), "✓ 6/6"),
        HistoryRow(None, "working", None, "you", "working copy (modified)"),
    ]
    ages = [("11mo ago", "11mo"), ("", "")]
    columns = history_columns(rows, ages)
    left = left_width(120, plainest_width(columns, MESSAGE_WANTED) + 3)
    fit = fit_columns(columns, left - 3)  # border and scrollbar
    assert all(fit.has(key) for key in ("mark", "commit", "when", "author", "tests", "message"))
    assert fit.widths["message"] >= 40
    assert fit.forms["author"] == 1  # initials at 120
    roomy = fit_columns(columns, 120)
    assert roomy.forms["author"] == 0 and roomy.forms["when"] == 0  # whole names and ages when zoomed


def test_cells_are_cut_with_an_ellipsis_padded_and_justified() -> None:
    assert cell("Complete the test suites", 10).plain == "Complete…  "
    assert cell("6/6", 5, justify="right", gap=0).plain == "  6/6"
    assert initials("Ben Okafor") == "BO" and initials("you") == "yo"
    assert relative_time(0, None, short=True).endswith("y")


def test_a_result_reads_with_units_and_its_numbers_line_up() -> None:
    from workbench.tui.panes.tests import CaseResult, cell_widths, result_cell

    results = [CaseResult(True, 1.0, 7860.0, 80), CaseResult(False, 0.67, 52800.0, 128, cached=True)]
    widths = cell_widths(results)
    cells = [result_cell(r, 0, widths).plain for r in results]
    assert cells == ["✓ 1.00 ·  7.9 s  ·  80 tok", "✗ 0.67 · 52.8 s  · 128 tok ⟲"]  # one unit, right-aligned
    assert [result_cell(results[0], form, widths).plain for form in (1, 2, 3)] == ["✓ 1.00 ·  7.9 s ", "✓ 1.00", "✓"]
    assert all(len(result_cell(r, form, widths).plain) <= widths.form(form) for r in results for form in range(4))
    fast = cell_widths([CaseResult(True, 1.0, 212.0, 72)])
    assert result_cell(CaseResult(True, 1.0, 212.0, 72), 0, fast).plain == "✓ 1.00 · 212 ms · 72 tok"
