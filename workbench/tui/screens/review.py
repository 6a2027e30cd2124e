"""The pull-request view: every prompt a branch changed since its merge-base, with diffs."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from workbench.core.safe_text import clean
from workbench.tui.render.preview import diff_preview


class ReviewScreen(ModalScreen[tuple[str, str] | None]):
    """Returns ("ab", prompt) to run base vs branch, ("approve", prompt) to approve the branch's
    version of a prompt, ("merge", branch) to merge, or None."""

    BINDINGS: ClassVar = [
        Binding("escape,q", "cancel", "Close"),
        Binding("T", "ab", "A/B run vs base"),
        Binding("a", "approve", "Approve for an environment"),
        Binding("M", "merge", "Merge"),
    ]

    def __init__(self, review: Any) -> None:
        super().__init__()
        self.review = review

    def compose(self) -> ComposeResult:
        review = self.review
        title = Text(f"Review {clean(review.branch)} → {clean(review.base)}", style="bold")
        title.append(f"  ({len(review.items)} prompt(s), {len(review.commits)} commit(s) since {review.merge_base[:7]})", style="dim")
        with Vertical(id="review-dialog"):
            yield Static(title, classes="dialog-title")
            with Horizontal():
                yield OptionList(*[Option(Text(f"{item.change:<9} {clean(item.name)}"), id=item.name) for item in review.items], id="review-list")
                with VerticalScroll(id="review-detail"):
                    yield Static("", id="review-body")
            yield Static(Text("T: A/B run base vs branch · a: approve for an environment · M: merge (asks first) · esc: close", style="bold"))

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        if self.review.items:
            options.highlighted = 0
            self._show(self.review.items[0])
        else:
            self.query_one("#review-body", Static).update(Text("this branch changes no prompt", style="dim"))

    def _show(self, item: Any) -> None:
        body = Text()
        for commit in item.commits:
            body.append(f"{commit.sha[:7]} ", style="dim")
            body.append(f"{clean(commit.author_name)}: ", style="bold")
            body.append(clean(commit.subject) + "\n")
        body.append("\n")
        body.append_text(diff_preview(item.diff, 90, 200))
        self.query_one("#review-body", Static).update(body)

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        item = next((i for i in self.review.items if i.name == event.option.id), None)
        if item is not None:
            self._show(item)

    def _current(self) -> str | None:
        options = self.query_one(OptionList)
        if options.highlighted is None or not self.review.items:
            return None
        return str(options.get_option_at_index(options.highlighted).id)

    def action_ab(self) -> None:
        name = self._current()
        if name is not None:
            self.dismiss(("ab", name))

    def action_approve(self) -> None:
        name = self._current()
        if name is not None:
            self.dismiss(("approve", name))

    def action_merge(self) -> None:
        self.dismiss(("merge", self.review.branch))

    def action_cancel(self) -> None:
        self.dismiss(None)
