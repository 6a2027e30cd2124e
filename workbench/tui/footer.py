"""The key footer: Textual's, rebuilt only when its keys change, with keys that start in the
style they end in.

Textual's Footer remounts every key whenever the screen says its bindings changed: three times
while the app opens (the screen resumes, focus lands, a refresh), ~25 ms each on a slow core,
for the same keys. Here the rebuild waits for the next refresh (the signals of one moment make
one rebuild) and is skipped when what the keys would show has not changed.

Textual's `FooterKey` starts `compact` and is then bound to the footer's `compact` (False):
every key is restyled on its own when it mounts (~3 ms each, ~20 keys). Giving each key its
final value and class before it mounts makes the binding and the first watch no-ops; the look
is Textual's own (the command palette's key is not bound: it stays compact).
"""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

try:
    from textual.widgets._footer import FooterKey  # not exported by textual.widgets (Textual 8)
except ImportError:  # a Textual that moved it: the keys are restyled as they mount, as before
    FooterKey = None  # type: ignore[assignment,misc]


class KeyFooter(Footer):
    def __init__(self) -> None:
        super().__init__()
        self._shown: tuple[Any, ...] | None = None  # what the mounted keys show
        self._rebuild_queued = False

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        self._shown = self._keys_to_show() if widgets else None
        for widget in widgets:
            if FooterKey is not None and isinstance(widget, FooterKey):
                if widget.has_class("-command-palette"):  # unbound: keeps FooterKey's default, compact
                    widget.add_class("-compact", update=False)  # (reading `compact` here would run its watch)
                else:
                    widget.set_reactive(FooterKey.compact, self.compact)
                    widget.set_class(self.compact, "-compact", update=False)
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus or not self.is_attached or screen is not self.screen or self._rebuild_queued:
            return
        self._rebuild_queued = True
        self.call_after_refresh(self._rebuild_if_changed)

    async def _rebuild_if_changed(self) -> None:
        self._rebuild_queued = False
        if self.is_attached and self._keys_to_show() != self._shown:
            await self.recompose()

    def _keys_to_show(self) -> tuple[Any, ...]:
        """Everything of the screen's bindings that Footer.compose turns into keys."""
        bindings = tuple(
            (key, binding.action, binding.description, binding.group, binding.tooltip, self.app.get_key_display(binding), enabled, tooltip)
            for key, (_node, binding, enabled, tooltip) in self.screen.active_bindings.items()
            if binding.show or key == self.app.COMMAND_PALETTE_BINDING
        )
        return (self.compact, self.show_command_palette, bindings)
