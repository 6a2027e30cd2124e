"""Reading history: diff, log, history (deployment events), status and review.

Every command opens one `RepoSession` and closes it; Git is imported only inside the command
bodies (through the services) so `workbench --version` stays fast. Untrusted text (commit
messages, file contents, names) is printed as `rich.text.Text` through `clean()`, and piped
output is never wrapped.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.cli.common import app, console, emit_data, emit_json, open_session, prompt_name
from workbench.core.safe_text import clean, inline

if TYPE_CHECKING:
    from rich.text import Text

    from workbench.core.diff import PromptDiff
    from workbench.core.versions import DeploymentEvent


def _age(when: str | None) -> str:
    if not when:
        return ""
    try:
        moment = datetime.fromisoformat(when.replace("Z", "+00:00"))
    except ValueError:
        return ""
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"

# --------------------------------------------------------------------------- diff


def _layout_width(out: Any) -> int:
    """Columns for side-by-side layouts: the terminal's, else $COLUMNS or 160 when piped."""
    if out.is_terminal:
        return int(out.width)
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() else 160


def render_side_by_side(diff: PromptDiff, width: int, context: int = 3) -> list[Any]:
    """Rich `Text` lines: section headers, then `no - left │ no + right` rows."""
    from rich.text import Text

    from workbench.core.diff import FoldedLines, LineKind

    lines: list[Any] = []
    head = Text()
    head.append(f"{clean(diff.name)}: ", style="bold")
    head.append(f"{clean(diff.left_label)} → {clean(diff.right_label)}")
    lines.append(head)
    for note in diff.notes:
        lines.append(Text(f"note: {clean(note)}", style="yellow"))
    if not diff.changed:
        lines.append(Text("no differences"))
        return lines
    column = max(10, (width - 2 * 7 - 3) // 2)
    for section in diff.sections:
        if section.status == "unchanged":
            continue
        lines.append(Text(f"── {clean(section.title)} ({section.status}) ──", style="bold cyan"))
        for row in section.diff.folded(context):
            if isinstance(row, FoldedLines):
                lines.append(Text(f"{'':>5}   ⋯ {row.count} unchanged lines ⋯", style="dim"))
                continue
            text = Text()
            left_sign = {LineKind.DELETE: "-", LineKind.REPLACE: "-"}.get(row.kind, " ")
            right_sign = {LineKind.INSERT: "+", LineKind.REPLACE: "+"}.get(row.kind, " ")
            _cell(text, row.left_no, left_sign, row.left, row.left_spans, column, "red")
            text.append(" │ ", style="dim")
            _cell(text, row.right_no, right_sign, row.right, row.right_spans, column, "green")
            lines.append(text)
    return lines


def _cell(
    text: Any, number: int | None, sign: str, line: str | None, spans: tuple[tuple[int, int], ...], width: int, colour: str
) -> None:
    text.append(f"{number:>5} " if number is not None else "      ", style="dim")
    changed = sign != " "
    text.append(sign + " ", style=colour if changed else "")
    body = clean(line or "").replace("\t", "    ")
    shown = body if len(body) <= width else body[: width - 1] + "…"
    start = len(text)
    text.append(shown.ljust(width), style=colour if changed else "")
    for a, b in spans:
        if a < len(shown):
            text.stylize(f"bold reverse {colour}", start + a, start + min(b, len(shown)))


@app.command("diff")
def diff_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name, e.g. support/summarize.", parser=prompt_name)],
    a: Annotated[str | None, typer.Argument(help="Left revision (default HEAD; with one revision: it vs the working copy).")] = None,
    b: Annotated[str | None, typer.Argument(help="Right revision (default: the working copy).")] = None,
    unified: Annotated[bool, typer.Option("--unified", "-u", help="Plain unified diff.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable diff model.")] = False,
    context: Annotated[int, typer.Option("--context", min=0, help="Unchanged lines shown around changes.")] = 3,
) -> None:
    """Show what changed in a prompt between two versions (field by field, side by side)."""
    from workbench.services.diffing import diff as diff_versions

    with open_session() as session:
        diff = diff_versions(session, name, a if a is not None else "HEAD", b)
    if json_out:
        emit_json(diff.to_dict())
        return
    out = console()
    if unified:
        if out.is_terminal:
            from rich.text import Text

            out.print(Text(clean(diff.unified), tab_size=8), end="")
        else:  # a patch for `git apply` / `patch -p1`: byte for byte, UTF-8 under any locale
            emit_data(diff.unified)
        return
    for line in render_side_by_side(diff, _layout_width(out), context):
        out.print(line, overflow="crop", no_wrap=True)

