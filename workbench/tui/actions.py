"""Every key binding of the app, in one table.

The app's BINDINGS, each pane's BINDINGS, the help screen, the command palette and the
README's key table are all read from `ACTIONS`, so they cannot drift apart. Each entry has a
stable kebab-case id that `keymap:` in workbench.yaml can rebind (Textual's `set_keymap`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType


@dataclass(frozen=True)
class Act:
    id: str
    keys: str  # Textual key names, comma-separated
    action: str
    description: str
    scope: str = "app"  # app | prompts | history | diff | tests
    show: bool = True  # in the footer
    palette: bool = True  # in the command palette
    priority: bool = False  # before the focused widget's own binding of the same key
    writes: bool = False  # changes the repository or its stores: refused in a read-only app

    def binding(self) -> Binding:
        return Binding(self.keys, self.action, self.description, show=self.show, id=self.id, priority=self.priority)

    @property
    def key_label(self) -> str:
        return key_label(self.keys)


def key_label(keys: str) -> str:
    """How a binding's keys read in the help and the README: `escape,q` -> `esc / q`."""
    return " / ".join(_KEY_NAMES.get(k, k) for k in keys.split(","))


_KEY_NAMES = {
    "question_mark": "?",
    "colon": ":",
    "slash": "/",
    "percent_sign": "%",
    "plus": "+",
    "underscore": "_",
    "escape": "esc",
    "shift+tab": "S-tab",
    "ctrl+p": "C-p",
    "ctrl+r": "C-r",
    "ctrl+d": "C-d",
    "ctrl+u": "C-u",
}

ACTIONS: tuple[Act, ...] = (
    # global
    Act("help", "question_mark", "help", "Keys of the focused pane and all keys"),
    Act("command-palette", "ctrl+p,colon", "command_palette", "Command palette", show=False, palette=False),
    Act("quit", "q", "quit", "Quit"),
    Act("focus-prompts", "1", "focus_pane('prompts')", "Prompts pane", show=False),
    Act("focus-history", "2", "focus_pane('history')", "History pane", show=False),
    Act("focus-diff", "3", "focus_pane('diff')", "Diff pane", show=False),
    Act("focus-tests", "4", "focus_pane('tests')", "Tests pane", show=False),
    Act("monitor", "5", "monitor", "Production metrics of the selected prompt", show=False),
    Act("timeline", "6", "timeline", "Timeline: every release and deployment, all prompts", show=False),
    Act("all-branches", "a", "toggle_branches", "History: current branch / all branches (graph)", show=False),
    Act("next-pane", "tab", "cycle_pane(1)", "Next pane", show=False, priority=True),
    Act("previous-pane", "shift+tab", "cycle_pane(-1)", "Previous pane", show=False, priority=True),
    Act("next-pane-vim", "l", "cycle_pane(1)", "Next pane", show=False, palette=False),
    Act("previous-pane-vim", "h", "cycle_pane(-1)", "Previous pane", show=False, palette=False),
    Act("zoom-in", "plus", "zoom(1)", "Zoom: normal → half → full screen", show=False),
    Act("zoom-out", "underscore", "zoom(-1)", "Zoom back: full → half → normal", show=False),
    Act("toggle-mouse", "percent_sign", "toggle_mouse", "Mouse on / off", show=False),
    Act("refresh", "ctrl+r", "refresh_all", "Reload from disk and Git", show=False),
    Act("cancel", "escape", "cancel", "Cancel the running test", show=False),
    # prompt or version
    Act("edit", "e", "edit", "Edit in $EDITOR", writes=True),
    Act("edit-inline", "E", "edit_inline", "Edit in the app", show=False, writes=True),
    Act("mark-base", "m", "mark_base", "Mark as comparison base"),
    Act("diff", "d", "diff", "Diff base vs selected"),
    Act("run-tests", "t", "run_tests", "Run tests", writes=True),
    Act("run-ab", "T", "run_ab", "A/B run: base vs selected", writes=True),
    Act("commit", "c", "commit", "Commit", writes=True),
    Act("branches", "b", "branches", "Branches"),
    Act("release-tag", "r", "release_tag", "Release tag", show=False, writes=True),
    Act("promote", "p", "promote", "Promote", writes=True),
    Act("rollback", "R", "rollback", "Roll back", writes=True),
    Act("canary-split", "S", "canary_split", "Start a canary split", show=False, writes=True),
    Act("finish-split", "F", "finish_split", "Finish a canary split", show=False, writes=True),
    Act("push", "P", "push", "Push", show=False, writes=True),
    Act("fetch", "f", "fetch", "Fetch", show=False, writes=True),
    Act("review", "v", "review", "Review a branch", show=False),
    Act("environments", "w", "environments", "Environments", show=False),
    # panes
    Act("filter", "slash", "start_filter", "Filter", scope="prompts"),
    Act("history-filter", "slash", "start_filter", "Filter", scope="history"),
    Act("diff-layout", "u", "toggle_layout", "Split / unified", scope="diff"),
    Act("next-change", "n", "next_change", "Next change", scope="diff"),
    Act("previous-change", "N", "previous_change", "Previous change", scope="diff"),
    Act("open-case", "enter", "open_case", "Open case", scope="tests"),
)

MOVE_BINDINGS: list[BindingType] = [
    Binding("j", "cursor_down", "Down", show=False),
    Binding("k", "cursor_up", "Up", show=False),
    Binding("g", "scroll_home", "Top", show=False),
    Binding("G", "scroll_end", "Bottom", show=False),
    Binding("ctrl+d", "page_down", "Page down", show=False),
    Binding("ctrl+u", "page_up", "Page up", show=False),
]


# Tables move their cursor (the selection) to the top and bottom, not only the view.
TABLE_MOVE_BINDINGS: list[BindingType] = [
    *MOVE_BINDINGS[:2],
    Binding("g", "scroll_top", "Top", show=False),
    Binding("G", "scroll_bottom", "Bottom", show=False),
    *MOVE_BINDINGS[4:],
]


WRITING_ACTIONS = frozenset(act.action for act in ACTIONS if act.writes)


def bindings(scope: str) -> list[BindingType]:
    return [act.binding() for act in ACTIONS if act.scope == scope]


def actions_for(scope: str) -> list[Act]:
    return [act for act in ACTIONS if act.scope == scope]


def keys_markdown() -> str:
    """The README's key table."""
    lines = ["| key | action | where |", "| --- | --- | --- |"]
    for act in ACTIONS:
        where = "anywhere" if act.scope == "app" else f"{act.scope} pane"
        lines.append(f"| `{act.key_label}` | {act.description} | {where} |")
    return "\n".join(lines)
