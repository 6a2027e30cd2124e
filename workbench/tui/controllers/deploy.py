"""Promote (p), roll back (R), and promote from the environments view (w).

Each flow asks for the environment, computes the plan with the same service the CLI uses,
shows it (versions, tests, diff), asks for a reason and a confirmation, then executes that
very plan.
"""

from __future__ import annotations

from functools import partial

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.core.versions import DeploymentEvent
from workbench.services import deployments, env_status
from workbench.services.deployments import DeployPlan
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.render.preview import plan_body
from workbench.tui.screens.dialogs import ChoiceScreen, ConfirmScreen, TextPromptScreen
from workbench.tui.screens.environments import EnvironmentsScreen

SPLIT_CHOICES = (10, 25, 50)


def _now(deployed: dict[str, DeploymentEvent], env: str) -> str:
    """What `env` serves, for a choice's label."""
    return env_status.serving(deployed[env]) if env in deployed else "nothing"


# The app's --to: a version selected in History.
PICK_IN_HISTORY = "select the version in History (2), then R"


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
        options = [(env, f"{env}  (now: {_now(deployed, env)})") for env in envs]
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
        options = [(env, f"{env}  (now: {_now(deployed, env)})") for env in envs]
        return await self.ask(ChoiceScreen(title, options, default=default))

    async def _rollback(self, name: str) -> None:
        await self.require_identity()  # before the environment and the reason are asked
        deployed = self.app.browse.deployed if name == self.app.selected_prompt else {}
        if not deployed:
            status = await self.call(env_status.status)
            row = status.row(name)
            deployed = {c.env: c.event for c in (row.cells if row else ()) if c.event}
        envs = [env for env in self.session.environments if env in deployed]
        if not envs:
            self.app.notify(f"{name} is not deployed anywhere: nothing to roll back", severity="warning", markup=False)
            return
        default = "prod" if "prod" in envs else envs[-1]
        options = [(env, f"{env}  (now: {_now(deployed, env)})") for env in envs]
        env = await self.ask(ChoiceScreen(f"Roll back {name} in…", options, default=default))
        if env is None:
            return
        selected = self.app.selected_rev if name == self.app.selected_prompt else None
        plan, to = await self.call(deployments.rollback_choices, name, env, selected, how_to_name=PICK_IN_HISTORY)
        if to is not None:
            # A version picked in History may be the target (the CLI's --to): ask, previous first.
            selected_label = f"the selected version: {to.version}" + (f" ({to.like_a_promotion})" if to.like_a_promotion else "")
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
