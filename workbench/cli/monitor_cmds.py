"""`workbench monitor`: ingest production event logs and judge each deployed version."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli.common import EXIT_FINDINGS, EXIT_OK, app, console, emit_json, fail, state
from workbench.core.safe_text import clean


@app.command("monitor")
def monitor_command(
    args: Annotated[list[str] | None, typer.Argument(help="NAME, or `ingest PATH...`.", metavar="NAME | ingest PATH...")] = None,
    all_prompts: Annotated[bool, typer.Option("--all", help="Every prompt deployed to the environment; lists those that regressed.")] = False,
    env: Annotated[str, typer.Option("--env", help="Environment.")] = "prod",
    since: Annotated[str | None, typer.Option("--since", help="Only events newer than this, e.g. 7d, 12h.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Per-version production metrics with a regressed / improved / within-noise verdict; exit 1 on a regression."""
    from workbench.services import monitor as service
    from workbench.services.history import require_known
    from workbench.services.session import RepoSession

    words = list(args or [])
    if words[:1] == ["ingest"]:
        paths = [Path(p) for p in words[1:]]
        if not paths:
            fail("monitor ingest needs one or more JSONL or OTLP JSON files")
        result = service.ingest(state.repo_root(), paths)
        _warn(result.warnings)
        if as_json:
            emit_json(result.to_dict())
        else:
            for problem in result.problems:
                print(clean(problem))
            if result.problem_count > len(result.problems):
                print(f"... and {result.problem_count - len(result.problems)} more problem(s)")
            feedback = f", {result.feedback} feedback" if result.feedback else ""
            print(
                f"ingested {result.files} file(s): {result.added} new event(s), {result.duplicates} already known{feedback}, "
                f"{result.problem_count} problem(s) (skipped)"
            )
        if result.unreadable:  # a bad line is skipped; a file not there is the caller's mistake
            fail(f"cannot read {', '.join(result.unreadable)}")
        raise typer.Exit(EXIT_OK)
    if not words and not all_prompts:
        fail("name a prompt, pass --all, or use `workbench monitor ingest PATH...`")
    try:
        with RepoSession.open(state.repo_root()) as ws:
            reports = service.report_all(ws, env, since) if all_prompts else [service.report(ws, name, env, since) for name in words]
            for r in reports:  # first: a corrupt store moved aside is said even when the prompt is unknown
                _warn(r.warnings)
            for unseen in (r for r in reports if not all_prompts and not r.deployments and not r.versions):
                require_known(ws, unseen.prompt, env)
            if all_prompts and not reports:  # nothing there: a typo, or an environment with nothing yet
                ws.require_env(env)
    except ValueError as err:
        fail(str(err))
    if as_json:
        emit_json([r.to_dict() for r in reports])
    elif all_prompts:
        regressed = [r for r in reports if r.regressed]
        for r in regressed:
            print(clean(f"✗ {r.prompt}: {(r.canary or r.verdict).text}"))  # type: ignore[union-attr]
        waiting = sum(1 for r in reports if r.waiting and not r.regressed)
        print(f"{len(regressed)} of {len(reports)} prompts in {env} regressed" + (f"; {waiting} without enough traffic yet to judge" if waiting else ""))
    else:
        for r in reports:
            _print(r)
    raise typer.Exit(EXIT_FINDINGS if any(r.regressed for r in reports) else EXIT_OK)


def _warn(warnings: list[str]) -> None:
    import sys

    for warning in dict.fromkeys(warnings):
        sys.stderr.write(f"workbench: warning: {clean(warning)}\n")


def _print(report: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(clean(f"{report.prompt} in {report.env}")), box=None)
    for column in ("version", "arm", "calls", "errors (95% CI)", "p50 ms", "p95 ms", "tokens", "score (95% CI)", "feedback"):
        table.add_column(column)
    for v in report.versions:
        low, high = v.error_interval
        score = v.mean_interval(v.score_mean, v.score_sd, v.score_n)
        table.add_row(
            Text(clean(v.version.rsplit("@", 1)[-1])), Text(clean(v.arm or "-")), Text(str(v.calls)),
            Text(f"{v.error_rate:.1%} ({low:.1%}–{high:.1%})"),
            Text(f"{v.latency_p50:.0f}" if v.latency_p50 is not None else "-"),
            Text(f"{v.latency_p95:.0f}" if v.latency_p95 is not None else "-"),
            Text(str(v.tokens)),
            Text(f"{v.score_mean:.2f} ({score[0]:.2f}–{score[1]:.2f})" if v.score_mean is not None and score else "-"),
            Text(f"{v.feedback_rate:.1%}"),
        )
    out = console()
    out.print(table)
    if not report.versions:
        out.print(Text("no events: record with workbench.monitor.record() and load them with `workbench monitor ingest`", style="dim"))
    for verdict in (report.verdict, report.canary):
        if verdict is not None:
            out.print(Text(("canary: " if verdict is report.canary else "") + clean(verdict.text), style="bold red" if verdict.regressed else "bold"))
