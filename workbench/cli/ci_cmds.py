"""`workbench ci check` and `ci promote`: the pull-request job and the after-merge job.

The use case lives in `services/ci.py`; this module parses, runs it with the progress bar of
`workbench test`, writes the reports and prints one line per changed prompt.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from workbench.cli.common import EXIT_FINDINGS, EXIT_USAGE, app, console, state
from workbench.cli.eval_cmds import (
    BaseUrlOpt,
    ConcurrencyOpt,
    ModelOpt,
    NoCacheOpt,
    ProviderOpt,
    RepeatOpt,
    _run,
    _settings,
)
from workbench.cli.report_files import check_report_paths, write_reports
from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError

ci_app = typer.Typer(help="The CI jobs: check a pull request, promote after a merge.", no_args_is_help=True)
app.add_typer(ci_app, name="ci")

BaseOpt = Annotated[str | None, typer.Option("--base", help="Compare with the merge-base of HEAD and this revision (default: main_branch, else origin/<main_branch>).")]
MarkdownOpt = Annotated[Path | None, typer.Option("--markdown", help="Write the pull-request comment (Markdown) here.")]
JunitOpt = Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML here (one testcase per case of each changed prompt).")]
JsonFileOpt = Annotated[Path | None, typer.Option("--json", help="Write the JSON report here.")]
MaxCallsOpt = Annotated[int | None, typer.Option("--max-calls", min=0, help="Refuse to start when the run would make more model calls than this.")]
MaxCostOpt = Annotated[float | None, typer.Option("--max-cost", min=0.0, help="Refuse to start when the estimated cost (USD) is higher, or cannot be estimated.")]
FailOnRegressionOpt = Annotated[
    bool, typer.Option("--fail-on-regression/--no-fail-on-regression", help="Exit 1 when a case regresses (invalid files always fail).")
]


def _check(
    base: str | None, settings: Any, max_calls: int | None, max_cost: float | None, fail_on_regression: bool, markdown: Path | None, junit: Path | None, json_file: Path | None, *, promote: tuple[str | None, str | None] | None = None
) -> None:
    from workbench.services import ci
    from workbench.services.prompts import find_root
    from workbench.services.session import RepoSession

    check_report_paths(markdown, junit, json_file)  # before any model call or promotion
    root = find_root(state.repo_root())
    validation = ci.validate(root)  # before Git: a broken workbench.yaml stops here with its problems
    promotions: list[Any] = []
    if validation.config_broken:
        check = ci.unchecked(validation, base, fail_on_regression=fail_on_regression)
    else:
        with RepoSession.open(root) as session:
            check = ci.plan_check(session, validation, base, settings, fail_on_regression=fail_on_regression)
            refusal = ci.budget_problem(check, max_calls, max_cost)
            if refusal is not None:
                check.refused = refusal
            elif any(p.status in ci.RUNS for p in check.prompts):

                async def run(on_event: Any) -> Any:
                    return await ci.run_check(session, check, settings, on_event)

                check = _run(run, "")
            else:
                check.ran = True
            if promote is not None and check.exit_code == 0:
                promotions = ci.promote_changed(session, check, *promote)
    data = check.to_dict()
    if promotions:
        data["ci"]["promotions"] = [p.to_dict() for p in promotions]
    failed = _write(data, markdown, junit, json_file)
    _print(data, check.refused)
    if failed is not None:
        raise failed  # exit 2: a report the job needs is missing, whatever the verdict
    code = check.exit_code
    if any(p.status == "blocked" for p in promotions):
        code = EXIT_FINDINGS
    raise typer.Exit(EXIT_USAGE if check.refused else code)


def _write(data: dict[str, Any], markdown: Path | None, junit: Path | None, json_file: Path | None) -> WorkbenchError | None:
    """Each report; the error naming those that could not be written (`write_reports`)."""
    from workbench.core.json_document import json_document
    from workbench.evals.ci_summary import ci_markdown, write_ci_junit
    from workbench.evals.secrets import scrub_data

    return write_reports(
        [
            (markdown, lambda path: path.write_text(ci_markdown(data), encoding="utf-8")),
            (junit, lambda path: write_ci_junit(data, path)),
            (json_file, lambda path: path.write_text(json_document(scrub_data(data)), encoding="utf-8")),
        ]
    )


def _print(data: dict[str, Any], refused: str | None) -> None:
    from rich.text import Text

    from workbench.evals.secrets import scrub

    ci = data["ci"]
    out = console()
    for problem in ci["problems"]:
        where = f"{problem['path']}:{problem['line']}:{problem['col']}"
        out.print(Text(clean(scrub(f"{where}: {problem['severity']}: {problem['message']}"))))
    for prompt in ci["prompts"]:
        mark = "✗" if prompt["failing"] else "!" if prompt["regressed"] else "✓"
        rates = ""
        if prompt["head"]:
            base = f"{prompt['base']['passed']}/{prompt['base']['total']}" if prompt["base"] else "–"
            rates = f" {base} → {prompt['head']['passed']}/{prompt['head']['total']}"
        calls = prompt["calls"] if ci["ran"] else f"~{prompt['estimate']['calls']}"
        out.print(Text(clean(scrub(f"{mark} {prompt['name']}{rates}: {prompt['verdict']} ({calls} calls)"))))
    for promotion in ci.get("promotions", []):
        out.print(Text(clean(scrub(f"{promotion['status']}: {promotion['prompt']}: {promotion['detail']}"))))
    head = ci["headline"]
    if refused:
        sys.stderr.write(f"workbench: {clean(scrub(refused))}\n  hint: raise --max-calls / --max-cost, or narrow the change\n")
    else:
        out.print(Text(clean(scrub(head)), style="bold"))


@ci_app.command("check")
def check_command(
    base: BaseOpt = None,
    markdown: MarkdownOpt = None,
    junit: JunitOpt = None,
    json_file: JsonFileOpt = None,
    max_calls: MaxCallsOpt = None,
    max_cost: MaxCostOpt = None,
    fail_on_regression: FailOnRegressionOpt = True,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    concurrency: ConcurrencyOpt = None,
    repeat: RepeatOpt = 1,
    no_cache: NoCacheOpt = False,
) -> None:
    """The pull-request job: validate every prompt, run the suites of the changed prompts on
    base and head, compare, write the reports.

    Exit 0: passed, or no prompt changed; 1: an invalid file, a regression or a changed prompt
    that could not run; 2: refused by --max-calls / --max-cost (nothing sent), a report that
    cannot be written, or a usage error.
    """
    settings = _settings(provider, model, base_url, concurrency, repeat, no_cache)
    _check(base, settings, max_calls, max_cost, fail_on_regression, markdown, junit, json_file)


@ci_app.command("promote")
def promote_command(
    base: Annotated[str, typer.Option("--base", help="The previous commit (e.g. HEAD~1, or the push's `before`).")] = "HEAD~1",
    env: Annotated[str | None, typer.Option("--env", "-e", help="Environment (default: the first of workbench.yaml).")] = None,
    reason: Annotated[str | None, typer.Option("--message", "-m", help='Recorded in each event (default: "CI: <HEAD\'s subject>").')] = None,
    markdown: MarkdownOpt = None,
    junit: JunitOpt = None,
    json_file: JsonFileOpt = None,
    max_calls: MaxCallsOpt = None,
    max_cost: MaxCostOpt = None,
    provider: ProviderOpt = None,
    model: ModelOpt = None,
    base_url: BaseUrlOpt = None,
    concurrency: ConcurrencyOpt = None,
    no_cache: NoCacheOpt = False,
) -> None:
    """The after-merge job: `ci check` against the previous commit; when it passes, promote every
    changed prompt to the first environment (its policy applies; nothing is overridden).

    Exit 0: passed and promoted (or nothing changed); 1: the check failed (nothing promoted) or
    a promotion was blocked by the environment's policy; 2: refused by the budget, or a report
    that cannot be written.
    """
    settings = _settings(provider, model, base_url, concurrency, 1, no_cache)
    _check(base, settings, max_calls, max_cost, True, markdown, junit, json_file, promote=(env, reason))
