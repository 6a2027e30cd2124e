"""One test case: the outputs of A and B side by side, failing assertions explained."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.core.safe_text import clean
from workbench.core.tool_calls import describe_tool_calls


def _column(result: Any) -> Text:
    if result is None:
        return Text("not run", style="dim")
    text = Text()
    status = {"pass": ("✓ passed", "bold green"), "fail": ("✗ failed", "bold red"), "error": ("! error", "bold yellow")}[result.status]
    text.append(status[0], style=status[1])
    text.append(f"  score {result.score:.2f}")
    if result.latency_ms is not None:
        text.append(f"  {result.latency_ms:.0f} ms", style="dim")
    if result.tokens:
        text.append(f"  {result.tokens} tokens", style="dim")
    if result.cached:
        text.append("  (cached)", style="dim")
    if result.error:
        text.append("\n" + clean(result.error), style="yellow")
    for assertion in result.asserts:
        mark = "✓" if assertion.passed else "✗"
        text.append(f"\n{mark} {clean(assertion.type)}: ", style="green" if assertion.passed else "red")
        text.append(clean(assertion.reason))
    calls = describe_tool_calls(result.output)
    if calls:  # the model answered with tool calls: show them as calls, then the raw answer
        text.append("\n\ntool calls:\n", style="bold")
        text.append(clean(calls))
    text.append("\n\noutput:\n", style="bold")
    text.append(clean(result.output))
    return text


class CaseScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,enter", "dismiss", "Close")]

    def __init__(self, name: str, labels: list[str], results: list[Any]) -> None:
        super().__init__()
        self.case_name = name  # as the Tests pane and the reports name the case (`same (2)`)
        self.labels = labels
        self.results = results

    def compose(self) -> ComposeResult:
        table = Table(expand=True, show_lines=False)
        for label in self.labels:
            table.add_column(Text(clean(label)), ratio=1, overflow="fold")
        table.add_row(*[_column(r) for r in self.results])
        with Vertical(classes="dialog", id="case-dialog"):
            yield Static(Text(f"Case: {clean(self.case_name)}", style="bold"), classes="dialog-title")
            with VerticalScroll():
                yield Static(table)
            yield Static(Text("esc to close", style="dim"))

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
