"""The app's controllers besides browsing, each imported and built on first use.

A controller brings its screens and services with it (deployments, approvals, policies, the
timeline, test runs...): none of them is needed for the first full paint of the main screen,
so none of them is imported before it.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp
    from workbench.tui.controllers.approvals import ApprovalController
    from workbench.tui.controllers.branches import BranchController
    from workbench.tui.controllers.commit import CommitController
    from workbench.tui.controllers.deploy import DeployController
    from workbench.tui.controllers.edit import EditController
    from workbench.tui.controllers.production import ProductionController
    from workbench.tui.controllers.releases import ReleaseController
    from workbench.tui.controllers.remote import RemoteController
    from workbench.tui.controllers.review import ReviewController
    from workbench.tui.controllers.runs import RunController
    from workbench.tui.controllers.timeline import TimelineController


class LazyControllers:
    """Mixed into `WorkbenchApp`: `app.deploy`, `app.runs`... as attributes, built when first used."""

    def _app(self) -> WorkbenchApp:
        return cast("WorkbenchApp", self)

    @cached_property
    def edit(self) -> EditController:
        from workbench.tui.controllers.edit import EditController

        return EditController(self._app())

    @cached_property
    def commits(self) -> CommitController:
        from workbench.tui.controllers.commit import CommitController

        return CommitController(self._app())

    @cached_property
    def branching(self) -> BranchController:
        from workbench.tui.controllers.branches import BranchController

        return BranchController(self._app())

    @cached_property
    def releases(self) -> ReleaseController:
        from workbench.tui.controllers.releases import ReleaseController

        return ReleaseController(self._app())

    @cached_property
    def deploy(self) -> DeployController:
        from workbench.tui.controllers.deploy import DeployController

        return DeployController(self._app())

    @cached_property
    def remote(self) -> RemoteController:
        from workbench.tui.controllers.remote import RemoteController

        return RemoteController(self._app())

    @cached_property
    def reviews(self) -> ReviewController:
        from workbench.tui.controllers.review import ReviewController

        return ReviewController(self._app())

    @cached_property
    def production(self) -> ProductionController:
        from workbench.tui.controllers.production import ProductionController

        return ProductionController(self._app())

    @cached_property
    def runs(self) -> RunController:
        from workbench.tui.controllers.runs import RunController

        return RunController(self._app())

    @cached_property
    def approvals(self) -> ApprovalController:
        from workbench.tui.controllers.approvals import ApprovalController

        return ApprovalController(self._app())

    @cached_property
    def timeline(self) -> TimelineController:
        from workbench.tui.controllers.timeline import TimelineController

        return TimelineController(self._app())

    def _quit_held(self) -> bool:
        """The in-app editor holding unsaved text asks before the app quits (none when the edit
        controller was never used): True when it asked."""
        return "edit" in self.__dict__ and self.edit.hold_quit(self._quit_now)

    def _quit_now(self) -> None:
        self._cancel_runs()
        self._app().exit()

    def _cancel_runs(self) -> bool:
        """Cancel a test run in flight (none when the runs controller was never used)."""
        return "runs" in self.__dict__ and self.runs.cancel()
