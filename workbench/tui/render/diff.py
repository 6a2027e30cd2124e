"""The diff model drawn as rows of `rich.text.Text`: side by side or unified, wrapped here.

Rows are wrapped here (not by the terminal) so that each change's screen offset is known
and `n` / `N` can jump between changes; long lines wrap, never clip. Used by the diff pane,
the dialogs' previews and the review screen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text

from workbench.core.diff import FoldedLines, LineKind, LinePair, PromptDiff, TextDiff
from workbench.core.model import Problem
from workbench.core.safe_text import clean

NUM_WIDTH = 4
DEL_STYLE = "red"
INS_STYLE = "green"
SPAN_STYLE = "reverse"


def _chunks(text: Text, width: int) -> list[Text]:
    """Wrap to `width` cells, at a space when one is near the end, else mid-word."""
    width = max(4, width)
    plain = text.plain
    if not plain:
        return [Text("")]
    pieces: list[Text] = []
    start = 0
    while len(plain) - start > width:
        cut = plain.rfind(" ", start + width // 2, start + width)
        end = cut + 1 if cut != -1 else start + width
        pieces.append(text[start:end])
        start = end
    pieces.append(text[start:])
    return pieces


def _styled(line: str | None, spans: Sequence[tuple[int, int]], style: str) -> Text:
    text = Text(clean(line or "").expandtabs(4), style=style)
    for start, end in spans:
        text.stylize(SPAN_STYLE, start, end)
    return text


def _cell(number: int | None, sign: str, body: Text, width: int, style: str) -> list[Text]:
    body_width = width - NUM_WIDTH - 3
    pieces = _chunks(body, body_width)
    cells = []
    for i, piece in enumerate(pieces):
        cell = Text(f"{number if number is not None and i == 0 else '':>{NUM_WIDTH}} ", style="dim")
        cell.append(sign if i == 0 else " ", style=style)
        cell.append(" ")
        cell.append_text(piece)
        cell.pad_right(width - cell.cell_len)
        cells.append(cell)
    return cells


def _split_row(row: LinePair, width: int) -> list[Text]:
    half = max(16, (width - 1) // 2)
    left_sign = " " if row.kind is LineKind.EQUAL or row.left is None else "-"
    right_sign = " " if row.kind is LineKind.EQUAL or row.right is None else "+"
    left_style = "" if left_sign == " " else DEL_STYLE
    right_style = "" if right_sign == " " else INS_STYLE
    left = _cell(row.left_no, left_sign, _styled(row.left, row.left_spans, left_style), half, left_style) if row.left is not None else []
    right = _cell(row.right_no, right_sign, _styled(row.right, row.right_spans, right_style), half, right_style) if row.right is not None else []
    lines = []
    for i in range(max(len(left), len(right))):
        line = (left[i] if i < len(left) else Text(" " * half)).copy()
        line.append("│", style="dim")
        if i < len(right):
            line.append_text(right[i])
        lines.append(line)
    return lines


def _unified_row(row: LinePair, width: int) -> list[Text]:
    if row.kind is LineKind.EQUAL:
        return _cell(row.right_no, " ", _styled(row.right, (), ""), width, "")
    lines = []
    if row.left is not None:
        lines.extend(_cell(row.left_no, "-", _styled(row.left, row.left_spans, DEL_STYLE), width, DEL_STYLE))
    if row.right is not None:
        lines.extend(_cell(row.right_no, "+", _styled(row.right, row.right_spans, INS_STYLE), width, INS_STYLE))
    return lines


def _render_rows(rows: Sequence[LinePair | FoldedLines], width: int, render_row: Callable[[LinePair, int], list[Text]]) -> tuple[list[Text], list[int]]:
    """Screen lines for `rows`, and the index of the first line of each block of changes."""
    lines: list[Text] = []
    changes: list[int] = []
    previous_equal = True
    for row in rows:
        if isinstance(row, FoldedLines):
            lines.append(Text(f"{'':>{NUM_WIDTH}}  ⋯ {row.count} unchanged lines ⋯", style="dim italic"))
            previous_equal = True
            continue
        if row.kind is not LineKind.EQUAL and previous_equal:
            changes.append(len(lines))
        previous_equal = row.kind is LineKind.EQUAL
        lines.extend(render_row(row, width))
    return lines, changes


def render_pairs_split(rows: Sequence[LinePair | FoldedLines], width: int) -> tuple[list[Text], list[int]]:
    """Side by side: old on the left, new on the right."""
    return _render_rows(rows, width, _split_row)


def render_pairs_unified(rows: Sequence[LinePair | FoldedLines], width: int) -> tuple[list[Text], list[int]]:
    return _render_rows(rows, width, _unified_row)


def diff_header(left: str, right: str, width: int, unified: bool) -> list[Text]:
    """`--- old` and `+++ new`: over their own columns side by side; unified, on one line split by
    `│` when both fit, else on two lines."""

    def side(sign: str, label: str, style: str, room: int) -> Text:
        text = Text(sign + " ", style=style)
        text.append(clean(label))
        text.truncate(max(4, room), overflow="ellipsis")
        return text

    if unified:
        old, new = side("---", left, DEL_STYLE, width), side("+++", right, INS_STYLE, width)
        if old.cell_len + new.cell_len + 5 > width:
            return [old, new]
        one = old + Text("  │  ", style="dim")
        one.append_text(new)
        return [one]
    half = max(16, (width - 1) // 2)
    head = side("---", left, DEL_STYLE, half - 1)
    head.pad_right(half - head.cell_len)
    head.append("│", style="dim")
    head.append_text(side("+++", right, INS_STYLE, width - half - 1))
    return [head]


def render_diff(diff: PromptDiff, width: int, unified: bool, context: int = 3) -> tuple[list[Text], list[int]]:
    """Every line of the diff pane for `diff`, plus change offsets for n/N."""
    render = render_pairs_unified if unified else render_pairs_split
    lines: list[Text] = diff_header(diff.left_label, diff.right_label, width, unified)
    changes: list[int] = []
    if not diff.changed:
        lines.append(Text("no differences", style="dim"))
        return lines, changes
    for note in diff.notes:
        lines.append(Text(clean(note), style="italic"))
    sections: list[tuple[str, str, TextDiff]]
    if diff.field_aware and diff.sections:
        sections = [(s.title, s.status, s.diff) for s in diff.changed_sections]
        unchanged = [s.title for s in diff.sections if s.status == "unchanged"]
    else:  # the whole file, then what else changed: a partial, a file the suite reads
        whole = [("whole file", "changed", diff.text)] if diff.left_text != diff.right_text else []
        sections = [*whole, *((s.title, s.status, s.diff) for s in diff.changed_sections if s.key != "file")]
        unchanged = []
    for title, status, text_diff in sections:
        # One line whatever the width: the title is cut (with an ellipsis), never the status.
        tail = f" · {status} "
        name = Text(clean(title), style="bold")
        name.truncate(max(4, width - 3 - len(tail) - 2), overflow="ellipsis")
        header = Text("── ", style="bold") + name
        header.append(tail, style="bold")
        header.append("─" * max(0, width - header.cell_len), style="dim")
        lines.append(header)
        body, offsets = render(text_diff.folded(context), width)
        changes.extend(len(lines) + o for o in offsets)
        lines.extend(body)
    if unchanged:
        lines.append(Text("unchanged: " + ", ".join(clean(t) for t in unchanged), style="dim"))
    return lines, changes


def render_problems(title: str, problems: Sequence[Problem]) -> list[Text]:
    lines = [Text(f"✗ {clean(title)} is invalid: fix these and the diff comes back", style="bold red")]
    for problem in problems:
        lines.append(Text(clean(problem.format())))
    return lines