# --------------------------------------------------------------------------- log


@app.command("log")
def log_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="Entries per page.")] = 20,
    offset: Annotated[int, typer.Option("--skip", min=0, help="Skip this many entries (paging).")] = 0,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """History of one prompt: commits (renames followed), releases, deployments and test results
    (`✓ 6/6`; `✓ 6/6 local`: a run of the same content not recorded on the commit)."""
    from workbench.services.history import cut_short, history
    from workbench.services.test_results import history_marks

    with open_session() as session:
        entries = history(session, name, limit=limit, offset=offset)
        marks = history_marks(session, name, [entry.commit.sha for entry in entries])
        cut = cut_short(session, entries)
    from rich.text import Text

    if json_out:
        emit_json([{**e.to_dict(), "tests": mark.to_dict() if (mark := marks.get(e.commit.sha)) else None} for e in entries])
        if cut is not None:
            console(stderr=True).print(Text(f"workbench: {cut}"))
        return

    out = console()
    if not entries:
        out.print(Text(f"no history for {clean(name)}"))
        return
    for entry in entries:
        info = entry.commit
        line = Text()
        line.append(info.sha[:10], style="yellow")
        line.append(f" {datetime.fromtimestamp(info.author_time, UTC):%Y-%m-%d %H:%M} ", style="dim")
        line.append(clean(info.author_name), style="cyan")
        line.append(f" [{entry.change}] " if entry.change != "M" else " ")
        line.append(clean(info.subject))
        mark = marks.get(info.sha)
        if mark is not None:
            line.append(f"  {clean(mark.label)}", style=("green" if mark.summary.startswith("✓") else "red") + ("" if mark.recorded else " dim"))
        for release in entry.releases:
            line.append(f"  ◆ {clean(release.label)}", style="bold magenta")
        for event in entry.deployments:
            line.append(f"  ▲ {clean(event.env)} ({event.action})", style="bold green")
        if entry.old_path:
            line.append(f"  (renamed from {clean(entry.old_path)})", style="dim")
        out.print(line, overflow="fold")
    if cut is not None:
        out.print(Text(f"⚠ {cut}", style="yellow"), overflow="fold")

