"""Approve a version for an environment, from the review (`v`, then `a`) and environments (`w`, then `a`) views.

The flow shows what promoting that version would do (the same `DeployPlan` preview as `p`,
with the environment's rules), asks for a reason, and writes the approval with the service
the CLI's `workbench approve` calls.
"""

from __future__ import annotations

from rich.text import Text

from workbench.core.safe_text import clean
from workbench.errors import WorkbenchError
from workbench.services import approvals, deployments
from workbench.services.deployments import DeployPlan
from workbench.services.session import RepoSession
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.render.preview import plan_body
from workbench.tui.screens.dialogs import ChoiceScreen, TextPromptScreen


def _preview(session: RepoSession, name: str, env: str, rev: str) -> tuple[str, str | None, DeployPlan | None, str]:
    """(commit, release label, the promotion plan or None, why there is none)."""
    commit, version = approvals.approval_target(session, name, rev)
    try:
        return commit, version, deployments.plan_promote(session, name, env, commit), ""
    except WorkbenchError as err:  # e.g. the environment already runs it: approving is still allowed
        return commit, version, None, err.message


class ApprovalController(Controller):
    async def approve_in_review(self, name: str, head: str) -> None:
        """Approve the reviewed branch's version of `name` for an environment the user picks."""
        if self.app.refuse_write("approving"):  # before asking which environment
            return
        await self.require_identity()
        envs = list(self.session.environments)
        guarded = [env for env in envs if self.session.config.policies.get(env) and self.session.config.policies[env].approvals > 0]
        options = [(env, f"{env}  (needs {self.session.config.policies[env].approvals} approval(s))" if env in guarded else env) for env in envs]
        default = guarded[-1] if guarded else envs[-1]
        env = await self.ask(ChoiceScreen(f"Approve {name} at {head[:7]} for…", options, default=default))
        if env is not None:
            await self.approve(name, env, head)

    async def approve(self, name: str, env: str, rev: str) -> None:
        if self.app.refuse_write("approving"):
            return
        await self.require_identity()
        commit, version, plan, why = await self.call(_preview, name, env, rev)
        label = version or commit[:10]
        body = Text(f"Approve {clean(label)} of {clean(name)} for {clean(env)}: an approval tag signed with your Git identity.\n")
        body.append("It counts for this version and environment only, and never for a promotion you make yourself.\n\n", style="dim")
        if plan is not None:
            body.append("Promoting it would do this:\n", style="bold")
            body.append_text(plan_body(plan, self.dialog_width()))
        else:
            body.append(clean(why), style="dim")
        key = ("approve", name, env, commit)
        title = f"Approve {name} {label.rsplit('@', 1)[-1]} for {env}"
        reason = await self.ask_text_of(key, lambda typed: TextPromptScreen(title, body, "reason (required, recorded in the approval)", value=typed))
        if reason is None:
            return
        approval = await self.call(approvals.approve, name, env, commit, reason)
        self.written(key)
        self.app.notify(f"{name}: approved {label} for {env} ({approval.tag}); push to share it", timeout=6, markup=False)
        self.app.post_message(RepoChanged())
