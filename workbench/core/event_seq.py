"""The time in a deployment event's (or approval's) sequence, and the sequence of a new one.

A sequence is `<UTC time, 17 digits yyyymmddHHMMSSmmm>-<8 hex digits>` (`core.versions`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


def make_seq(now: datetime, suffix_hex: str, *, after: str | None = None) -> str:
    """A sortable, collision-free event sequence: UTC milliseconds, then a unique suffix.

    Args:
        now: the wall-clock time of the event.
        suffix_hex: at least 8 hex digits unique to this event (a hash of who+commit+random).
        after: the latest existing valid seq for the same prompt and environment; the new seq
            sorts after it even when this clock is behind (a tiny logical clock). One that
            carries no real time (`seq_time`) is not followed: it is a malformed event.
    """
    moment = now.astimezone(UTC).replace(microsecond=now.microsecond // 1000 * 1000)
    latest = seq_time(after) if after is not None else None
    if latest is not None and latest >= moment:
        moment = latest + timedelta(milliseconds=1)
    return moment.strftime("%Y%m%d%H%M%S") + f"{moment.microsecond // 1000:03d}-{suffix_hex[:8]}"


def seq_time(seq: str | None) -> datetime | None:
    """The UTC time an event's (or approval's) sequence carries; None when it carries no real time.

    The one rule for a sequence's time: its 17 digits are a calendar time before the year 9999.
    `99999999999999999-…`, a 13th month, or the last millisecond of 9999 (nothing can be made
    after it) made every promote, rollback and approve of the prompt crash; such a tag is a
    malformed event, skipped as the environment's state (`parse_event_message`).
    """
    stamp = (seq or "")[:17]
    if len(stamp) != 17 or not stamp.isdigit() or stamp[:4] >= "9999":
        return None
    try:  # the constructor, not strptime: an audit reads thousands of these
        return datetime(
            int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]), int(stamp[8:10]), int(stamp[10:12]), int(stamp[12:14]),
            int(stamp[14:]) * 1000, tzinfo=UTC,
        )
    except ValueError:
        return None
