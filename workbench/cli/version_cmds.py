"""Changing versions: branch, switch, commit, merge, tag, promote, rollback, push, fetch, export.

Every command opens one `RepoSession` (one Git session) and closes it. Git is imported only
inside the command bodies (through the services) so `workbench --version` stays fast.
Untrusted text (commit messages, file contents, names) is printed as `rich.text.Text`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

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
from workbench.core.safe_text import clean

# --------------------------------------------------------------------------- branches and commits


@app.command("branch")
def branch_cmd(
    name: Annotated[str | None, typer.Argument(help="Create this branch (at --from, default HEAD).")] = None,
    start: Annotated[str | None, typer.Option("--from", help="Start point of the new branch.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List branches, or create one."""
    from workbench.services import branches as service

    with open_session() as session:
        if name is not None:
            created = service.create_branch(session, name, start)
            if json_out:
                emit_json(created.to_dict())
            else:
                from rich.text import Text

                console().print(Text(f"created branch {clean(created.name)} at {created.commit[:10]}"))
            return
        branches = service.branches(session)
        current = service.current_branch(session)
    if json_out:
        emit_json([b.to_dict() for b in branches])
        return
    from rich.text import Text

    out = console()
    if current is None:
        out.print(Text("HEAD is detached (no branch checked out)", style="yellow"))
    for info in branches:
        line = Text()
        line.append("* " if info.is_current else "  ", style="bold green")
        line.append(clean(info.name), style="bold" if info.is_current else "")
        line.append(f"  {info.commit[:10]}  ", style="yellow")
        if info.upstream:
            track = f"{info.upstream}" + (f" +{info.ahead}" if info.ahead else "") + (f" -{info.behind}" if info.behind else "")
            line.append(f"[{clean(track)}] ", style="dim")
        line.append(clean(info.subject))
        out.print(line)


@app.command("switch")
def switch_cmd(
    name: Annotated[str, typer.Argument(help="Branch to switch to.")],
    stash: Annotated[bool, typer.Option("--stash", help="Set uncommitted changes aside in a stash first.")] = False,
) -> None:
    """Switch branch; refuses when there are uncommitted changes unless --stash."""
    from rich.text import Text

    from workbench.services.branches import switch_branch

    with open_session() as session, interrupt_after():
        result = switch_branch(session, name, stash=stash)
        console().print(Text(clean(result.message)))


