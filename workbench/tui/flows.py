"""Flows: edit, commit, branches, release tag, promote, rollback, push/fetch, review, environments.

Each flow gathers what it needs from Git in a thread worker, shows a dialog that names
exactly what will happen, and only then writes — through the same services the CLI uses.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.tui.screens.dialogs import ChoiceScreen, ConfirmScreen, TextPromptScreen

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

T = TypeVar("T")


def _diff_lines(diff: Any, width: int = 100, limit: int = 40) -> Text:
    """A unified rendering of `diff` for dialogs, with short commit labels."""
    from dataclasses import replace

    from workbench.tui.panes.diff import render_diff

    def short(label: str) -> str:
        return label[:7] if len(label) == 40 and all(c in "0123456789abcdef" for c in label) else label

    diff = replace(diff, left_label=short(diff.left_label), right_label=short(diff.right_label))
    lines, _ = render_diff(diff, width, unified=True)
    shown = lines[:limit]
    if len(lines) > limit:
        shown.append(Text(f"… {len(lines) - limit} more lines (see the diff pane)", style="dim"))
    return Text("\n").join(shown)


def _event_line(label: str, event: Any, summary: str | None) -> Text:
    text = Text(f"{label:<9}", style="bold")
    if event is None:
        text.append("nothing deployed")
        return text
    text.append(clean(event.version or event.commit[:10]))
    text.append(f"  {event.commit[:7]}", style="dim")
    if summary:
        text.append(f"  tests {clean(summary)}")
    if getattr(event, "who", None):
        text.append(f"  by {clean(event.who.split('<')[0].strip())} {clean(event.when[:10])}", style="dim")
    return text


class FlowsMixin:
    """The app's write actions. Mixed into WorkbenchApp (see app.py for the state it uses)."""

    # ------------------------------------------------------------------ plumbing
    def _app(self) -> WorkbenchApp:
        return self  # type: ignore[return-value]

    def _job(self, fn: Callable[[], T], done: Callable[[T], None], *, name: str = "git") -> None:
        """Run `fn` (a Workspace call) in a thread worker under the git lock, then `done` on the UI thread."""
        app = self._app()

        def work() -> None:
            try:
                result = app.git(fn)
            except Exception as err:
                app.call_from_thread(app.show_error, err)
                return
            app.call_from_thread(done, result)

        app.run_worker(work, thread=True, group=name, exit_on_error=False)

    def _dialog_width(self) -> int:
        return max(40, min(106, self._app().size.width - 14))

    def _need_prompt(self) -> str | None:
        app = self._app()
        if app.workspace is None:
            app.notify("the repository is not open", severity="warning")
            return None
        if not app.selected_prompt:
            app.notify("select a prompt first", severity="warning")
            return None
        return app.selected_prompt

    # ------------------------------------------------------------------ edit
    def _working_file(self) -> tuple[str, Path] | None:
        """The selected prompt and its file in the working copy (None, with a notice, if absent)."""
        name = self._need_prompt()
        if name is None:
            return None
        app = self._app()
        path = app.workspace.prompt_path(name, None)
        if path is None:
            app.notify(f"{name} is not in the working copy", severity="warning")
            return None
        return name, Path(app.root) / path

    def action_edit(self) -> None:
        target = self._working_file()
        if target is None:
            return
        name, full = target
        app = self._app()
        editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
        try:
            with app.suspend():
                subprocess.run([*editor.split(), str(full)], check=False)
        except Exception as err:  # no terminal to hand over (e.g. under test)
            app.show_error(err)
            return
        self._after_edit(name)

    def _after_edit(self, name: str) -> None:
        app = self._app()

        def done(result: Any) -> None:
            if result.ok:
                app.notify(f"{name}: valid", timeout=3)
            else:
                app.notify(f"{name}: {len(result.errors)} problem(s) — see the diff pane", severity="warning", markup=False)
            app.refresh_scopes("all")

        self._job(lambda: app.workspace.prompt_at(name, None), done)

    def action_edit_inline(self) -> None:
        target = self._working_file()
        if target is None:
            return
        from workbench.tui.screens.editor import EditorScreen

        name, full = target
        app = self._app()
        path = full.relative_to(app.root).as_posix()

        def closed(saved: bool | None) -> None:
            if saved:
                self._after_edit(name)

        app.push_screen(EditorScreen(full, path), closed)

    # ------------------------------------------------------------------ commit
    def action_commit(self) -> None:
        app = self._app()
        if app.workspace is None:
            return

        def gathered(data: tuple[dict[str, Any], Any]) -> None:
            states, diff = data
            changed = [name for name, state in states.items() if str(state.value) != "clean"]
            if not changed:
                app.notify("nothing to commit: the working copy matches HEAD", timeout=3)
                return
            from workbench.tui.screens.commit import CommitScreen

            def submitted(result: tuple[list[str], str] | None) -> None:
                if result is None:
                    return
                names, message = result
                self._job(lambda: app.workspace.commit(names, message), committed)

            app.push_screen(CommitScreen(changed, {n: str(states[n].value) for n in changed}, diff, app.selected_prompt), submitted)

        def committed(info: Any) -> None:
            app.notify(f"committed {info.sha[:7]}: {info.subject}", timeout=4, markup=False)
            app.selected_rev = None
            app.refresh_scopes("all")

        def gather() -> tuple[dict[str, Any], Any]:
            states = app.workspace.working_states()
            diff = None
            if app.selected_prompt and str(states.get(app.selected_prompt, "clean")) != "clean":
                try:
                    diff = app.workspace.diff(app.selected_prompt, "HEAD", None)
                except Exception:
                    diff = None
            return states, diff

        self._job(gather, gathered)

    # ------------------------------------------------------------------ branches
    def action_branches(self) -> None:
        app = self._app()
        if app.workspace is None:
            return

        def gathered(data: tuple[list[Any], str | None]) -> None:
            branches, current = data
            from workbench.tui.screens.branches import BranchScreen

            def chosen(result: tuple[str, bool] | None) -> None:
                if result is None:
                    return
                name, create = result
                self._switch(name, create)

            app.push_screen(BranchScreen(branches, current), chosen)

        self._job(lambda: (app.workspace.branches(), app.workspace.current_branch()), gathered)

    def _switch(self, name: str, create: bool, stash: bool = False) -> None:
        app = self._app()

        def check() -> list[str]:
            return list(app.workspace.has_uncommitted_changes())

        def checked(changes: list[str]) -> None:
            if changes and not stash:
                body = Text(f"You have uncommitted changes in {len(changes)} file(s):\n", style="bold")
                for path in changes[:10]:
                    body.append(f"  {clean(path)}\n")
                body.append("\nSwitching would mix them into the other branch. Nothing is lost either way.")

                def answer(choice: str | None) -> None:
                    if choice == "stash":
                        self._switch(name, create, stash=True)
                    else:
                        app.notify("branch switch cancelled; your changes are untouched", timeout=3)

                app.push_screen(
                    ChoiceScreen(
                        f"Switch to {name}?",
                        [("stash", f"stash the changes (git stash), then switch to {name}"), ("cancel", "cancel: stay on this branch")],
                        default="cancel",
                        body=body,
                    ),
                    answer,
                )
                return

            def do() -> Any:
                if create:
                    app.workspace.create_branch(name)
                return app.workspace.switch_branch(name, stash=stash)

            def switched(result: Any) -> None:
                message = f"on {name}" + (f" — your changes are in {result.stash} (git stash pop to restore)" if getattr(result, "stash", None) else "")
                app.notify(message, timeout=5, markup=False)
                app.selected_rev = None
                app.refresh_scopes("all")

            self._job(do, switched)

        self._job(check, checked)

    # ------------------------------------------------------------------ release tag
    def action_release_tag(self) -> None:
        name = self._need_prompt()
        if name is None:
            return
        app = self._app()
        rev = app.selected_rev or "HEAD"
        if app.selected_rev is None:
            app.notify("releasing HEAD (the working copy is not a commit)", timeout=3)
        existing = app.workspace.releases(name)
        next_label = f"{name}@v{(max((t.number for t in existing), default=0)) + 1}"

        def noted(note: str | None) -> None:
            if note is None:
                return
            self._job(lambda: app.workspace.tag_release(name, rev, note or None), tagged)

        def tagged(result: Any) -> None:
            app.notify(result.message, timeout=5, markup=False)
            app.refresh_scopes("history")

        body = Text(f"Create the release tag {next_label} at {rev[:10]} (annotated; release tags never move).")
        app.push_screen(TextPromptScreen(f"Release {name}", body, "release note (optional)", required=False), noted)

    # ------------------------------------------------------------------ promote / rollback
    def action_promote(self) -> None:
        name = self._need_prompt()
        if name is None:
            return
        app = self._app()
        rev = app.selected_rev or "HEAD"
        envs = list(app.workspace.environments)

        def chosen(env: str | None) -> None:
            if env is None:
                return
            self._job(lambda: self._deploy_context(name, env, rev), lambda ctx: self._confirm_promote(name, env, rev, ctx))

        options = [(env, f"{env}  (now: {app._deployed.get(env, 'nothing')})") for env in envs]
        app.push_screen(ChoiceScreen(f"Promote {name} @ {app.version_label(app.selected_rev)} to…", options, default=envs[0]), chosen)

    def _deploy_context(self, name: str, env: str, target: str) -> dict[str, Any]:
        from workbench.services.evals import latest_summary

        app = self._app()
        ws = app.workspace
        current = ws.current_event(name, env)
        target_commit = ws.resolve(target, name)
        diff = ws.diff(name, current.commit, target_commit) if current is not None else ws.diff(name, target_commit, target_commit)
        return {
            "current": current,
            "current_tests": latest_summary(ws, name, current.commit) if current else None,
            "target_commit": target_commit,
            "target_tests": latest_summary(ws, name, target_commit),
            "diff": diff,
        }

    def _confirm_promote(self, name: str, env: str, rev: str, ctx: dict[str, Any]) -> None:
        app = self._app()
        body = Text()
        body.append_text(_event_line("now", ctx["current"], ctx["current_tests"]))
        body.append("\n")
        target = Text(f"{'deploy':<9}", style="bold")
        target.append(clean(app.version_label(ctx['target_commit'])))
        if ctx["target_tests"]:
            target.append(f"  tests {clean(ctx['target_tests'])}")
        else:
            target.append("  no test results for this version (press t first to run them)", style="yellow")
        body.append_text(target)
        body.append("\n\nWhat changes:\n", style="bold")
        body.append_text(_diff_lines(ctx["diff"], self._dialog_width()))

        def reasoned(reason: str | None) -> None:
            if reason is None:
                return
            confirm = Text(f"Promote {name} to {env}: {ctx['target_commit'][:7]} replaces {ctx['current'].commit[:7] if ctx['current'] else 'nothing'}.\nReason: {reason}\nThis writes a new deployment event (an annotated tag); push to share it.")

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._job(lambda: app.workspace.promote(name, env, rev=ctx["target_commit"], reason=reason), self._deployed_done)

            app.push_screen(ConfirmScreen(f"Promote to {env}?", confirm, yes=f"promote to {env}"), confirmed)

        app.push_screen(TextPromptScreen(f"Promote {name} to {env}", body, "why? (the reason is recorded in the event)"), reasoned)

    def _deployed_done(self, event: Any) -> None:
        app = self._app()
        verb = {"rollback": "rolled back", "promote": "promoted"}.get(event.action, event.action)
        app.notify(f"{event.prompt}: {verb} {event.env} to {event.version or event.commit[:7]} ({event.tag})", timeout=6, markup=False)
        app.refresh_scopes("all")

    def action_rollback(self) -> None:
        name = self._need_prompt()
        if name is None:
            return
        app = self._app()
        deployed = [env for env in app.workspace.environments if env in app._deployed]
        if not deployed:
            app.notify(f"{name} is not deployed anywhere: nothing to roll back", severity="warning")
            return
        default = "prod" if "prod" in deployed else deployed[-1]

        def chosen(env: str | None) -> None:
            if env is None:
                return
            self._job(lambda: self._rollback_context(name, env), lambda ctx: self._confirm_rollback(name, env, ctx))

        options = [(env, f"{env}  (now: {app._deployed[env]})") for env in deployed]
        app.push_screen(ChoiceScreen(f"Roll back {name} in…", options, default=default), chosen)

    def _rollback_context(self, name: str, env: str) -> dict[str, Any]:
        from workbench.services.evals import latest_summary

        ws = self._app().workspace
        events = list(reversed(ws.deployments(name, env)))  # oldest first
        if not events:
            raise ValueError(f"{name} has no deployment in {env}")
        current = events[-1]
        # The same replay the rollback service uses: a rollback pops back to its target.
        stack = ws._deployed_stack(events)
        previous = next((e for e in reversed(events) if len(stack) >= 2 and e.commit == stack[-2]), None)
        if previous is None:
            from workbench.errors import WorkbenchError

            raise WorkbenchError(f"{env} has run only {current.version or current.commit[:7]} of {name}: there is no earlier version to go back to")
        return {
            "current": current,
            "current_tests": latest_summary(ws, name, current.commit),
            "previous": previous,
            "previous_tests": latest_summary(ws, name, previous.commit),
            "diff": ws.diff(name, current.commit, previous.commit),
        }

    def _confirm_rollback(self, name: str, env: str, ctx: dict[str, Any]) -> None:
        app = self._app()
        current, previous = ctx["current"], ctx["previous"]
        body = Text()
        body.append_text(_event_line("now", current, ctx["current_tests"]))
        body.append("\n")
        body.append_text(_event_line("back to", previous, ctx["previous_tests"]))
        body.append("\n\nWhat the rollback changes:\n", style="bold")
        body.append_text(_diff_lines(ctx["diff"], self._dialog_width()))
        target = previous.version or previous.commit[:7]

        def reasoned(reason: str | None) -> None:
            if reason is None:
                return
            confirm = Text(
                f"Roll back {name} in {env}: {current.version or current.commit[:7]} → {target}.\n"
                f"Reason: {reason}\nA new deployment event is written; no tag is moved or deleted."
            )

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._job(lambda: app.workspace.rollback(name, env, to=previous.commit, reason=reason), self._deployed_done)

            app.push_screen(ConfirmScreen(f"Roll back {env}?", confirm, yes=f"roll back {env} to {target}"), confirmed)

        app.push_screen(TextPromptScreen(f"Roll back {name} in {env} to {target}", body, "reason (required, recorded in the event)"), reasoned)

    # ------------------------------------------------------------------ remotes
    def action_push(self) -> None:
        app = self._app()
        if app.workspace is None:
            return

        def confirmed(yes: bool | None) -> None:
            if not yes:
                return
            app.notify("pushing…", timeout=2)
            self._job(app.workspace.push, lambda result: self._synced("push", result), name="remote")

        body = Text("Push branches, release and deployment tags, and test-result notes to origin.\nNothing is forced: a rejected push is explained, not overwritten.")
        app.push_screen(ConfirmScreen("Push to origin?", body, yes="push"), confirmed)

    def action_fetch(self) -> None:
        app = self._app()
        if app.workspace is None:
            return
        app.notify("fetching…", timeout=2)
        self._job(app.workspace.fetch, lambda result: self._synced("fetch", result), name="remote")

    def _synced(self, verb: str, result: Any) -> None:
        app = self._app()
        if result.ok:
            app.notify(f"{verb}: {result.message or 'done'}", timeout=4, markup=False)
        else:
            app.show_error(RuntimeError(f"{verb} failed: {result.message}\n" + "\n".join(result.details)))
        app.refresh_scopes("all")

    # ------------------------------------------------------------------ review
    def action_review(self) -> None:
        app = self._app()
        if app.workspace is None:
            return
        main = app.workspace.main_branch

        def gathered(branches: list[Any]) -> None:
            others = [b for b in branches if b.name != main]
            if not others:
                app.notify(f"no branch besides {main} to review", severity="warning")
                return
            default = next((b.name for b in others if b.is_current), others[0].name)

            def chosen(branch: str | None) -> None:
                if branch is not None:
                    self._job(lambda: app.workspace.review(branch), self._show_review)

            app.push_screen(ChoiceScreen(f"Review which branch against {main}?", [(b.name, b.name) for b in others], default=default), chosen)

        self._job(app.workspace.branches, gathered)

    def _show_review(self, review: Any) -> None:
        from workbench.tui.screens.review import ReviewScreen

        app = self._app()

        def closed(result: tuple[str, str] | None) -> None:
            if result is None:
                return
            action, name = result
            if action == "ab":
                app.selected_prompt = name
                app.base_rev, app.base_marked = review.merge_base, True
                app.selected_rev = review.head
                app.runs.run_ab()
            elif action == "merge":
                self._merge(review.branch)

        app.push_screen(ReviewScreen(review), closed)

    def _merge(self, branch: str) -> None:
        app = self._app()

        def confirmed(yes: bool | None) -> None:
            if yes:
                self._job(lambda: app.workspace.merge(branch), merged)

        def merged(result: Any) -> None:
            if result.status == "conflicts":
                app.show_error(RuntimeError(f"merge of {branch} stopped on conflicts (resolve them, then commit):\n" + "\n".join(result.conflicts)))
            else:
                app.notify(f"merge {branch}: {result.status} {result.message}", timeout=5, markup=False)
            app.refresh_scopes("all")

        current = app.workspace.current_branch()
        app.push_screen(ConfirmScreen(f"Merge {branch}?", f"Merge {branch} into {current} (fast-forward when possible, else a merge commit). Conflicts are left for you, never resolved silently.", yes="merge"), confirmed)

    # ------------------------------------------------------------------ environments
    def action_environments(self) -> None:
        app = self._app()
        if app.workspace is None:
            return
        from workbench.tui.screens.environments import EnvironmentsScreen

        def gathered(status: Any) -> None:
            def closed(result: tuple[str, str, str] | None) -> None:
                if result is None:
                    return
                name, source, target = result

                def reasoned(reason: str | None) -> None:
                    if reason is None:
                        return
                    body = Text(f"Promote {name} to {target} with what {source} runs now.\nReason: {reason}")

                    def confirmed(yes: bool | None) -> None:
                        if yes:
                            self._job(lambda: app.workspace.promote(name, target, reason=reason, from_env=source), self._deployed_done)

                    app.push_screen(ConfirmScreen(f"Promote {source} → {target}?", body, yes=f"promote to {target}"), confirmed)

                app.push_screen(TextPromptScreen(f"Promote {name}: {source} → {target}", "", "reason (recorded in the event)"), reasoned)

            app.push_screen(EnvironmentsScreen(status), closed)

        self._job(app.workspace.status, gathered)


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same folder and rename: never a half-written prompt."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
