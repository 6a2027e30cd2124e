"""Time labels for the screen (untrusted text goes through `workbench.core.safe_text`)."""

from __future__ import annotations

from datetime import UTC, datetime


def relative_time(timestamp: float, now: datetime | None = None) -> str:
    """'3d ago'-style age of a unix timestamp."""
    current = now or datetime.now(UTC)
    seconds = max(0, int(current.timestamp() - timestamp))
    for unit, size in (("y", 365 * 86400), ("mo", 30 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"
