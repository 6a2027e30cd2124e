"""Periods given on the command line (`--since 7d`): one grammar for the monitor and the timeline."""

from __future__ import annotations

import re
import time

MAX_SINCE_DAYS = 36525  # 100 years: more than any log holds; an unbounded period overflowed SQLite's INTEGER
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str | None, now: float | None = None) -> float | None:
    """`7d`, `12h`, `30m`, `2w` -> a unix timestamp; None for no limit.

    Raises:
        ValueError: not a period, or longer than MAX_SINCE_DAYS (the message names the range).
    """
    if not text:
        return None
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([mhdw])", text.strip(), re.ASCII)
    if not match:
        raise ValueError(f"--since {text!r}: use a number and m, h, d or w (e.g. 7d)")
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if not seconds <= MAX_SINCE_DAYS * 86400:  # also inf, from 400 digits
        raise ValueError(f"--since {text[:40]!r}: at most {MAX_SINCE_DAYS}d (100 years, {MAX_SINCE_DAYS * 24}h, {MAX_SINCE_DAYS // 7}w)")
    return (now or time.time()) - seconds
