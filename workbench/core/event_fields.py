"""The one check of a deployment event's decoded message values: each of the right shape, or
left out with a problem that names it.

A `deploy/` tag can be written by hand or by another tool, and pushed by anyone with push
access. One value of the wrong shape (a canary `percent` of "ten", a list for `reason`) used
to raise from the parser: every reader of the events stopped, the runtime's `PromptRepo()` and
each `refresh()` (new deployments and rollbacks were ignored for good) and `status`, for every
prompt. Now the event is read with that value left out, and its problem is shown where the
event is (`status`, `timeline`, `history`, the runtime's log), naming the tag.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple

# A full object id (SHA-1 or SHA-256): a canary's commit is served as it is, so a branch name or a
# short id there (`"commit": "main"`) served whatever that name points at now, unreleased work.
_FULL_ID = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
_TEXT = ("reason", "who", "when")  # "" when absent
_OPTIONAL_TEXT = ("version", "previous_version", "previous_commit", "tests")  # None when absent


class EventFields(NamedTuple):
    action: str
    version: str | None
    commit: str  # "" when neither Git nor the message names one
    previous_version: str | None
    previous_commit: str | None
    reason: str
    who: str
    when: str
    tests: str | None
    canary: tuple[str | None, str, float] | None  # (version, commit, percent)
    override: tuple[str, ...]
    problem: str  # "" when every value had its shape; else what was left out, and why


def checked_fields(values: dict[str, Any], actions: tuple[str, ...], prompt: str = "") -> EventFields:
    """The event's values from a decoded message (missing keys are absent values) of an event
    of `prompt` (whose releases a canary's label must name)."""
    problems: list[str] = []

    def text(key: str) -> str | None:
        value = values.get(key)
        if value is None or isinstance(value, str):
            return value
        # A hand-written `reason: 42` is YAML's number: read as its text. An int is never made a
        # float (`math.isfinite(10**400)` raised OverflowError: one such tag stopped every reader).
        if (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and math.isfinite(value)):
            return str(value)
        problems.append(f"{key} {_shown(value)} is not text (left out)")
        return None

    fields = {key: text(key) or "" for key in _TEXT} | {key: text(key) for key in _OPTIONAL_TEXT}
    action = text("action") or "promote"
    if action not in actions:
        problems.append(f"action {_shown(action)} is not one of {', '.join(actions)} (read as promote)")
        action = "promote"
    override: tuple[str, ...] = ()
    raw_override = values.get("override")
    if isinstance(raw_override, list) and all(isinstance(rule, str) for rule in raw_override):
        override = tuple(raw_override)
    elif raw_override is not None:
        problems.append(f"override {_shown(raw_override)} is not a list of rules (left out)")
    canary = _canary(values.get("canary"), prompt, problems)
    return EventFields(
        action, fields["version"], text("commit") or "", fields["previous_version"], fields["previous_commit"],
        fields["reason"] or "", fields["who"] or "", fields["when"] or "", fields["tests"], canary, override, "; ".join(problems),
    )


def _canary(raw: Any, prompt: str, problems: list[str]) -> tuple[str | None, str, float] | None:
    """(version, commit, percent) of a split, or None: no split, or one that cannot be read
    (the event then serves its stable version to every key). Whether the commit is one of the
    repository is Git's answer (`vcs/refs.py` `checked_events`)."""
    if raw is None:
        return None
    ignored = "(the split is ignored: every key gets the stable version)"
    if not isinstance(raw, dict):
        problems.append(f"canary {_shown(raw)} is not an object {ignored}")
        return None
    version, commit, percent = raw.get("version"), raw.get("commit"), raw.get("percent")
    if not (isinstance(commit, str) and _FULL_ID.fullmatch(commit)):
        problems.append(f"canary.commit {_shown(commit)} is not a full commit id {ignored}")
        return None
    if version is not None and not isinstance(version, str):
        problems.append(f"canary.version {_shown(version)} is not text {ignored}")
        return None
    if version is not None and prompt and version.rpartition("@")[0] != prompt:
        # served under this label: another prompt's release would be logged and measured as it
        problems.append(f"canary.version {_shown(version)} is not a release of {prompt} {ignored}")
        return None
    number = None
    if isinstance(percent, int | float | str) and not isinstance(percent, bool):
        try:  # a hand-written "10" was read as 10 before this check: it still is
            number = float(percent)
        except (ValueError, OverflowError):  # OverflowError: an int past the float range
            number = None
    if number is None or not 0 <= number <= 100:  # NaN fails both comparisons
        problems.append(f"canary.percent {_shown(percent)} is not a number from 0 to 100 {ignored}")
        return None
    return version, commit, number


def _shown(value: Any) -> str:
    """A short quote of a value for a problem line (a pushed tag's value may be megabytes)."""
    try:
        shown = repr(value)
    except ValueError:  # an int past Python's 4,300-digit limit for text
        return "(a number too long to show)"
    return shown if len(shown) <= 40 else shown[:37] + "..."
