"""The key footer: Textual's, with keys that start in the style they end in.

Textual's `FooterKey` starts `compact` and is then bound to the footer's `compact` (False):
every key is restyled on its own when it mounts (~3 ms each on a slow core, ~20 keys, each
time the footer is rebuilt: the app's focus moves a few times while it opens). Giving each key
its final value and class before it mounts makes the binding and the first watch no-ops; the
look is Textual's own (the command palette's key is not bound: it stays compact).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer

try:
    from textual.widgets._footer import FooterKey  # not exported by textual.widgets (Textual 8)
except ImportError:  # a Textual that moved it: the keys are restyled as they mount, as before
    FooterKey = None  # type: ignore[assignment,misc]


class KeyFooter(Footer):
    def compose(self) -> ComposeResult:
        for widget in super().compose():
            if FooterKey is not None and isinstance(widget, FooterKey):
                if widget.has_class("-command-palette"):  # unbound: keeps FooterKey's default, compact
                    widget.add_class("-compact", update=False)  # (reading `compact` here would run its watch)
                else:
                    widget.set_reactive(FooterKey.compact, self.compact)
                    widget.set_class(self.compact, "-compact", update=False)
            yield widget
