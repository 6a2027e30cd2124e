"""What every controller shares: the app, the session, and the two verbs of a flow."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

from textual.screen import Screen

from workbench.services.session import RepoSession

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class FlowAborted(Exception):
    """A step of a flow failed and was already shown to the user: the flow stops quietly."""


class Controller:
    def __init__(self, app: WorkbenchApp) -> None:
        self.app = app
        self.unwritten: dict[tuple[str, ...], str] = {}  # text typed for a write that failed, by what it was for

    async def ask_text_of(self, key: tuple[str, ...], screen: Callable[[str], Screen[str | None]]) -> str | None:
        """Ask for the text of a write (a reason, a note): what was typed for the same write
        (`key`) is offered again when that write failed, until `written(key)`. The reason typed
        at 3 a.m. was lost with a write another git's lock refused."""
        text = await self.ask(screen(self.unwritten.get(key, "")))
        if text is not None:
            self.unwritten[key] = text
        return text

    def written(self, key: tuple[str, ...]) -> None:
        self.unwritten.pop(key, None)

    @property
    def session(self) -> RepoSession:
        return self.app.require_session()

    def start(self, flow: Callable[[], Coroutine[Any, Any, None]], group: str = "flow") -> None:
        """Run a flow (an async function of no arguments) as a worker; its failures are shown, never raised."""
        self.app.run_flow(flow, group)

    async def call(self, fn: Callable[Concatenate[RepoSession, P], R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run a service function with the session, off the UI thread (see `WorkbenchApp.run_in_session`)."""
        return await self.app.run_in_session(fn, *args, **kwargs)

    async def require_identity(self) -> None:
        """First in a flow that asks for the text of a write (a message, a reason): Git must know
        who writes it, or the text would be typed for a write it refuses (`FlowAborted`, shown)."""
        await self.call(RepoSession.require_identity)

    async def ask(self, screen: Screen[T]) -> T:
        """Show a dialog and wait for its answer."""
        return await self.app.push_screen_wait(screen)

    def selected_prompt(self) -> str | None:
        """The selected prompt, or None with a notice saying why nothing happens."""
        if self.app.session is None:
            self.app.notify("the repository is not open", severity="warning")
            return None
        if not self.app.selected_prompt:
            self.app.notify("select a prompt first", severity="warning")
            return None
        return self.app.selected_prompt

    def dialog_width(self) -> int:
        return max(40, min(106, self.app.size.width - 14))
