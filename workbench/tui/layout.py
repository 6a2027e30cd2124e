"""Geometry of the main screen and of its tables, computed from the space and the content.

Pure functions, no widgets: the app and the panes apply what they return. Two problems:

- `arrange`: which panes show and how big (the Prompts tree takes the height it needs up to a
  share, History the rest; Tests grows with its rows; the zoom of the focused pane cycles
  normal → half → full like lazygit's `+` / `_`).
- `fit_columns`: which form of each table column fits (a column has forms from richest to
  plainest, e.g. an author's name then initials, or a result with and without latency); the
  table's degradation order is declared with the columns, and one flexible column (the
  message, the case) takes what is left.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PANES = ("prompts", "history", "diff", "tests")
LEFT = ("prompts", "history")
SCREEN_MODES = ("normal", "half", "full")
NARROW_WIDTH = 100  # below this, one pane at a time

LEFT_SHARE = (0.45, 0.55)  # the left column's width, as a share of the screen: at least, at most
TREE_SHARE = 0.45  # the Prompts tree takes at most this share of its column's height (unless History needs less)
TESTS_SHARE = 0.5  # the Tests pane grows with its rows up to this share of its column's height
MIN_PANE_HEIGHT = 3  # a border and one line
MIN_FLEX = 8  # a table's flexible column never gets fewer cells than this


@dataclass(frozen=True)
class Arrangement:
    """What the main screen shows: the panes, the left column's width, fixed pane heights."""

    visible: frozenset[str]
    left_width: int  # 0: the left column is hidden; the right column takes the rest
    heights: dict[str, int] = field(default_factory=dict)  # fixed heights; the other visible pane of the column takes the rest
    narrow: bool = False
    show_tabs: bool = False
    show_status: bool = True

    @property
    def right_visible(self) -> bool:
        return bool(self.visible & {"diff", "tests"})


def next_mode(mode: str, step: int) -> str:
    """The screen mode after `+` (step 1) or `_` (step -1), wrapping around like lazygit."""
    index = SCREEN_MODES.index(mode) if mode in SCREEN_MODES else 0
    return SCREEN_MODES[(index + step) % len(SCREEN_MODES)]


def left_width(width: int, wanted: int) -> int:
    """The left column (Prompts, History): what History wants, kept within LEFT_SHARE."""
    low, high = (round(width * share) for share in LEFT_SHARE)
    return max(low, min(high, wanted))


def share_height(total: int, wanted: int, share: float, other_wants: int) -> int:
    """A pane that takes the height it wants, up to `share` of `total` (more if the other pane needs less)."""
    cap = max(int(total * share), total - other_wants)
    cap = min(cap, total - MIN_PANE_HEIGHT)
    return max(MIN_PANE_HEIGHT, min(wanted, cap))


def arrange(width: int, height: int, focus: str, mode: str, wants: dict[str, int], left_wants: int) -> Arrangement:
    """The screen for a terminal of `width` x `height` cells (the main area's height, chrome excluded).

    Args:
        width: the terminal's width.
        height: rows for the panes when the status bar and the tabs are shown (the footer excluded).
        focus: the focused pane.
        mode: "normal", "half" (the focused pane takes its column, widened to half the screen; the
            Diff and Tests panes take the whole width) or "full" (the focused pane alone).
        wants: the height each pane would like (content plus border).
        left_wants: the width History needs to show its columns and 40 characters of message.
    """
    narrow = width < NARROW_WIDTH
    on_left = focus in LEFT
    if mode == "full":
        return Arrangement(frozenset({focus}), width if on_left else 0, narrow=narrow, show_tabs=False, show_status=False)
    if narrow:
        return Arrangement(frozenset({focus}), width if on_left else 0, narrow=True, show_tabs=True)
    normal_left = left_width(width, left_wants)
    tests = share_height(height, wants.get("tests", MIN_PANE_HEIGHT), TESTS_SHARE, wants.get("diff", height))
    if mode == "half":
        if on_left:
            return Arrangement(frozenset({focus, "diff", "tests"}), max(normal_left, width // 2), {"tests": tests})
        return Arrangement(frozenset({"diff", "tests"}), 0, {"tests": tests})
    prompts = share_height(height, wants.get("prompts", height), TREE_SHARE, wants.get("history", height))
    return Arrangement(frozenset(PANES), normal_left, {"prompts": prompts, "tests": tests})


# ---------------------------------------------------------------------------------------------- tables


@dataclass(frozen=True)
class Column:
    """A table column: the widths of its forms (richest first) and when it degrades.

    `degrade` holds one rank per step: to the next form, and one more to be dropped (a column
    with as many ranks as forms can disappear; one with fewer never does). Steps of the same
    rank happen together (both arms of an A/B table lose their latency at once). The column
    with `flex` > 0 takes the space left over: the others move to plainer forms until it has
    `flex` cells, and are dropped only while it has fewer than `flex_min`; its `widths[0]`,
    when above 0, caps it (its longest content).
    """

    key: str
    widths: tuple[int, ...]
    degrade: tuple[int, ...] = ()
    flex: int = 0
    flex_min: int = 0
    gap: int = 1  # blank cells after the column


@dataclass(frozen=True)
class Fit:
    forms: dict[str, int]  # key -> index of the chosen form; dropped columns are absent
    widths: dict[str, int]  # key -> width in cells (the flexible column's is what is left)

    def has(self, key: str) -> bool:
        return key in self.forms


def fit_columns(columns: Sequence[Column], available: int) -> Fit:
    """Degrade columns in rank order until the row fits `available` cells."""
    forms = {c.key: 0 for c in columns}
    by_key = {c.key: c for c in columns}
    steps = sorted({rank for c in columns for rank in c.degrade})

    def used(drops: bool) -> int:
        total = 0
        for c in columns:
            if c.key in forms:
                flex = c.flex_min if drops else c.flex
                total += (flex if c.flex else c.widths[forms[c.key]]) + c.gap
        return total

    for rank in steps:
        over = {False: used(drops=False) > available, True: used(drops=True) > available}  # decided once per rank
        for c in columns:
            if c.key not in forms or rank not in c.degrade:
                continue
            step = c.degrade.index(rank) + 1  # the form this rank leads to; past the last: dropped
            if not over[step >= len(c.widths)]:
                continue
            if step < len(c.widths):
                forms[c.key] = max(forms[c.key], step)
            else:
                del forms[c.key]
    widths = {key: by_key[key].widths[form] for key, form in forms.items() if not by_key[key].flex}
    fixed = sum(widths.values()) + sum(by_key[key].gap for key in forms)
    for key in forms:
        column = by_key[key]
        if column.flex:
            room = max(MIN_FLEX, available - fixed)
            widths[key] = min(room, column.widths[0]) if column.widths[0] else room
    return Fit(forms, widths)


def plainest_width(columns: Sequence[Column], flex_width: int) -> int:
    """The cells a row needs with every column in its plainest form and `flex_width` for the flexible one."""
    return sum((flex_width if c.flex else c.widths[-1]) + c.gap for c in columns)


def widest(values: Iterable[int], at_least: int = 0) -> int:
    return max([at_least, *values])
