"""Version commands: diff, log, branch, switch, commit, merge, tag, promote, rollback, status,
history, review, push, fetch, export.

Every command opens one `Workspace` (one Git session) and closes it. Git is imported only
inside the command bodies (through the workspace service) so `workbench --version` stays fast.
Untrusted text (commit messages, file contents, names) is printed as `rich.text.Text`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from workbench.cli.common import EXIT_FINDINGS, app, emit_json, state
from workbench.core.safe_text import clean

if TYPE_CHECKING:
    from rich.console import Console

    from workbench.core.diff import PromptDiff
    from workbench.services.workspace import Workspace

@contextmanager
def _workspace() -> Iterator[Workspace]:
    from workbench.services.workspace import Workspace

    ws = Workspace.open(state.repo_root())
    try:
        yield ws
    finally:
        ws.close()


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, markup=False, emoji=False, soft_wrap=False)


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
    name: Annotated[str, typer.Argument(help="Prompt name, e.g. support/summarize.")],
    a: Annotated[str | None, typer.Argument(help="Left revision (default HEAD; with one revision: it vs the working copy).")] = None,
    b: Annotated[str | None, typer.Argument(help="Right revision (default: the working copy).")] = None,
    unified: Annotated[bool, typer.Option("--unified", "-u", help="Plain unified diff.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable diff model.")] = False,
    context: Annotated[int, typer.Option("--context", help="Unchanged lines shown around changes.")] = 3,
) -> None:
    """Show what changed in a prompt between two versions (field by field, side by side)."""
    with _workspace() as ws:
        diff = ws.diff(name, a if a is not None else "HEAD", b)
    if json_out:
        emit_json(diff.to_dict())
        return
    console = _console()
    if unified:
        from rich.text import Text

        console.print(Text(clean(diff.unified)), end="")
        return
    for line in render_side_by_side(diff, console.width, context):
        console.print(line, overflow="crop", no_wrap=True)


# --------------------------------------------------------------------------- log


@app.command("log")
def log_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="Entries per page.")] = 20,
    offset: Annotated[int, typer.Option("--skip", help="Skip this many entries (paging).")] = 0,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """History of one prompt: commits (renames followed), releases and deployments."""
    with _workspace() as ws:
        entries = ws.history(name, limit=limit, offset=offset)
    if json_out:
        emit_json([e.to_dict() for e in entries])
        return
    from rich.text import Text

    console = _console()
    if not entries:
        console.print(Text(f"no history for {clean(name)}"))
        return
    for entry in entries:
        info = entry.commit
        line = Text()
        line.append(info.sha[:10], style="yellow")
        line.append(f" {datetime.fromtimestamp(info.author_time, UTC):%Y-%m-%d %H:%M} ", style="dim")
        line.append(clean(info.author_name), style="cyan")
        line.append(f" [{entry.change}] " if entry.change != "M" else " ")
        line.append(clean(info.subject))
        for release in entry.releases:
            line.append(f"  ◆ {clean(release.label)}", style="bold magenta")
        for event in entry.deployments:
            line.append(f"  ▲ {clean(event.env)} ({event.action})", style="bold green")
        if entry.old_path:
            line.append(f"  (renamed from {clean(entry.old_path)})", style="dim")
        console.print(line, overflow="fold")


# --------------------------------------------------------------------------- branches and commits


@app.command("branch")
def branch_cmd(
    name: Annotated[str | None, typer.Argument(help="Create this branch (at --from, default HEAD).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start point of the new branch.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List branches, or create one."""
    with _workspace() as ws:
        if name is not None:
            created = ws.create_branch(name, start)
            if json_out:
                emit_json(created.to_dict())
            else:
                from rich.text import Text

                _console().print(Text(f"created branch {clean(created.name)} at {created.commit[:10]}"))
            return
        branches = ws.branches()
        current = ws.current_branch()
    if json_out:
        emit_json([b.to_dict() for b in branches])
        return
    from rich.text import Text

    console = _console()
    if current is None:
        console.print(Text("HEAD is detached (no branch checked out)", style="yellow"))
    for info in branches:
        line = Text()
        line.append("* " if info.is_current else "  ", style="bold green")
        line.append(clean(info.name), style="bold" if info.is_current else "")
        line.append(f"  {info.commit[:10]}  ", style="yellow")
        if info.upstream:
            track = f"{info.upstream}" + (f" +{info.ahead}" if info.ahead else "") + (f" -{info.behind}" if info.behind else "")
            line.append(f"[{clean(track)}] ", style="dim")
        line.append(clean(info.subject))
        console.print(line)


