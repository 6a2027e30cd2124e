"""Every prompt × environment: what runs where, what lags; `p` promotes the previous stage forward."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from workbench.core.safe_text import clean


class EnvironmentsScreen(ModalScreen[tuple[str, str, str, str] | None]):
    """Returns ("promote" or "approve", prompt, from_env, to_env) when the user asks for either."""

    BINDINGS: ClassVar = [
        Binding("escape,q", "cancel", "Close"),
        Binding("p", "promote", "Promote previous stage → next"),
        Binding("a", "approve", "Approve it for the next stage"),
        Binding("j", "cursor_down", show=False),
        Binding("k", "cursor_up", show=False),
    ]

    def __init__(self, status: Any, policies: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.status = status
        self.policies = policies or {}

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="env-dialog"):
            yield Static(Text("Environments", style="bold"), classes="dialog-title")
            yield DataTable[Text](id="env-table", cursor_type="row")
            if self.policies:
                yield Static(self._rules(), id="env-rules")
            keys = "p: promote the stage before the last one forward (e.g. staging → prod) · a: approve what it runs for the last stage · esc: close"
            yield Static(Text(keys, style="bold"))

    def _rules(self) -> Text:
        text = Text("Guarded:", style="bold")
        for env, policy in self.policies.items():
            text.append(f"\n  {clean(env)}: ", style="bold")
            text.append(clean("; ".join(policy.describe())))
        return text

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("prompt", key="prompt")
        for env in self.status.environments:
            table.add_column(Text(f"{env} (guarded)" if env in self.policies else env), key=env)
        for row in self.status.rows:
            cells = [Text(clean(row.name))]
            for env in self.status.environments:
                cell = row.cell(env)
                if cell is None or cell.event is None:
                    cells.append(Text("—", style="dim"))
                    continue
                text = Text(clean((cell.version or cell.commit or "")[-12:].split("@")[-1]))
                if cell.event.canary is not None:
                    text.append(f" +{cell.event.canary.percent:g}% canary", style="bold")
                if cell.lag:
                    text.append(f" ⚠ {cell.lag} behind", style="bold yellow")
                elif cell.differs:
                    text.append(" ≠", style="bold yellow")
                if cell.orphaned:
                    text.append(" (no branch)", style="red")
                elif cell.orphaned is None:
                    text.append(" (branch unknown: shallow)", style="yellow")
                cells.append(text)
            table.add_row(*cells, key=row.name)
        table.focus()

    def action_cursor_down(self) -> None:
        self.query_one(DataTable).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(DataTable).action_cursor_up()

    def action_promote(self) -> None:
        self._choose("promote")

    def action_approve(self) -> None:
        self._choose("approve")

    def _choose(self, action: str) -> None:
        table = self.query_one(DataTable)
        if not self.status.rows or len(self.status.environments) < 2:
            return
        row = self.status.rows[table.cursor_row]
        source, target = self.status.environments[-2], self.status.environments[-1]
        cell = row.cell(source)
        if cell is None or cell.event is None:
            self.app.notify(f"{row.name} is not deployed to {source}", severity="warning")
            return
        target_cell = row.cell(target)
        if target_cell is not None and target_cell.commit == cell.commit:
            self.app.notify(f"{target} already runs what {source} runs", severity="warning")
            return
        self.dismiss((action, row.name, source, target))

    def action_cancel(self) -> None:
        self.dismiss(None)
