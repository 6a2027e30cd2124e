"""`5`: production metrics of the selected prompt: charts per metric with deployment markers,
the per-version table, canary arms, and a banner when the current version regressed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.core.policy import event_time
from workbench.core.safe_text import clean

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float | None], width: int) -> str:
    """The last `width` values as block characters (blank where there is no data)."""
    values = values[-width:]
    present = [v for v in values if v is not None]
    if not present:
        return ""
    low, high = min(present), max(present)
    span = (high - low) or 1.0
    return "".join(" " if v is None else BLOCKS[min(len(BLOCKS) - 1, int((v - low) / span * (len(BLOCKS) - 1)))] for v in values)


def marker_line(days: list[float], events: list[Any], width: int) -> str:
    """`▲` under each day on which a deployment event happened."""
    days = days[-width:]
    marks = [" "] * len(days)
    for event in events:
        moment = event_time(event)  # as the monitor places its windows (`services.monitor.event_start`)
        if moment is None:
            continue
        when = moment.timestamp()
        for index, day in enumerate(days):
            if day <= when < day + 86400:
                marks[index] = "▲" if event.action != "rollback" else "↺"
    return "".join(marks)


def render_report(report: Any, width: int = 60) -> list[Any]:
    parts: list[Any] = []
    verdict = report.canary or report.verdict
    if report.regressed and verdict is not None:
        banner = Text(f"⚠ REGRESSED in {report.env}: {clean(verdict.text)}\n", style="bold reverse")
        banner.append("press R to roll back (you will see both versions and give a reason)", style="bold")
        parts.append(banner)
    elif verdict is not None:
        parts.append(Text(clean(verdict.text), style="bold"))
    days = [d[0] for d in report.series]
    if days:
        first = datetime.fromtimestamp(days[max(0, len(days) - width)], UTC).strftime("%Y-%m-%d")
        last = datetime.fromtimestamp(days[-1], UTC).strftime("%Y-%m-%d")
        chart = Text(f"daily, {first} … {last}   (▲ deployment, ↺ rollback)\n", style="dim")
        for label, index in (("calls", 1), ("errors", 2), ("latency", 3), ("score", 4)):
            chart.append(f"{label:>8} ", style="bold")
            chart.append(sparkline([d[index] for d in report.series], width) + "\n")
        chart.append(" " * 9 + marker_line(days, report.deployments, width), style="bold")
        parts.append(chart)
    table = Table(box=None, expand=False)
    for column in ("version", "arm", "calls", "errors (95% CI)", "p50 ms", "p95 ms", "score", "feedback"):
        table.add_column(column)
    for v in report.versions:
        low, high = v.error_interval
        table.add_row(
            Text(clean(v.version.rsplit("@", 1)[-1])), Text(clean(v.arm or "-")), Text(str(v.calls)),
            Text(f"{v.error_rate:.1%} ({low:.1%}–{high:.1%})"),
            Text(f"{v.latency_p50:.0f}" if v.latency_p50 is not None else "-"),
            Text(f"{v.latency_p95:.0f}" if v.latency_p95 is not None else "-"),
            Text(f"{v.score_mean:.2f}" if v.score_mean is not None else "-"),
            Text(f"{v.feedback_rate:.1%}"),
        )
    parts.append(table if report.versions else Text("no production events for this prompt yet (workbench monitor ingest FILE)", style="dim"))
    return parts


class MonitorScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar = [Binding("escape,q", "close", "Close"), Binding("R", "rollback", "Roll back")]

    def __init__(self, report: Any) -> None:
        super().__init__()
        self.report = report

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="monitor-dialog"):
            yield Static(Text(f"Production: {clean(self.report.prompt)} in {clean(self.report.env)}", style="bold"), classes="dialog-title")
            with VerticalScroll():
                for part in render_report(self.report, width=max(20, min(90, self.app.size.width - 20))):
                    yield Static(part)
            yield Static(Text("R: roll back · esc: close", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_rollback(self) -> None:
        self.dismiss("rollback")
