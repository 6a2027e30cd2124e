"""Previews shown before a change is made: a compact diff, a deployment event, a deploy plan.

The promote (`p`), rollback (`R`) and environments-view flows all show a `DeployPlan` with
`plan_body`, so the user always sees the same facts: what runs now, what will run, their
test results and what changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rich.text import Text

from workbench.core.diff import PromptDiff
from workbench.core.policy import PolicyCheck
from workbench.core.safe_text import clean, inline
from workbench.core.versions import DeploymentEvent
from workbench.services.deployments import DeployPlan
from workbench.tui.render.diff import render_diff


def _short(label: str) -> str:
    return label[:7] if len(label) == 40 and all(c in "0123456789abcdef" for c in label) else label


def diff_preview(diff: PromptDiff, width: int = 100, limit: int = 40) -> Text:
    """A unified rendering of `diff` for dialogs, with short commit labels, cut at `limit` lines."""
    diff = replace(diff, left_label=_short(diff.left_label), right_label=_short(diff.right_label))
    lines, _ = render_diff(diff, width, unified=True)
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(Text(f"… {len(lines) - limit} more lines (see the diff pane)", style="dim"))
    return Text("\n").join(shown)


def event_line(label: str, event: DeploymentEvent | None, summary: str | None) -> Text:
    """`now      v2  07c6d38  tests ✓ 6/6  by Ana 2026-01-02`."""
    text = Text(f"{label:<9}", style="bold")
    if event is None:
        text.append("nothing deployed")
        return text
    text.append(inline(event.version or event.commit[:10]))
    text.append(f"  {event.commit[:7]}", style="dim")
    if summary:
        text.append(f"  tests {inline(summary)}")
    if event.who:
        text.append(f"  by {inline(event.who.split('<')[0].strip())} {inline(event.when[:10])}", style="dim")
    return text


def plan_body(plan: DeployPlan, width: int) -> Text:
    """Everything a deployment will do, before the user confirms it."""
    body = Text()
    body.append_text(event_line("now", plan.current, plan.current_tests))
    body.append("\n")
    label = {"rollback": "back to", "split": "canary"}.get(plan.action, "deploy")
    target = Text(f"{label:<9}", style="bold")
    if plan.canary is not None:
        target.append(f"{clean(plan.canary.version or '')}  {plan.canary.commit[:7]}  {plan.canary.percent:g}% of keys")
    else:
        target.append(f"{clean(plan.version)}  {plan.commit[:7]}")
        if plan.new_release:
            target.append("  (new release)", style="dim")
    if plan.tests:
        target.append(f"  tests {clean(plan.tests)}")
    else:
        target.append("  no test run recorded on this version (select it in History, press t)", style="yellow")
    body.append_text(target)
    if plan.tests_aside:
        body.append(f"\n{' ' * 9}{clean(plan.tests_aside)}", style="yellow")
    for note in plan.notes:
        body.append(f"\n{clean(note)}", style="bold yellow")
    if plan.checks:
        body.append("\n\n")
        body.append_text(checks_body(plan.env, plan.checks, plan.policy_sources, plan.blocked))
    body.append("\n\nWhat changes:\n", style="bold")
    body.append_text(diff_preview(plan.diff, width))
    return body


def checks_body(env: str, checks: Sequence[PolicyCheck], sources: Sequence[str], blocked: bool) -> Text:
    """The rules of `env`, each with ✓ or ✗, what was found and how to satisfy it."""
    text = Text(f"Policy of {clean(env)}", style="bold")
    if sources:
        text.append(f" (from {clean(', '.join(sources))})", style="dim")
    text.append(":")
    for check in checks:
        text.append(f"\n  {'✓' if check.ok else '✗'} ", style="bold green" if check.ok else "bold red")
        text.append(f"{clean(check.rule)}: {clean(check.found)}")
        if not check.ok and check.fix:
            text.append(f"\n      to satisfy it: {clean(check.fix)}", style="dim")
    if blocked:
        text.append(
            f"\nBLOCKED: {clean(env)}'s policy forbids this. Only an emergency override can deploy it, and the event records it.",
            style="bold red",
        )
    return text