@app.command("status")
def status_cmd(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What every environment runs, per prompt: version, commit, age, who, lag."""
    from workbench.services.env_status import serving
    from workbench.services.env_status import status as env_status

    with open_session() as session:
        status = env_status(session)
    if json_out:
        emit_json(status.to_dict())
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_lines=False)
    table.add_column("prompt", no_wrap=True)
    for env in status.environments:
        table.add_column(env)
    problems: list[DeploymentEvent] = []
    for row in status.rows:
        cells: list[Any] = [Text(clean(row.name))]
        for index, cell in enumerate(row.cells):
            event = cell.event
            if event is None:
                cells.append(Text("—", style="dim"))
                if cell.skipped is not None:  # only a malformed tag: nothing runs, its problem is said
                    cells[-1].append(" ⚠ malformed event", style="yellow")
                    problems.append(cell.skipped)
                continue
            text = Text()
            text.append(inline(serving(event, short=True)), style="bold magenta" if event.canary else "bold")
            text.append(f" {event.commit[:7]} {_age(event.when)} {inline(event.who.split(' <')[0])}", style="dim")
            if cell.lag:
                text.append(f" ⚠ {cell.lag} behind {status.environments[index - 1]}", style="yellow")
            elif cell.differs:
                text.append(f" ≠ {status.environments[index - 1]}", style="yellow")
            if cell.orphaned:
                text.append(" ✗ on no branch", style="red")
            elif cell.orphaned is None:
                text.append(" ? branch unknown (shallow clone)", style="yellow")
            if event.problem:
                text.append(" ⚠ malformed event", style="yellow")
                problems.append(event)
            cells.append(text)
        table.add_row(*cells)
    console().print(table)
    for event in problems:
        console().print(_event_problem(event.tag, event.problem), overflow="fold")


def _event_problem(tag: str, problem: str) -> Text:
    """One line naming a malformed deployment tag and what of its message was left out."""
    from rich.text import Text

    return Text(f"  ⚠ {inline(tag)}: {inline(problem)}", style="yellow")


@app.command("history")
def history_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deployment events of a prompt, newest first."""
    from workbench.services.deployment_events import deployments
    from workbench.services.history import require_known

    with open_session() as session:
        events = deployments(session, name, env)
        if not events:
            require_known(session, name, env)
    if json_out:
        emit_json([e.to_dict() for e in events])
        return
    from rich.text import Text

    out = console()
    if not events:
        out.print(Text(f"no deployments of {clean(name)}" + (f" in {clean(env)}" if env else "")))
    for event in events:
        line = Text()
        line.append(f"{inline(event.when)} ", style="dim")
        line.append(f"{inline(event.env)} ", style="bold")
        line.append(f"{event.action} → {inline(event.version or event.commit[:10])}")
        if event.override:
            line.append(" OVERRIDE of the policy", style="bold")
        if event.canary:
            line.append(f" (canary {event.canary.percent:g}% → {inline(event.canary.version or '')})")
        line.append(f"  by {inline(event.who)}", style="cyan")
        if event.reason:
            line.append(f"  “{inline(event.reason)}”")
        if event.tests:
            line.append(f"  tests {inline(event.tests)}", style="dim")
        out.print(line, overflow="fold")
        if event.problem:
            out.print(_event_problem(event.tag, event.problem), overflow="fold")


@app.command("review")
def review_cmd(
    branch: Annotated[str | None, typer.Argument(help="Branch to review (default: the current one).")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The prompts a branch changed since it left the main branch, with diffs and commits."""
    from workbench.services.diffing import review as review_branch

    with open_session() as session:
        review = review_branch(session, branch)
    if json_out:
        emit_json(review.to_dict())
        return
    from rich.text import Text

    out = console()
    out.print(
        Text(f"{clean(review.branch)} vs {clean(review.base)} (merge-base {review.merge_base[:10]}): {len(review.items)} prompt(s) changed")
    )
    for item in review.items:
        title = Text(f"\n{item.change}: {clean(item.name)}", style="bold")
        if item.old_name:
            title.append(f" (from {clean(item.old_name)})")
        out.print(title)
        for commit in item.commits:
            out.print(Text(f"  {commit.sha[:10]} {clean(commit.author_name)}: {clean(commit.subject)}", style="dim"))
        for line in render_side_by_side(item.diff, _layout_width(out))[1:]:
            out.print(line, overflow="crop", no_wrap=True)


@app.command("timeline")
def timeline_cmd(
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment's deployments.")] = None,
    prompt: Annotated[str | None, typer.Option("--prompt", "-p", help="Only this prompt.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Only newer events, e.g. 24h, 7d, 2w.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="At most this many events.")] = 200,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Every release, promotion, split, finish and rollback across all prompts, and the merges to
    the main branch that changed prompts, newest first."""
    from rich.text import Text

    from workbench.services.timeline import timeline

    with open_session() as session:
        try:
            found = timeline(session, env=env, prompt=prompt, since=since, limit=limit)
        except ValueError as err:
            raise typer.BadParameter(str(err), param_hint="--since") from None
    if json_out:
        emit_json([e.to_dict() for e in found])
        return
    out = console()
    if not found:
        out.print(Text("no events" + (f" in {clean(env)}" if env else "") + (f" since {clean(since)}" if since else "")))
    for event in found:
        line = Text()
        line.append(f"{inline(event.when[:16].replace('T', ' '))} ", style="dim")
        line.append(f"{inline(event.env or ''):<8} ", style="bold")
        line.append(f"{event.kind:<8} ", style="bold red" if event.kind == "rollback" else "bold")
        line.append(inline(", ".join(event.prompts)))
        if event.version:
            was = f"{inline(event.previous_version.rsplit('@', 1)[-1])} → " if event.previous_version else ""
            line.append(f"  {was}{inline(event.version.rsplit('@', 1)[-1])}")
        if event.canary:
            line.append(f" (canary {inline(event.canary)})")
        line.append(f"  {inline(event.who.split(' <')[0])}", style="cyan")
        if event.why:
            line.append(f"  “{inline(event.why)}”")
        if event.tests:
            line.append(f"  tests {inline(event.tests)}", style="dim")
        out.print(line)
        if event.problem:
            out.print(_event_problem(event.tag, event.problem), overflow="fold")