@app.command("switch")
def switch_cmd(
    name: Annotated[str, typer.Argument(help="Branch to switch to.")],
    stash: Annotated[bool, typer.Option("--stash", help="Set uncommitted changes aside in a stash first.")] = False,
) -> None:
    """Switch branch; refuses when there are uncommitted changes unless --stash."""
    from rich.text import Text

    with _workspace() as ws:
        result = ws.switch_branch(name, stash=stash)
    _console().print(Text(clean(result.message)))


@app.command("commit")
def commit_cmd(
    paths: Annotated[list[str], typer.Argument(help="Prompt names or paths to commit.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Commit the given prompt files (only those) with a message."""
    with _workspace() as ws:
        info = ws.commit(paths, message)
    if json_out:
        emit_json(info.to_dict())
        return
    from rich.text import Text

    _console().print(Text(f"committed {info.sha[:10]}: {clean(info.subject)}"))


@app.command("merge")
def merge_cmd(
    branch: Annotated[str, typer.Argument(help="Branch to merge into the current one.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merge a branch (fast-forward or merge commit); conflicts are listed and left to you."""
    with _workspace() as ws:
        result = ws.merge(branch)
    if json_out:
        emit_json(result.to_dict())
    else:
        from rich.text import Text

        console = _console()
        console.print(Text(clean(result.message)))
        for path in result.conflicts:
            console.print(Text(f"  conflict: {clean(path)}", style="red"))
    if result.status == "conflicts":
        raise typer.Exit(EXIT_FINDINGS)


# --------------------------------------------------------------------------- releases and environments


@app.command("tag")
def tag_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    rev: Annotated[str | None, typer.Option("--rev", help="Revision to release (default HEAD).")] = None,
    note: Annotated[str | None, typer.Option("--message", "-m", help="Release note.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create the next release tag <name>@v<N> (annotated) for a valid version."""
    with _workspace() as ws:
        result = ws.tag_release(name, rev, note)
    if json_out:
        emit_json({"tag": result.tag.tag, "version": result.tag.label, "commit": result.tag.commit, "created": result.created})
        return
    from rich.text import Text

    _console().print(Text(clean(result.message)))


def _print_event(event: Any) -> None:
    from rich.text import Text

    line = Text()
    line.append(f"{event.action}: ", style="bold")
    line.append(f"{clean(event.prompt)} in {clean(event.env)} → {clean(event.version or event.commit[:10])}")
    if event.canary:
        line.append(f" (canary {event.canary.percent:g}% → {clean(event.canary.version or event.canary.commit[:10])})")
    if event.previous_version:
        line.append(f" (was {clean(event.previous_version)})", style="dim")
    line.append(f"\n  tag {clean(event.tag)}", style="dim")
    _console().print(line)


@app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Target environment.")],
    rev: Annotated[str | None, typer.Option("--rev", help="Version to deploy (default HEAD).")] = None,
    reason: Annotated[str, typer.Option("--message", "-m", help="Why (recorded in the event).")] = "",
    from_env: Annotated[str | None, typer.Option("--from", help="Deploy what this environment runs now.")] = None,
    split: Annotated[float | None, typer.Option("--split", help="Canary: send this % of keys to the new version.")] = None,
    finish: Annotated[bool, typer.Option("--finish", help="End a running split: everything to the canary.")] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deploy a version to an environment (a new, append-only deployment event)."""
    with _workspace() as ws:
        if finish:
            event = ws.promote_finish(name, env, reason)
        else:
            event = ws.promote(name, env, rev, reason, from_env, split_percent=split)
    if json_out:
        emit_json(event.to_dict())
    else:
        _print_event(event)


@app.command("rollback")
def rollback_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment to roll back.")],
    reason: Annotated[str, typer.Option("--message", "-m", help="Why (required).")] = "",
    to: Annotated[str | None, typer.Option("--to", help="Version to go back to (default: the previous one).")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Roll an environment back to the previous (or named) version, as a new event."""
    with _workspace() as ws:
        event = ws.rollback(name, env, to, reason)
    if json_out:
        emit_json(event.to_dict())
    else:
        _print_event(event)


@app.command("status")
def status_cmd(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """What every environment runs, per prompt: version, commit, age, who, lag."""
    with _workspace() as ws:
        status = ws.status()
    if json_out:
        emit_json(status.to_dict())
        return
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, show_lines=False)
    table.add_column("prompt", no_wrap=True)
    for env in status.environments:
        table.add_column(env)
    for row in status.rows:
        cells: list[Any] = [Text(clean(row.name))]
        for index, cell in enumerate(row.cells):
            event = cell.event
            if event is None:
                cells.append(Text("—", style="dim"))
                continue
            text = Text()
            version = event.version.rsplit("@", 1)[-1] if event.version else event.commit[:10]
            text.append(clean(version), style="bold")
            text.append(f" {event.commit[:7]} {_age(event.when)} {clean(event.who.split(' <')[0])}", style="dim")
            if event.canary:
                canary = event.canary.version.rsplit("@", 1)[-1] if event.canary.version else event.canary.commit[:7]
                text.append(f" split {event.canary.percent:g}%→{clean(canary)}", style="magenta")
            if cell.lag:
                text.append(f" ⚠ {cell.lag} behind {status.environments[index - 1]}", style="yellow")
            elif cell.differs:
                text.append(f" ≠ {status.environments[index - 1]}", style="yellow")
            if cell.orphaned:
                text.append(" ✗ on no branch", style="red")
            cells.append(text)
        table.add_row(*cells)
    _console().print(table)


@app.command("history")
def history_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deployment events of a prompt, newest first."""
    with _workspace() as ws:
        events = ws.deployments(name, env)
    if json_out:
        emit_json([e.to_dict() for e in events])
        return
    from rich.text import Text

    console = _console()
    if not events:
        console.print(Text(f"no deployments of {clean(name)}" + (f" in {clean(env)}" if env else "")))
    for event in events:
        line = Text()
        line.append(f"{clean(event.when)} ", style="dim")
        line.append(f"{clean(event.env)} ", style="bold")
        line.append(f"{event.action} → {clean(event.version or event.commit[:10])}")
        if event.canary:
            line.append(f" (canary {event.canary.percent:g}% → {clean(event.canary.version or '')})")
        line.append(f"  by {clean(event.who)}", style="cyan")
        if event.reason:
            line.append(f"  “{clean(event.reason)}”")
        if event.tests:
            line.append(f"  tests {clean(event.tests)}", style="dim")
        console.print(line, overflow="fold")


@app.command("review")
def review_cmd(
    branch: Annotated[str | None, typer.Argument(help="Branch to review (default: the current one).")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The prompts a branch changed since it left the main branch, with diffs and commits."""
    with _workspace() as ws:
        review = ws.review(branch)
    if json_out:
        emit_json(review.to_dict())
        return
    from rich.text import Text

    console = _console()
    console.print(
        Text(f"{clean(review.branch)} vs {clean(review.base)} (merge-base {review.merge_base[:10]}): {len(review.items)} prompt(s) changed")
    )
    for item in review.items:
        title = Text(f"\n{item.change}: {clean(item.name)}", style="bold")
        if item.old_name:
            title.append(f" (from {clean(item.old_name)})")
        console.print(title)
        for commit in item.commits:
            console.print(Text(f"  {commit.sha[:10]} {clean(commit.author_name)}: {clean(commit.subject)}", style="dim"))
        for line in render_side_by_side(item.diff, console.width)[1:]:
            console.print(line, overflow="crop", no_wrap=True)


# --------------------------------------------------------------------------- remotes and export


def _print_sync(result: Any, json_out: bool) -> None:
    if json_out:
        emit_json(result.to_dict())
    else:
        from rich.text import Text

        console = _console()
        console.print(Text(clean(result.message)))
        for update in result.updates:
            if update.flag != "=":
                console.print(Text(f"  {update.flag} {clean(update.ref)} {clean(update.summary)}", style="dim"))
        for detail in result.details:
            console.print(Text(f"  {clean(detail)}", style="yellow"))
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("push")
def push_cmd(
    remote: Annotated[str, typer.Option("--remote", help="Remote name.")] = "origin",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Push the current branch, tags (releases, deployments) and notes; never forces."""
    with _workspace() as ws:
        result = ws.push(remote)
    _print_sync(result, json_out)


@app.command("fetch")
def fetch_cmd(
    remote: Annotated[str, typer.Option("--remote", help="Remote name.")] = "origin",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fetch branches, tags and notes from the remote (notes are merged)."""
    with _workspace() as ws:
        result = ws.fetch(remote)
    _print_sync(result, json_out)


@app.command("export")
def export_cmd(
    dest: Annotated[Path, typer.Argument(help="Directory to write into.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment to export.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Write the files an environment runs, plus manifest.json (name, version, commit, sha256)."""
    with _workspace() as ws:
        exported = ws.export(env, dest)
    if json_out:
        emit_json([e.to_dict() for e in exported])
        return
    from rich.text import Text

    _console().print(Text(f"exported {len(exported)} prompt(s) from {clean(env)} to {clean(dest)} (manifest.json)"))