@app.command("commit")
def commit_cmd(
    paths: Annotated[list[str], typer.Argument(help="Prompt names or paths to commit.")],
    message: Annotated[str, typer.Option("--message", "-m", help="Commit message.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Commit the given prompt files (only those) with a message."""
    from rich.text import Text

    from workbench.services.branches import commit

    with open_session() as session, interrupt_after():
        info = commit(session, paths, message)
        if json_out:
            emit_json(info.to_dict())
        else:
            console().print(Text(f"committed {info.sha[:10]}: {clean(info.subject)}"))


@app.command("merge")
def merge_cmd(
    branch: Annotated[str, typer.Argument(help="Branch to merge into the current one.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Merge a branch (fast-forward or merge commit); conflicts are listed and left to you."""
    from rich.text import Text

    from workbench.services.branches import merge

    with open_session() as session, interrupt_after():
        result = merge(session, branch)
        if json_out:
            emit_json(result.to_dict())
        else:
            out = console()
            out.print(Text(clean(result.message)))
            for path in result.conflicts:
                out.print(Text(f"  conflict: {clean(path)}", style="red"))
    if result.status == "conflicts":
        raise typer.Exit(EXIT_FINDINGS)


# --------------------------------------------------------------------------- releases and environments


@app.command("tag")
def tag_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    rev: Annotated[str | None, typer.Option("--rev", help="Revision to release (default HEAD).")] = None,
    note: Annotated[str | None, typer.Option("--message", "-m", help="Release note.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Create the next release tag <name>@v<N> (annotated) for a valid version."""
    from rich.text import Text

    from workbench.services.releases import tag_release

    with open_session() as session, interrupt_after():
        result = tag_release(session, name, rev, note)
        if json_out:
            emit_json({"tag": result.tag.tag, "version": result.tag.label, "commit": result.tag.commit, "created": result.created})
        else:
            console().print(Text(clean(result.message)))


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
    console().print(line)


@app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    env: Annotated[str, typer.Option("--env", "-e", help="Target environment.")],
    rev: Annotated[str | None, typer.Option("--rev", help="Version to deploy (default HEAD).")] = None,
    reason: Annotated[str, typer.Option("--message", "-m", help="Why (required; recorded in the event).")] = "",
    from_env: Annotated[str | None, typer.Option("--from", help="Deploy what this environment runs now.")] = None,
    split: Annotated[float | None, typer.Option("--split", help="Canary: send this % of keys to the new version.")] = None,
    finish: Annotated[bool, typer.Option("--finish", help="End a running split: everything to the canary.")] = False,
    override: Annotated[
        bool, typer.Option("--override", help="Emergency: deploy although the environment's policy forbids it (recorded in the event).")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deploy a version to an environment (a new, append-only deployment event).

    A guarded environment's policy (workbench.yaml) is checked first: a broken rule is named
    with how to satisfy it, nothing is written, exit 1.
    """
    from workbench.services import deployments

    deployments.require_reason("promote", reason)
    with open_session() as session:
        plan = deployments.plan_deploy(session, name, env, rev=rev, from_env=from_env, split_percent=split, finish=finish)
        _execute(session, plan, reason, override, json_out)


def _execute(session: Any, plan: Any, reason: str, override: bool, json_out: bool) -> None:
    """Execute a plan; a policy refusal is printed with each rule and its fix (exit 1)."""
    from workbench.errors import PolicyError
    from workbench.services import deployments

    try:
        with interrupt_after():
            event = deployments.execute(session, plan, reason, override=override)
            _report_event(event, plan, json_out)
    except PolicyError as err:
        if json_out:
            emit_json({"blocked": True, "summary": plan.summary, "checks": [c.to_dict() for c in plan.checks]})
        from rich.text import Text

        err_console = console(stderr=True)
        err_console.print(Text(f"workbench: {clean(err.message)}"))
        if err.hint:
            err_console.print(Text(f"  hint: {clean(err.hint)}"))
        _print_notes(plan, err_console)
        raise typer.Exit(EXIT_FINDINGS) from None


def _report_event(event: Any, plan: Any, json_out: bool) -> None:
    if json_out:
        emit_json({**event.to_dict(), "checks": [c.to_dict() for c in plan.checks]})
        return
    _print_event(event)
    _print_checks(plan.checks, event.override)
    _print_notes(plan, console())


def _print_notes(plan: Any, out: Any) -> None:
    """What the plan says beside its rules, as the app's dialog shows it: the kind of rollback
    (to a version only run as a canary, or never), a local test run that does not count."""
    from rich.text import Text

    for note in (*plan.notes, *([plan.tests_aside] if plan.tests_aside else [])):
        out.print(Text(f"  ! {clean(note)}", style="yellow"))


def _print_checks(checks: Any, override: tuple[str, ...]) -> None:
    from rich.text import Text

    out = console()
    for check in checks:
        out.print(Text(f"  {'✓' if check.ok else '✗'} {check.rule}: {clean(check.found)}", style="dim" if check.ok else "bold"))
    if override:
        out.print(Text("  OVERRIDE recorded in the event: the policy was not satisfied (workbench audit lists it)", style="bold"))


@app.command("rollback")
def rollback_cmd(
    name: Annotated[str, typer.Argument(help="Prompt name.", parser=prompt_name)],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment to roll back.")],
    reason: Annotated[str, typer.Option("--message", "-m", help="Why (required).")] = "",
    to: Annotated[str | None, typer.Option("--to", help="Version to go back to (default: the previous one).")] = None,
    override: Annotated[
        bool, typer.Option("--override", help="Emergency: go --to a version this environment never ran although its policy forbids it.")
    ] = False,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Roll an environment back to the previous (or named) version, as a new event.

    Going back to a version the environment already ran is never blocked by its policy.
    """
    from workbench.services import deployments

    deployments.require_reason("rollback", reason)
    with open_session() as session:
        plan = deployments.plan_rollback(session, name, env, to)
        _execute(session, plan, reason, override, json_out)

# --------------------------------------------------------------------------- remotes and export


def _print_sync(result: Any, json_out: bool) -> None:
    if json_out:
        emit_json(result.to_dict())
    else:
        from rich.text import Text

        out = console()
        out.print(Text(clean(result.message)))
        for update in result.updates:
            if update.flag != "=":
                out.print(Text(f"  {update.flag} {clean(update.ref)} {clean(update.summary)}", style="dim"))
        for detail in result.details:
            out.print(Text(f"  {clean(detail)}", style="yellow"))
    if not result.ok:
        raise typer.Exit(EXIT_FINDINGS)


@app.command("push")
def push_cmd(
    remote: Annotated[str, typer.Option("--remote", help="Remote name.")] = "origin",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Push the current branch, tags (releases, deployments) and notes; never forces."""
    from workbench.services.sync import push

    with open_session() as session:
        result = push(session, remote)
    _print_sync(result, json_out)


@app.command("fetch")
def fetch_cmd(
    remote: Annotated[str, typer.Option("--remote", help="Remote name.")] = "origin",
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Fetch branches, tags and notes from the remote (notes are merged)."""
    from workbench.services.sync import fetch

    with open_session() as session:
        result = fetch(session, remote)
    _print_sync(result, json_out)


@app.command("export")
def export_cmd(
    dest: Annotated[Path, typer.Argument(help="Directory to write into.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment to export.")],
    json_out: Annotated[bool, typer.Option("--json")] = False,
    format_name: Annotated[str | None, typer.Option("--format", "-f", help="Write another tool's format: github-models, prompty, dotprompt, langfuse.")] = None,
    label_env: Annotated[str | None, typer.Option("--label-env", help="Langfuse: LABEL=ENV pairs (default production=prod).")] = None,
) -> None:
    """Write the files an environment runs, plus manifest.json (name, version, commit, sha256); or the same in another tool's format."""
    from workbench.services.export import export

    if format_name is not None:
        from rich.text import Text

        from workbench.services.export import export_format
        from workbench.services.import_history import parse_label_env

        with open_session() as session:
            result = export_format(session, env, dest, format_name, label_env=parse_label_env(label_env))
        if json_out:
            emit_json(result.to_dict())
            return
        out = console()
        for path in result.written:
            out.print(Text("wrote     ") + Text(clean(path)))
        if result.problems:
            out.print(Text(f"\nnot carried over ({len(result.problems)}):"))
            for problem in result.problems:
                out.print(Text("  ") + Text(clean(problem.format())))
        return

    with open_session() as session:
        exported = export(session, env, dest)
    if json_out:
        emit_json([e.to_dict() for e in exported])
        return
    from rich.text import Text

    console().print(Text(f"exported {len(exported)} prompt(s) from {clean(env)} to {clean(dest)} (manifest.json)"))
