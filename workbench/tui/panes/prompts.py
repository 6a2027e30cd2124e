"""Prompts pane: the tree of prompts/ with working-copy markers and environment badges."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static, Tree
from textual.widgets.tree import NodeID, TreeNode

from workbench.core.safe_text import clean
from workbench.tui.actions import MOVE_BINDINGS, bindings
from workbench.tui.messages import PaneContentChanged, PromptSelected
from workbench.tui.text import env_badges

STATE_MARKERS = {
    "clean": (" ", ""),
    "modified": ("M", "marker-modified"),
    "new": ("+", "marker-new"),
    "deleted": ("-", "marker-deleted"),
    "invalid": ("!", "marker-invalid"),
    "conflicted": ("U", "marker-invalid"),
    "gone": ("×", "marker-deleted"),  # deployed, not on this branch (renamed or deleted): history and rollback only
}
# Up to this many prompts every folder opens expanded; above it, only the selected prompt's
# folders (thousands of open lines are measured and laid out before the first paint).
EXPAND_ALL_ROWS = 300


@dataclass(frozen=True)
class PromptRow:
    name: str
    state: str = "clean"
    envs: tuple[str, ...] = ()
    troubled: tuple[str, ...] = ()  # of `envs`: those whose event is malformed


def prompt_label(row: PromptRow, leaf: str) -> Text:
    marker, _ = STATE_MARKERS.get(row.state, ("?", ""))
    label = Text()
    label.append(marker, style="bold red" if marker == "!" else "bold yellow" if marker.strip() else "")
    label.append(" ")
    label.append(clean(leaf))
    if row.envs:
        label.append(" ")
        label.append(env_badges(row.envs, row.troubled, short=True))
    return label


class PromptTree(Tree[str]):
    BINDINGS = MOVE_BINDINGS  # a Tree moves its cursor on scroll_home/scroll_end and pages

    def on_click(self, event: events.Click) -> None:
        """A click selects the prompt (or opens/closes the folder) and keeps the focus here;
        `enter` is what moves on to the History pane."""
        event.prevent_default()  # Tree's own click handler would also "select" (enter) the node
        line = event.style.meta.get("line")
        node = self.get_node_at_line(line) if isinstance(line, int) else None
        if node is None:
            return
        if node.allow_expand:
            node.toggle()
        self.move_cursor(node)

    def visible_lines(self) -> int:
        """Lines the tree shows with its folders as they are (open or closed)."""

        def count(node: TreeNode[str]) -> int:
            return sum(1 + (count(child) if child.is_expanded else 0) for child in node.children)

        return count(self.root)


class PromptsPane(Vertical):
    """Tree of prompts; `/` filters by substring."""

    BINDINGS = bindings("prompts")
    can_focus = False

    def __init__(self, **kwargs: object) -> None:
        super().__init__(id="prompts-pane", **kwargs)  # type: ignore[arg-type]
        self.border_title = "1 Prompts"
        self._rows: list[PromptRow] = []
        self._filter = ""
        self._shown_filter = ""  # the filter of the tree on screen
        self._open_unfiltered: set[str] = set()  # the folders open when no filter was
        self._folders: dict[NodeID, _Folder] = {}  # the tree's folders, by node id

    def compose(self) -> ComposeResult:
        # Disabled while hidden so that it never takes the focus by accident.
        yield Input(
            placeholder="filter prompts… (enter: keep, esc: clear)",
            id="prompt-filter",
            classes="hidden",
            disabled=True,
        )
        tree: PromptTree = PromptTree("prompts", id="prompt-tree")
        tree.show_root = False
        tree.guide_depth = 2
        yield tree
        yield Static("", id="prompts-empty", classes="hidden")

    @property
    def prompt_tree(self) -> PromptTree:
        return self.query_one(PromptTree)

    def wanted_height(self) -> int:
        """The tree's lines, a blank line (nothing more below), the filter box and the border."""
        if not self.is_mounted:
            return 3
        box = 0 if self.query_one("#prompt-filter", Input).has_class("hidden") else 1
        lines = self.prompt_tree.visible_lines() or 1
        return lines + 1 + box + 2

    def on_click(self) -> None:
        """A click on the pane (its border, the empty space) focuses the tree."""
        if not self.prompt_tree.has_focus and self.query_one("#prompt-filter", Input).has_class("hidden"):
            self.prompt_tree.focus()

    @on(Tree.NodeExpanded)
    @on(Tree.NodeCollapsed)
    def _folded(self, event: Tree.NodeExpanded[str] | Tree.NodeCollapsed[str]) -> None:
        self._fill(event.node)
        self.post_message(PaneContentChanged("prompts"))

    def set_rows(self, rows: list[PromptRow], select: str | None) -> None:
        self._rows = rows
        self._rebuild(select)

    def _rebuild(self, select: str | None) -> None:
        tree = self.prompt_tree
        opened = self._open_folders(tree.root)  # a reload keeps the folders the user opened...
        if not self._shown_filter:
            self._open_unfiltered = opened
        elif not self._filter:  # ...those of before the filter once it is cleared (not its matches')
            opened = self._open_unfiltered
        self._shown_filter = self._filter
        tree.clear()
        self._folders.clear()
        visible = [r for r in self._rows if self._filter.lower() in r.name.lower()]
        shown = select if select is not None and any(r.name == select for r in visible) else (visible[0].name if visible else "")
        expand_all = len(visible) <= EXPAND_ALL_ROWS
        self._add_rows(tree.root, "", visible, lambda key: expand_all or key in opened or shown.startswith(key + "/"))
        target = next((n for n in _leaves(tree.root) if n.data == select), None)
        empty = self.query_one("#prompts-empty", Static)
        empty.set_class(bool(visible), "hidden")
        if not visible:
            empty.update(
                Text(
                    "no prompts match"
                    if self._rows
                    else "no prompts under prompts/ — `workbench init` makes one"
                )
            )
        if target is None:
            target = next((n for n in _leaves(tree.root)), None)
        if target is not None:
            # Line numbers exist only after the tree has laid out its new nodes. The cursor may
            # land on the same line number as before (no highlight event): say what it selects.
            self.call_after_refresh(self._select_node, target)
        self.post_message(PaneContentChanged("prompts"))

    def _add_rows(self, parent: TreeNode[str], prefix: str, rows: list[PromptRow], opens: Callable[[str], bool]) -> None:
        """Add `rows` (all under the folder `prefix`) below `parent`, in their order. A closed
        folder's rows are added when it opens (`_fill`): thousands of nodes nobody sees cost
        a tenth of a second to add and lay out before the first paint."""
        folders: dict[str, _Folder] = {}
        for row in rows:
            head, sep, _ = row.name[len(prefix) :].partition("/")
            if not sep:
                parent.add_leaf(prompt_label(row, head), data=row.name)
            elif head in folders:
                folders[head].unfilled.append(row)
            else:
                path = prefix + head
                node = parent.add(Text(clean(head) + "/", style="bold"), expand=opens(path))
                folders[head] = self._folders[node.id] = _Folder(node, path, [row], opens)
        for folder in folders.values():
            if folder.node.is_expanded:
                self._fill(folder.node)

    def _folder(self, node: TreeNode[str]) -> _Folder | None:
        """`node`'s folder; None for a leaf, or a node of the tree before a reload (its event may
        arrive after it, and the new tree numbers its nodes from 0 again)."""
        folder = self._folders.get(node.id)
        return folder if folder is not None and folder.node is node else None

    def _fill(self, node: TreeNode[str]) -> None:
        """Add a folder's rows the first time it is open."""
        folder = self._folder(node)
        if folder is not None and folder.unfilled:
            rows, folder.unfilled = folder.unfilled, []
            self._add_rows(node, folder.path + "/", rows, folder.opens)

    def _open_folders(self, node: TreeNode[str]) -> set[str]:
        """The paths (`support`, `support/billing`) of the expanded folders under `node`."""
        found: set[str] = set()
        for child in node.children:
            folder = self._folder(child) if child.is_expanded else None
            if folder is not None:
                found.add(folder.path)
                found |= self._open_folders(child)
        return found

    def _select_node(self, node: TreeNode[str]) -> None:
        self.prompt_tree.move_cursor(node)
        if node.data is not None:
            self.post_message(PromptSelected(node.data))

    def show_prompt(self, name: str) -> None:
        """Put the cursor on `name`, its folders opened (the selection it announces is the app's already)."""
        node = self.prompt_tree.root
        folders = name.split("/")[:-1]
        for depth in range(1, len(folders) + 1):
            path = "/".join(folders[:depth])
            found = next((n for n in node.children if (folder := self._folder(n)) is not None and folder.path == path), None)
            if found is None:
                return
            node = found
            self._fill(node)
            node.expand()
        leaf = next((n for n in node.children if n.data == name), None)
        if leaf is not None:  # after the tree has laid out the lines it opened (a closed line has none)
            self.call_after_refresh(self.prompt_tree.move_cursor, leaf)

    def action_start_filter(self) -> None:
        box = self.query_one("#prompt-filter", Input)
        box.disabled = False
        box.remove_class("hidden")
        box.focus()
        self.post_message(PaneContentChanged("prompts"))

    def close_filter(self, clear: bool) -> None:
        box = self.query_one("#prompt-filter", Input)
        if clear:
            box.value = ""
        if not box.value:
            box.add_class("hidden")
            box.disabled = True
        self.prompt_tree.focus()
        self.post_message(PaneContentChanged("prompts"))

    @on(Input.Changed, "#prompt-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self._filter = event.value
        self._rebuild(self.selected)

    @on(Input.Submitted, "#prompt-filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self.close_filter(clear=False)

    def key_escape(self) -> None:
        if self.query_one("#prompt-filter", Input).has_focus:
            self.close_filter(clear=True)

    @property
    def selected(self) -> str | None:
        node = self.prompt_tree.cursor_node
        return node.data if node is not None else None

    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted[str]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(PromptSelected(event.node.data))


@dataclass
class _Folder:
    node: TreeNode[str]
    path: str  # `support/billing`; the node's label shows the name as `clean` shows it
    unfilled: list[PromptRow]  # its rows not in the tree yet (added when it first opens)
    opens: Callable[[str], bool]  # which folders below it start open


def _leaves(node: TreeNode[str]) -> list[TreeNode[str]]:
    found: list[TreeNode[str]] = []
    for child in node.children:
        if child.data is not None:
            found.append(child)
        found.extend(_leaves(child))
    return found
