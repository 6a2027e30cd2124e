"""Time labels, table cells and environment badges for the screen (untrusted text goes through `workbench.core.safe_text`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from rich.text import Text

from workbench.core.safe_text import clean

ENV_SHORT = {"production": "prod", "staging": "stg", "development": "dev"}


def relative_time(timestamp: float, now: datetime | None = None, *, short: bool = False) -> str:
    """'3d ago'-style age of a unix timestamp ('3d' when `short`)."""
    current = now or datetime.now(UTC)
    seconds = max(0, int(current.timestamp() - timestamp))
    for unit, size in (("y", 365 * 86400), ("mo", 30 * 86400), ("w", 7 * 86400), ("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}" + ("" if short else " ago")
    return "now" if short else "just now"


def initials(name: str) -> str:
    """Two letters for an author, as lazygit shows them: first letters of the first two words."""
    words = name.split()
    if not words:
        return ""
    if len(words) == 1:
        return words[0][:2]
    return words[0][:1] + words[1][:1]


def cell(text: Text | str, width: int, *, justify: Literal["left", "right"] = "left", gap: int = 1) -> Text:
    """`text` in exactly `width` cells (cut with an ellipsis, padded, justified), then `gap` blanks."""
    body = text.copy() if isinstance(text, Text) else Text(text)
    body.no_wrap = True
    if body.cell_len > width:  # cut, drop the blanks at the cut, then the ellipsis
        body.truncate(max(0, width - 1))
        body.rstrip()
        body.append("…")
    pad = width - body.cell_len
    if justify == "right":
        body = Text(" " * pad) + body
    else:
        body.append(" " * pad)
    if gap:
        body.append(" " * gap)
    return body


def env_badges(envs: tuple[str, ...], troubled: tuple[str, ...], *, short: bool = False) -> Text:
    """`[dev] [prod]`: the environments that run a version, as the tree (`short`) and History show
    them; `[prod ⚠]` when the event it runs is malformed (read in part, e.g. its split ignored),
    which only the timeline said while the badge looked as any other."""
    badges = Text()
    for env in envs:
        if badges:
            badges.append(" ")
        style = "reverse" if env == "prod" else "dim" if short else "bold"
        badges.append(f"[{clean(ENV_SHORT.get(env, env) if short else env)}", style=style)
        if env in troubled:
            badges.append(" ⚠", style="bold red")
        badges.append("]", style=style)
    return badges
