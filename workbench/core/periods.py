"""Periods given on the command line (`--since 7d`): one grammar for the monitor and the timeline."""

from __future__ import annotations

import re
import time


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """`7d`, `12h`, `30m`, `2w` -> a unix timestamp; None for no limit."""
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", text.strip())
    if not match:
        raise ValueError(f"--since {text!r}: use a number and m, h, d or w (e.g. 7d)")
    seconds = float(match.group(1)) * {"m": 60, "h": 3600, "d": 86400, "w": 604800}[match.group(2)]
    return (now or time.time()) - seconds
