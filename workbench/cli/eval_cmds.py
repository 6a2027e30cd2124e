"""`workbench test`, `compare` and `report merge`: run suites, compare versions, write CI reports.

The evaluation engine, the HTTP client, asyncio and rich are imported inside the commands
only, and rich only once there is something to print: nothing that the first request does
not need stands before it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli.common import EXIT_FINDINGS, EXIT_OK, app, console, emit_json, fail, prompt_name, state
from workbench.cli.report_files import check_report_paths, write_reports
from workbench.core import run_limits
from workbench.core.safe_text import clean

report_app = typer.Typer(help="Work with JSON reports (e.g. join CI shards).", no_args_is_help=True)
app.add_typer(report_app, name="report")

ProviderOpt = Annotated[str | None, typer.Option("--provider", help="openai | local | echo | python:module:function (overrides the prompt and workbench.yaml).")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="Model name (overrides).")]
BaseUrlOpt = Annotated[str | None, typer.Option("--base-url", help="OpenAI-compatible endpoint (overrides).")]
ConcurrencyOpt = Annotated[int | None, typer.Option("--concurrency", "-j", help=f"Requests in flight at once, 1 to {run_limits.MAX_CONCURRENCY}.")]
RepeatOpt = Annotated[int, typer.Option("--repeat", help=f"Sample each case K times, 1 to {run_limits.MAX_REPEAT} (pass rate per case, pass^k).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Call the model even when a cached answer exists.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON report on stdout.")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here.")]
MarkdownOpt = Annotated[Path | None, typer.Option("--markdown", help="Write a Markdown summary here (a PR comment).")]
JsonFileOpt = Annotated[Path | None, typer.Option("--json-file", help="Write the JSON report here.")]
StreamOpt = Annotated[bool, typer.Option("--stream", help="Use streamed responses (openai provider).")]


def _parse_shard(shard: str | None) -> tuple[int, int] | None:
    if shard is None:
        return None
    try:
        index, count = (int(x) for x in shard.split("/", 1))
    except ValueError:
        fail(f"--shard {shard!r} should look like I/N, e.g. 2/4")
    if not 1 <= index <= count:
        fail(f"--shard {shard}: I must be between 1 and N")
    return index, count


def _run(factory: Callable[[Any], Coroutine[Any, Any, Any]], total_hint: str) -> Any:
    """Run a coroutine with a progress bar on stderr; Ctrl-C cancels and keeps partial results."""
    import asyncio
    from contextlib import nullcontext

    from workbench.evals.runner import CaseFinished, RunStarted

    tasks: dict[int, Any] = {}
    progress: Any = None
    if sys.stderr.isatty():  # no bar, and rich not even imported before the run, when stderr is a pipe or a file
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        if console.is_terminal:
            progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console, transient=True)

    def on_event(event: Any) -> None:
        if progress is None:
            return
        if isinstance(event, RunStarted):
            tasks[event.arm] = progress.add_task(event.label, total=event.total)
        elif isinstance(event, CaseFinished) and event.arm in tasks:
            progress.advance(tasks[event.arm])

    with progress if progress is not None else nullcontext():
        try:
            return asyncio.run(factory(on_event))
        except KeyboardInterrupt:
            hint = f" ({total_hint})" if total_hint else ""
            sys.stderr.write(f"cancelled: results so far are stored in .workbench/{hint}\n")
            raise typer.Exit(130) from None


def _settings(provider: str | None, model: str | None, base_url: str | None, concurrency: int | None, repeat: int, no_cache: bool, rerun_failed: bool = False, shard: str | None = None, stream: bool = False) -> Any:
    from workbench.services.evals import EvalSettings

    return EvalSettings(
        provider=provider, model=model, base_url=base_url, concurrency=concurrency, repeat=repeat,
        use_cache=not no_cache, rerun_failed=rerun_failed, shard=_parse_shard(shard), stream=stream,
    )


def _write_reports(report: Any, as_json: bool, json_file: Path | None, junit: Path | None, markdown_file: Path | None) -> None:
    """Each report file, then `--json`; a file that could not be written is an error after them
    (`report_files.write_reports`)."""
    from workbench.evals.reports import markdown, write_json, write_junit

    failed = write_reports(
        [
            (json_file, lambda path: write_json(report, path)),
            (junit, lambda path: write_junit(report, path)),
            (markdown_file, lambda path: path.write_text(markdown(report), encoding="utf-8")),
        ]
    )
    if as_json:
        from workbench.evals.secrets import scrub_data

        emit_json(scrub_data(report.to_dict()))
    if failed is not None:
        raise failed


def _print_suite(outcome: Any, show_outputs: bool) -> None:
    from rich.text import Text

    from workbench.core.tool_calls import describe_tool_calls
    from workbench.evals.run_model import case_names

    out = console()
    summary = outcome.summary
    low, high = summary.interval
    head = Text(clean(f"{outcome.prompt} @ {outcome.revision} · {outcome.provider_label}: "), style="bold")
    head.append(f"{summary.short}", style="green" if summary.symbol == "✓" else "red")
    head.append(f"  pass rate {summary.pass_rate:.0%} (95% CI {low:.0%}–{high:.0%})")
    if summary.errors:
        head.append(f", {summary.errors} errored", style="yellow")
    lines = [head]  # one print for the whole suite: rich's per-call cost adds up over hundreds of cases
    cases = [(r.description, r.occurrence, r.repeat) for r in outcome.results]
    for result, name in zip(outcome.results, case_names(cases), strict=True):
        mark = {"pass": "✓", "fail": "✗", "error": "!"}[result.status]
        line = Text(f"  {mark} {clean(name)}")
        if result.error:
            line.append(f"  {clean(result.error)}", style="yellow")
        for failed in (a for a in result.asserts if not a.passed):
            line.append(f"\n      {clean(failed.type)}: {clean(failed.reason)}", style="red")
        for call in describe_tool_calls(result.output).splitlines():
            line.append(f"\n      called {clean(call)}", style="cyan")
        if show_outputs and result.output:
            line.append("\n      output: " + clean(result.output).replace("\n", "\n              "), style="dim")
        lines.append(line)
    out.print(Text("\n").join(lines))
    if any(r.repeat for r in outcome.results):
        from workbench.evals.runner import repeat_stats

        rows = repeat_stats(outcome.results)
        for row, name in zip(rows, case_names([(row["case_id"], row.get("occurrence", 0), 0) for row in rows], cases), strict=True):
            out.print(Text(f"  {clean(name)}: {row['passes']}/{row['trials']} samples passed (pass^{row['trials']} = {row['pass_hat_k']:.0f})"))
    from workbench.evals.secrets import scrub

    for warning in outcome.warnings:
        out.print(Text(f"warning: {clean(scrub(warning))}", style="yellow"))


@app.command("test")
def test_command(
    names: Annotated[list[str] | None, typer.Argument(help="Prompt names (or --all).", parser=prompt_name)] = None,
    all_prompts: Annotated[bool, typer.Option("--all", help="Every prompt of the repository.")] = False,
    rev: Annotated[str | None, typer.Option("--rev", help="Revision to test (commit, branch, name@vN, env); default: the working copy.")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    concurrency: ConcurrencyOpt = None,
    repeat: RepeatOpt = 1,
    no_cache: NoCacheOpt = False,
    rerun_failed: Annotated[bool, typer.Option("--rerun-failed", help="Only the cases that failed or errored last time.")] = False,
    shard: Annotated[str | None, typer.Option("--shard", help="Run slice I of N (e.g. 2/4) for a CI matrix.")] = None,
    stream: StreamOpt = False,
    show_outputs: Annotated[bool, typer.Option("--show-outputs", help="Print each model output.")] = False,
    as_json: JsonOpt = False,
    json_file: JsonFileOpt = None,
    junit: JunitOpt = None,
    markdown_file: MarkdownOpt = None,
) -> None:
    """Run the test suites of prompts; exit 1 when a case fails or errors."""
    from workbench.evals.reports import Report
    from workbench.services.evals import run_suites
    from workbench.services.prompt_files import list_prompts
    from workbench.services.session import RepoSession

    if not names and not all_prompts:
        fail("name prompts to test, or pass --all")
    from workbench.core.names import check_prompt_name

    for name in names or []:
        check_prompt_name(name)
    check_report_paths(json_file, junit, markdown_file)  # before any model call
    settings = _settings(provider, model, base_url, concurrency, repeat, no_cache, rerun_failed, shard, stream)
    with RepoSession.open(state.repo_root()) as ws:
        targets = [ref.name for ref in list_prompts(ws, rev if rev not in ws.environments else None)] if all_prompts else list(names or [])

        async def run_all(on_event: Any) -> list[Any]:
            # Every suite at once, within one budget of -j requests in flight.
            return await run_suites(ws, [(name, rev) for name in targets], settings, on_event)

        outcomes = _run(run_all, "rerun with --rerun-failed")
    report = Report([o.report() for o in outcomes], shard=shard)
    if not as_json:
        for outcome in outcomes:
            _print_suite(outcome, show_outputs)
    _write_reports(report, as_json, json_file, junit, markdown_file)
    raise typer.Exit(EXIT_FINDINGS if report.failed else EXIT_OK)


@app.command("compare")
def compare_command(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    a: Annotated[str | None, typer.Argument(help="Version A (default: HEAD).")] = None,
    b: Annotated[str | None, typer.Argument(help="Version B (default: the working copy).")] = None,
    base: Annotated[str | None, typer.Option("--base", help="Compare the working copy with the merge-base of HEAD and this branch (a PR check).")] = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    concurrency: ConcurrencyOpt = None,
    repeat: RepeatOpt = 1,
    no_cache: NoCacheOpt = False,
    stream: StreamOpt = False,
    show_outputs: Annotated[bool, typer.Option("--show-outputs", help="Print A and B outputs side by side per case.")] = False,
    as_json: JsonOpt = False,
    json_file: JsonFileOpt = None,
    junit: JunitOpt = None,
    markdown_file: MarkdownOpt = None,
) -> None:
    """Run two versions on the same cases; per case fixed/regressed; significance; exit 1 on a regression."""
    from workbench.core.names import check_prompt_name
    from workbench.evals.reports import Report
    from workbench.services.evals import compare_versions, merge_base_with
    from workbench.services.revisions import names_working_copy
    from workbench.services.session import RepoSession

    check_prompt_name(name)
    check_report_paths(json_file, junit, markdown_file)  # before any model call
    settings = _settings(provider, model, base_url, concurrency, repeat, no_cache, stream=stream)
    with RepoSession.open(state.repo_root()) as ws:
        if base is not None:
            rev_a: str | None = merge_base_with(ws, base)
            rev_b: str | None = None
        else:
            rev_a = a or "HEAD"
            rev_b = None if names_working_copy(ws, b) else b

        async def run_both(on_event: Any) -> Any:
            return await compare_versions(ws, name, rev_a, rev_b, settings, on_event)

        comparison, outcome_a, outcome_b = _run(run_both, "")
    report = Report([outcome_a.report(), outcome_b.report()], [comparison.to_dict()])
    if not as_json:
        _print_comparison(comparison, show_outputs)
    _write_reports(report, as_json, json_file, junit, markdown_file)
    raise typer.Exit(EXIT_FINDINGS if comparison.failed else EXIT_OK)


def _print_comparison(comparison: Any, show_outputs: bool) -> None:
    from rich.table import Table
    from rich.text import Text

    from workbench.evals.run_model import case_names

    out = console()
    table = Table(title=Text(clean(f"{comparison.prompt}: A = {comparison.label_a}, B = {comparison.label_b}")), box=None)
    for column in ("case", "A", "B", "change"):
        table.add_column(column)
    marks = {"pass": "✓", "fail": "✗", "error": "!"}
    names = case_names([(p.description, p.occurrence, p.repeat) for p in comparison.pairs])
    for pair, name in zip(comparison.pairs, names, strict=True):
        change = Text(pair.change, style="red" if pair.change == "regressed" else "green" if pair.change == "fixed" else "")
        table.add_row(
            Text(clean(name)),
            Text(marks[pair.a.status] if pair.a else "-"),
            Text(marks[pair.b.status] if pair.b else "-"),
            change,
        )
        if show_outputs:
            table.add_row(Text(""), Text(clean(pair.a.output if pair.a else "")[:300], style="dim"), Text(clean(pair.b.output if pair.b else "")[:300], style="dim"), Text(""))
    out.print(table)
    for label, summary in (("A", comparison.summary_a), ("B", comparison.summary_b)):
        low, high = summary.interval
        p50 = f"{summary.latency_p50:.0f}" if summary.latency_p50 is not None else "-"
        p95 = f"{summary.latency_p95:.0f}" if summary.latency_p95 is not None else "-"
        cost = f"${summary.cost:.4f}" if summary.cost is not None else "-"
        out.print(Text(f"{label}: {summary.passed}/{summary.total} pass ({summary.pass_rate:.0%}, 95% CI {low:.0%}–{high:.0%}), latency p50 {p50} ms p95 {p95} ms, {summary.tokens} tokens, cost {cost}"))
    out.print(Text(clean(comparison.verdict), style="bold"))


@report_app.command("merge")
def report_merge_command(
    files: Annotated[list[Path], typer.Argument(help="JSON reports (e.g. one per CI shard).")],
    as_json: JsonOpt = False,
    json_file: JsonFileOpt = None,
    junit: JunitOpt = None,
    markdown_file: MarkdownOpt = None,
) -> None:
    """Join JSON reports into one; exit 1 when the merged report has failures."""
    import json

    from workbench.evals.reports import merge_reports, read_json

    check_report_paths(json_file, junit, markdown_file)
    reports = []
    for path in files:
        try:
            reports.append(read_json(path))
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as err:
            reason = err.strerror if isinstance(err, OSError) and err.strerror else err
            fail(f"{path}: not a readable workbench report ({reason})", hint="give JSON reports written by `workbench test --json-file` (or `compare`)")
    merged = merge_reports(reports)
    _write_reports(merged, as_json or not (json_file or junit or markdown_file), json_file, junit, markdown_file)
    if not as_json and (json_file or junit or markdown_file):
        print(f"merged {len(files)} reports: {sum(len(s.results) for s in merged.suites)} case results", file=sys.stderr)
    raise typer.Exit(EXIT_FINDINGS if merged.failed else EXIT_OK)
