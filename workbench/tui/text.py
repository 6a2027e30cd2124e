"""Safe text for the screen: untrusted strings become `rich.text.Text`, never markup.

Model output, file contents, commit messages and branch names may hold Rich markup
(`[bold]`, `[/]`) or terminal escape sequences; both must be shown literally.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from rich.text import Text

# C0 controls except tab/newline, DEL, C1 controls, and the ESC that starts ANSI sequences.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """The string with control characters made visible (ESC -> '␛', others -> '�')."""
    return _CONTROL.sub(lambda m: "␛" if m.group() == "\x1b" else "�", str(value))


def safe(value: object, style: str = "") -> Text:
    """Untrusted text as a Rich `Text`: no markup parsing, control characters neutralised."""
    return Text(clean(value), style=style, no_wrap=False)


def one_line(value: object, limit: int = 200) -> str:
    """The first line of a value, cleaned and cut with an ellipsis."""
    first = clean(str(value).splitlines()[0] if str(value) else "")
    return first if len(first) <= limit else first[: limit - 1] + "…"


def relative_time(timestamp: float, now: datetime | None = None) -> str:
    """'3d ago'-style age of a unix timestamp."""
    current = now or datetime.now(UTC)
    seconds = max(0, int(current.timestamp() - timestamp))
    for unit, size in (("y", 365 * 86400), ("mo", 30 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"
