"""Guarded environments: `approve` a version for an environment, `audit` every deployment event."""

from __future__ import annotations

from typing import Annotated

import typer

from workbench.cli.common import (
    EXIT_FINDINGS,
    app,
    console,
    emit_json,
    interrupt_after,
    open_session,
    prompt_name,
)
from workbench.core.safe_text import clean, inline


@app.command("approve")
def approve_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment the approval is for.")],
    rev: Annotated[str | None, typer.Option("--rev", help="Version to approve (default HEAD; name@v3, a commit, staging...).")] = None,
    reason: Annotated[str, typer.Option("--message", "-m", help="Why (required; recorded in the approval).")] = "",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Approve a version of a prompt for an environment (an append-only annotated tag).

    The approval counts for that version and environment only, and never for a promotion by
    the approver. Push to share it.
    """
    from rich.text import Text

    from workbench.services.approvals import approve

    with open_session() as session, interrupt_after():
        approval = approve(session, name, env, rev, reason)
        policy = session.config.policies.get(env)
        if json_out:
            emit_json(approval.to_dict())
            return
        out = console()
        out.print(Text(f"approved {clean(approval.version or approval.commit[:10])} of {clean(approval.prompt)} for {clean(env)}"))
        out.print(Text(f"  by {clean(approval.who)}\n  tag {clean(approval.tag)}", style="dim"))
    if policy is None or policy.approvals <= 0:
        out.print(Text(f"  note: {clean(env)} requires no approvals (workbench.yaml); the approval is recorded anyway", style="yellow"))


@app.command("audit")
def audit_cmd(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Audit one environment (default: all).")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Check every deployment event against the policy in force when it was written.

    Lists violations (exit 1) and overrides. Catches deployment tags pushed by hand with
    `git tag`: run it in CI whenever tags are pushed (see the README).
    """
    from workbench.services.audit import audit

    with open_session() as session:
        report = audit(session, env)
    if json_out:
        emit_json(report.to_dict())
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(EXIT_FINDINGS)


def _print_report(report: object) -> None:
    from rich.text import Text

    from workbench.services.audit import AuditReport

    assert isinstance(report, AuditReport)
    out = console()
    counts = report.counts()
    out.print(
        Text(
            f"{len(report.findings)} deployment event(s): {counts['ok']} within policy, {counts['rollback']} rollback(s) "
            f"to versions already run, {counts['unguarded']} in unguarded environments, "
            f"{counts['override']} override(s), {counts['violation']} violation(s)"
        )
    )
    flagged = [f for f in report.findings if f.problems and f.status not in ("violation", "override")]  # a malformed tag, unguarded
    for finding in [*report.violations, *report.overrides, *flagged]:
        event = finding.event
        label = {"violation": "VIOLATION", "override": "OVERRIDE"}.get(finding.status, "PROBLEM")
        line = Text(f"\n{label} ", style="bold")
        line.append(f"{inline(event.tag)}\n")
        target = event.canary.version if event.action == "split" and event.canary else event.version
        line.append(f"  {inline(event.action)} {inline(event.prompt)} in {inline(event.env)} → {inline(target or event.commit[:10])}")
        line.append(f"  by {inline(finding.promoter or event.who or 'unknown')} at {inline(event.when or event.seq[:17])}\n", style="dim")
        if event.reason:
            line.append(f"  reason: {inline(event.reason)}\n", style="dim")
        for problem in finding.problems:
            line.append(f"  ✗ {inline(problem)}\n")
        for check in finding.checks:
            if not check.ok:
                line.append(f"  ✗ {inline(check.rule)}: {inline(check.found)}\n")
        if finding.sources:
            line.append(f"  policy read from: {inline(', '.join(finding.sources))}", style="dim")
        out.print(line)
