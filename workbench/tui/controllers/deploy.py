"""Promote (p), roll back (R), and promote from the environments view (w).

Each flow asks for the environment, computes the plan with the same service the CLI uses,
shows it (versions, tests, diff), asks for a reason and a confirmation, then executes that
very plan.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.core.versions import DeploymentEvent
from workbench.errors import GitError, NotFound, WorkbenchError
from workbench.services import deployments, env_status
from workbench.services.deployments import DeployPlan
from workbench.services.session import RepoSession
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.render.preview import plan_body
from workbench.tui.screens.dialogs import ChoiceScreen, ConfirmScreen, TextPromptScreen
from workbench.tui.screens.environments import EnvironmentsScreen

if TYPE_CHECKING:
    pass

SPLIT_CHOICES = (10, 25, 50)


def _rollback_plan_or_none(session: RepoSession, name: str, env: str, to: str) -> DeployPlan | None:
    """The plan of `rollback --to` the selected version, offered when `env` served that version
    (in full, or only as a canary: then its plan says the policy applies) and serves it no more;
    a version `env` never served is a promotion (`p`), not offered here."""
    try:
        plan = deployments.plan_rollback(session, name, env, to)
    except GitError:
        raise  # Git failed or cannot read the repository: its error, never "not offered"
    except WorkbenchError:
        return None
    running = plan.current.canary.commit if plan.current is not None and plan.current.canary is not None else None
    return plan if plan.commit != running and deployments.has_served(session, name, env, plan.commit) else None


# The app's --to: a version selected in History.
PICK_IN_HISTORY = "select the version in History (2), then R"


def _rollback_plans(session: RepoSession, name: str, env: str, selected: str | None) -> tuple[DeployPlan, DeployPlan | None]:
    """The rollback to the previous version and, if it differs, the one to `selected`; with no
    previous version left, the one to `selected` alone, which the hint told the user to pick."""
    to = _rollback_plan_or_none(session, name, env, selected) if selected is not None else None
    if to is not None and to.current is not None and to.commit == to.current.commit:
        to = None  # the version running: never a rollback target offered
    try:
        previous = deployments.plan_rollback(session, name, env, how_to_name=PICK_IN_HISTORY)
    except NotFound:
        if to is None:
            raise
        return to, None
    return previous, (to if to is not None and to.commit != previous.commit else None)


class DeployController(Controller):
    def promote(self) -> None:
        if self.selected_prompt() is not None:
            self.start(self._promote)

    def rollback(self, name: str | None = None) -> None:
        """`R`, or `R` from the monitor or the timeline (those reach here past the keys' read-only gate)."""
        if self.app.refuse_write("roll back"):
            return
        if name is not None or self.selected_prompt() is not None:
            self.start(partial(self._rollback, name or self.app.selected_prompt or ""))

    def split(self) -> None:
        if self.selected_prompt() is not None:
            self.start(self._split)

    def finish(self) -> None:
        if self.selected_prompt() is not None:
            self.start(self._finish)

    def environments(self) -> None:
        if self.app.session is not None:
            self.start(self._environments)

    async def _promote(self) -> None:
        name = self.app.selected_prompt
        if name is None:
            return
        await self.require_identity()
        envs = list(self.session.environments)
        deployed = self.app.browse.deployed
        options = [(env, f"{env}  (now: {deployed.get(env, 'nothing')})") for env in envs]
        title = f"Promote {name} @ {self.app.browse.version_label(self.app.selected_rev)} to…"
        env = await self.ask(ChoiceScreen(title, options, default=envs[0]))
        if env is None:
            return
        plan = await self.call(deployments.plan_promote, name, env, self.app.selected_rev or "HEAD")
        await self._confirm_and_execute(plan)

    async def _split(self) -> None:
        name = self.app.selected_prompt
        if name is None:
            return
        await self.require_identity()
        env = await self._choose_env(f"Canary of {name} @ {self.app.browse.version_label(self.app.selected_rev)} in…", deployed_only=True)
        if env is None:
            return
        options = [(str(p), f"{p}% of keys get the new version") for p in SPLIT_CHOICES]
        percent = await self.ask(ChoiceScreen(f"How much traffic for the canary in {env}?", options, default=str(SPLIT_CHOICES[0])))
        if percent is None:
            return
        plan = await self.call(deployments.plan_promote, name, env, self.app.selected_rev or "HEAD", split_percent=float(percent))
        await self._confirm_and_execute(plan)

    async def _finish(self) -> None:
        name = self.app.selected_prompt
        if name is None:
            return
        await self.require_identity()
        env = await self._choose_env(f"Finish the split of {name} in…", deployed_only=True)
        if env is None:
            return
        plan = await self.call(deployments.plan_finish, name, env)
        await self._confirm_and_execute(plan)

    async def _choose_env(self, title: str, *, deployed_only: bool) -> str | None:
        deployed = self.app.browse.deployed
        envs = [env for env in self.session.environments if env in deployed or not deployed_only]
        if not envs:
            self.app.notify(f"{self.app.selected_prompt} is not deployed anywhere yet", severity="warning", markup=False)
            return None
        default = "prod" if "prod" in envs else envs[-1]
        options = [(env, f"{env}  (now: {deployed.get(env, 'nothing')})") for env in envs]
        return await self.ask(ChoiceScreen(title, options, default=default))

    async def _rollback(self, name: str) -> None:
        await self.require_identity()  # before the environment and the reason are asked
        deployed = self.app.browse.deployed if name == self.app.selected_prompt else {}
        if not deployed:
            status = await self.call(env_status.status)
            row = status.row(name)
            deployed = {c.env: env_status.serving(c.event) for c in (row.cells if row else ()) if c.event}
        envs = [env for env in self.session.environments if env in deployed]
        if not envs:
            self.app.notify(f"{name} is not deployed anywhere: nothing to roll back", severity="warning", markup=False)
            return
        default = "prod" if "prod" in envs else envs[-1]
        options = [(env, f"{env}  (now: {deployed[env]})") for env in envs]
        env = await self.ask(ChoiceScreen(f"Roll back {name} in…", options, default=default))
        if env is None:
            return
        selected = self.app.selected_rev if name == self.app.selected_prompt else None
        plan, to = await self.call(_rollback_plans, name, env, selected)
        if to is not None:
            # A version picked in History may be the target (the CLI's --to): ask, previous first.
            selected_label = f"the selected version: {to.version}" + (f" ({to.notes[-1]})" if to.notes else "")
            choices = [("previous", f"the previous version: {plan.version}"), ("selected", selected_label)]
            answer = await self.ask(ChoiceScreen(f"Roll {name} in {env} back to…", choices, default="previous"))
            if answer is None:
                return
            plan = to if answer == "selected" else plan
        await self._confirm_and_execute(plan)

    async def _environments(self) -> None:
        status = await self.call(env_status.status)
        chosen = await self.ask(EnvironmentsScreen(status, dict(self.session.config.policies)))
        if chosen is None:
            return
        action, name, source, target = chosen
        if action == "approve":  # what `source` runs, for `target` (the revision grammar reads env names)
            await self.app.approvals.approve(name, target, source)
            return
        if self.app.refuse_write("promoting"):
            return
        await self.require_identity()
        plan = await self.call(deployments.plan_promote, name, target, from_env=source)
        await self._confirm_and_execute(plan)

    async def _confirm_and_execute(self, plan: DeployPlan) -> None:
        """Show the plan, ask for the reason (required) and a confirmation, then execute it."""
        title = plan.summary[0].upper() + plan.summary[1:]
        hint = "reason (required, recorded in the event)"
        if plan.blocked:
            title = f"BLOCKED by policy: {title}"
            hint = "emergency only: the reason for an OVERRIDE (recorded in the event); esc cancels"
        key = (plan.action, plan.prompt, plan.env)
        reason = await self.ask_text_of(key, lambda typed: TextPromptScreen(title, plan_body(plan, self.dialog_width()), hint, value=typed))
        if reason is None:
            return
        confirm = Text(f"{plan.summary}.\nReason: {clean(reason)}\n")
        verb = {"rollback": "roll back", "split": "start the split in", "finish": "finish the split in"}.get(plan.action, "promote to")
        yes = f"{verb} {plan.env}"
        if plan.blocked:
            confirm.append("This OVERRIDES the policy of " + clean(plan.env) + ". The event records it as an override, with:\n", style="bold")
            for check in plan.failed_checks:
                confirm.append(f"  ✗ {clean(check.rule)}: {clean(check.found)}\n")
            yes = f"override and {verb} {plan.env}"
        confirm.append("A new deployment event (an annotated tag) is written; no tag is moved or deleted. Push to share it.")
        if not await self.ask(ConfirmScreen(f"{verb.capitalize()} {plan.env}?", confirm, yes=yes)):
            return
        event = await self.call(deployments.execute, plan, reason, override=plan.blocked)
        self.written(key)
        self._deployed(event)

    def _deployed(self, event: DeploymentEvent) -> None:
        verb = {"rollback": "rolled back", "promote": "promoted", "finish": "finished the split of"}.get(event.action, event.action)
        self.app.notify(f"{event.prompt}: {verb} {event.env} to {event.version or event.commit[:7]} ({event.tag})", timeout=6, markup=False)
        self.app.post_message(RepoChanged())
