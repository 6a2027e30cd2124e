"""Deployment events remembered across sessions, so that a cold `status` reads no tag object.

What every environment runs is in the messages of the deployment tags. Reading them (with each
tag's target) in `for-each-ref` made git read every tag object: 50 ms for the synthetic
repository's 3,000 tags, where listing their names and object ids takes 9; and parsing the
1,800 current ones took another 25 ms of Python. A tag object's id is the hash of its content,
so what a tag said under an id stays true: this cache keeps each current event, parsed, by tag
name and object id in one file, `.git/workbench/events`, and a session reads from Git only the
tags it does not hold (a tag replaced by a fetch has another object id: it is read again).

What the cache holds decides what `status` says runs in production, so:
- the file is signed (HMAC-SHA256 with the per-user key of the verdict cache,
  `verdicts.user_signer`): one that is unreadable, oversized, malformed or not signed by this
  user is ignored and the events are read from Git;
- it names the code that parsed the events (`verdicts.fingerprint`: the sources of
  `workbench.core`): after an upgrade the events are parsed again;
- it holds the events of the last listing only (bounded by the repository's own tags), is
  written atomically, and never by a read-only session.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.core.versions import Canary, DeploymentEvent, parse_event_message
from workbench.services.atomic_files import read_regular_file, write_atomically
from workbench.services.deployment_events import BULK_THRESHOLD
from workbench.services.session import RepoSession
from workbench.services.verdicts import fingerprint, user_signer

FORMAT = 3  # 3: `skipped` (a tag on a blob or tree)
MAX_FILE_BYTES = 64 * 1024 * 1024

# (tag name, its object's id, (env, prompt, seq) from the tag name)
TagToRead = tuple[str, str, tuple[str, str, str]]


def read_events(session: RepoSession, tags: Sequence[TagToRead], pattern: str) -> dict[str, DeploymentEvent | None]:
    """Tag name -> its event (None: the tag is not one), from the cache, else from Git.

    Many tags missing are read with one for-each-ref over `pattern` (a ref pattern they are
    under); a few through the persistent cat-file process.
    """
    known = _load(session.store.git_dir)
    events: dict[str, DeploymentEvent | None] = {}
    entries: dict[str, list[Any]] = {}
    missing: list[TagToRead] = []
    for tag, oid, parsed_tag in tags:
        entry = known.get(tag)
        try:
            if not (isinstance(entry, list) and len(entry) == 2 and entry[0] == oid):
                raise ValueError("not cached")
            events[tag] = _event(tag, parsed_tag, entry[1])
            entries[tag] = entry
        except ValueError:
            missing.append((tag, oid, parsed_tag))
    # A tag object deleted since it was cached (a damaged repository) is read, so that status
    # says what history and the timeline say: Git's error, not the event it once held.
    gone = session.store.missing_objects([entry[0] for entry in entries.values()])
    for tag, oid, parsed_tag in tags:
        if oid in gone and tag in entries:
            del entries[tag], events[tag]
            missing.append((tag, oid, parsed_tag))
    listed = session.store.tag_objects(pattern) if len(missing) > BULK_THRESHOLD else {}
    for tag, oid, parsed_tag in missing:
        # By object id, not by name: a tag replaced or deleted since the listing (a fetch) must
        # not file another object's event, or none, under this id.
        found = listed.get(oid) or session.store.read_tag_object(oid)
        if found is None:  # gone: deleted since the listing, or a damaged repository (Git's error)
            session.store.read_tag(tag)
        event = parse_event_message(tag, found.target, found.message, parsed_tag, found.target_type) if found is not None else None
        events[tag] = event
        if found is not None:  # an object gone (deleted and pruned) is Git's answer now, not for later
            entries[tag] = [oid, _fields(event)]
    if missing and not session.read_only:
        _save(session.store.git_dir, entries)
    return events


def cache_file(git_dir: Path) -> Path:
    return git_dir / "workbench" / "events"


# --------------------------------------------------------------------------- an event as JSON
_STORED = ("action", "version", "commit", "previous_version", "previous_commit", "reason", "who", "when", "tests")


def _fields(event: DeploymentEvent | None) -> list[Any] | None:
    if event is None:
        return None
    canary = [event.canary.version, event.canary.commit, event.canary.percent] if event.canary else None
    return [*(getattr(event, name) for name in _STORED), canary, list(event.override), event.problem, event.skipped]


def _event(tag: str, parsed_tag: tuple[str, str, str], fields: list[Any] | None) -> DeploymentEvent | None:
    """The event an entry holds (None: the tag is not one). Raises ValueError for an entry of another shape."""
    if fields is None:
        return None
    try:
        action, version, commit, previous_version, previous_commit, reason, who, when, tests, canary, override, problem, skipped = fields
        env, prompt, seq = parsed_tag
        return DeploymentEvent(
            tag, prompt, env, seq, action, version, commit, previous_version, previous_commit, reason, who, when, tests,
            Canary(*canary) if canary else None, tuple(override), problem, bool(skipped),
        )
    except TypeError as err:
        raise ValueError(f"not an event entry: {err}") from None


# --------------------------------------------------------------------------- the file
def _load(git_dir: Path) -> dict[str, list[Any]]:
    """Tag name -> [object id, fields] as the file holds them; {} for anything not whole,
    well-formed, signed by this user and written by this code."""
    try:
        signer = user_signer()
        if signer is None:
            return {}
        raw = read_regular_file(cache_file(git_dir), MAX_FILE_BYTES)
        if raw is None:
            return {}
        mac, _, body = raw.partition(b"\n")
        if len(raw) > MAX_FILE_BYTES or not hmac.compare_digest(signer(body), mac.decode("ascii")):
            return {}
        data = json.loads(body)
        if data["format"] != FORMAT or data["code"] != fingerprint() or not isinstance(data["events"], dict):
            return {}
        events: dict[str, list[Any]] = data["events"]  # signed: written by `_save`
        return events
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return {}


def _save(git_dir: Path, entries: dict[str, list[Any]]) -> None:
    if (git_dir / "workbench").is_symlink():  # a planted link would send the write outside the repository
        return
    with contextlib.suppress(OSError):  # a repository we may not write: Git is read next time
        signer = user_signer()
        if signer is None:
            return
        body = json.dumps({"format": FORMAT, "code": fingerprint(), "events": entries}).encode()
        write_atomically(cache_file(git_dir), signer(body).encode("ascii") + b"\n" + body)
