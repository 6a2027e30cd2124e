"""The one rule for untrusted text that reaches a terminal, a report or a dialog.

File names, descriptions, model output, commit messages, branch names, reasons and error
bodies may hold terminal escape sequences (`\\x1b[2J` clears the screen, OSC 8 makes links,
OSC 52 writes the clipboard), bidirectional overrides that reorder what is read, or Rich
markup (`[bold]`, `[@click=...]`). The CLI, the app and the reports all pass such strings
through `clean()` and render them as `rich.text.Text`, never as a markup string.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# C0 controls except tab and newline, DEL, and the C1 controls (U+0080-U+009F: CSI is U+009B).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates ("Trojan Source"), and the line/paragraph
# separators some terminals treat as newlines.
_BIDI = re.compile(r"[\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_REPLACEMENT = "\ufffd"


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # the Unicode control picture: ESC -> ␛, BEL -> ␇, CR -> ␍
    if code == 0x7F:
        return "\u2421"  # ␡
    return _REPLACEMENT


def clean(value: object) -> str:
    """The text with every control character and bidi override made visible.

    Tabs and newlines are kept; everything a terminal would act on is replaced by a visible
    stand-in, so what is shown is what the string holds.
    """
    text = value if isinstance(value, str) else str(value)
    if text.isprintable():  # the common case: nothing to replace (tab/newline are not printable)
        return text
    return well_formed(_BIDI.sub(_REPLACEMENT, _CONTROL.sub(_visible, text)))


_ILL_FORMED = re.compile(r"[\ud800-\udfff\ufffe\uffff]")


def well_formed(text: str) -> str:
    """The text with lone surrogates and the non-characters U+FFFE/U+FFFF replaced by U+FFFD.

    A JSON body may hold `"\\ud800"`, which Python decodes to a lone surrogate; such a string
    cannot be written as UTF-8, nor put in XML.
    """
    return _ILL_FORMED.sub(_REPLACEMENT, text) if not text.isascii() else text


def inline(value: object) -> str:
    """One field of a one-line record (an event's reason, who, tests) on that line: `clean`, with
    every line break shown as ⏎. Kept as a newline, the rest printed as a line of its own,
    which read as another record (a forged "prod promote → v9" in `workbench history`)."""
    return clean(value).replace("\n", "\u23ce")


def one_line(value: object, limit: int = 200) -> str:
    """The first line of a value, cleaned and cut with an ellipsis."""
    raw = value if isinstance(value, str) else str(value)
    first = clean(raw.splitlines()[0] if raw else "")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def safe(value: object, style: str = "") -> Text:
    """Untrusted text as a Rich `Text`: markup never parsed, control characters neutralised."""
    from rich.text import Text

    return Text(clean(value), style=style)


__all__ = ["clean", "inline", "one_line", "safe", "well_formed"]
