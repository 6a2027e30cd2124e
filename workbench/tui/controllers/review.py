"""Review a branch (v): what it changed since main, an A/B run of base vs branch, merge."""

from __future__ import annotations

from workbench.services import branches, diffing
from workbench.tui.controllers.base import Controller
from workbench.tui.messages import RepoChanged
from workbench.tui.screens.dialogs import ChoiceScreen, ConfirmScreen
from workbench.tui.screens.review import ReviewScreen


class ReviewController(Controller):
    def review(self) -> None:
        if self.app.session is not None:
            self.start(self._review)

    async def _review(self) -> None:
        main = self.session.main_branch
        others = [b for b in await self.call(branches.branches) if b.name != main]
        if not others:
            self.app.notify(f"no branch besides {main} to review", severity="warning", markup=False)
            return
        default = next((b.name for b in others if b.is_current), others[0].name)
        branch = await self.ask(ChoiceScreen(f"Review which branch against {main}?", [(b.name, b.name) for b in others], default=default))
        if branch is None:
            return
        review = await self.call(diffing.review, branch)
        choice = await self.ask(ReviewScreen(review))
        if choice is None:
            return
        action, name = choice
        if action == "ab":
            if self.app.refuse_write("an A/B run of base vs branch"):  # it calls the model and writes results
                return
            app = self.app
            app.selected_prompt = name
            app.base_rev, app.base_marked = review.merge_base, True
            app.selected_rev = review.head
            app.runs.run_ab()
            return
        if action == "approve":
            await self.app.approvals.approve_in_review(name, review.head)
            return
        if self.app.refuse_write("merging"):
            return
        current = await self.call(branches.current_branch)
        body = (
            f"Merge {review.branch} into {current} (fast-forward when possible, else a merge commit). "
            "Conflicts are left for you, never resolved silently."
        )
        if not await self.ask(ConfirmScreen(f"Merge {review.branch}?", body, yes="merge")):
            return
        result = await self.call(branches.merge, review.branch)
        if result.status == "conflicts":
            self.app.show_error(RuntimeError(f"merge of {review.branch} stopped on conflicts (resolve them, then commit):\n" + "\n".join(result.conflicts)))
        else:
            self.app.notify(f"merge {review.branch}: {result.message}", timeout=5, markup=False)
        self.app.post_message(RepoChanged())
