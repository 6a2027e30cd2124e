"""Deployment tags' objects remembered across sessions, so that a cold `status` reads none.

What every environment runs is in the messages of the deployment tags. Reading them (with each
tag's target) in `for-each-ref` made git read every tag object: 50 ms for the synthetic
repository's 3,000 tags, where listing their names and object ids takes 9. A tag object's id is
the hash of its content, so what was read under an id stays true: this store keeps
(target, message) by object id in one file, `.git/workbench/tag-objects`, and a session reads
from Git only the objects it does not hold.

The file is signed (HMAC-SHA256 with the per-user key of the verdict cache,
`verdicts.user_signer`), so no entry planted under `.git` can make `status` say another version
runs: a file that is unreadable, oversized, malformed or not signed by this user is ignored and
the objects are read from Git. It holds the objects of the last listing only (bounded by the
repository's own tags), is written atomically, and never by a read-only session.
"""

from __future__ import annotations

import contextlib
import hmac
import json
from collections.abc import Iterable
from pathlib import Path

from workbench.services.atomic_files import write_atomically
from workbench.services.session import RepoSession
from workbench.services.verdicts import user_signer

FORMAT = 1
MAX_FILE_BYTES = 64 * 1024 * 1024
BULK_THRESHOLD = 32  # above this many objects to read, one for-each-ref beats cat-file reads

TagObject = tuple[str, str]  # (the commit the tag points at, its message)


def read_tag_objects(session: RepoSession, tags: Iterable[tuple[str, str]], pattern: str) -> dict[str, TagObject]:
    """Object id -> (target, message) for (tag name, object id) pairs: from the file, else from Git.

    Many objects missing are read with one for-each-ref over `pattern` (a ref pattern the tags
    are under); a few through the persistent cat-file process.
    """
    wanted = dict(tags)  # tag -> object id
    known = _load(session.store.git_dir)
    found = {oid: known[oid] for oid in wanted.values() if oid in known}
    missing = [(tag, oid) for tag, oid in wanted.items() if oid not in found]
    if len(missing) > BULK_THRESHOLD:
        listed = session.store.tag_objects(pattern)
        found.update((oid, listed[oid]) for _, oid in missing if oid in listed)
    for tag, oid in missing:
        if oid not in found:
            read = session.store.read_tag(tag)
            if read is not None:
                found[oid] = read
    if missing and not session.read_only:
        _save(session.store.git_dir, found)
    return found


def store_file(git_dir: Path) -> Path:
    return git_dir / "workbench" / "tag-objects"


def _load(git_dir: Path) -> dict[str, TagObject]:
    """The objects the file holds; {} for anything not whole, well-formed and signed by this user."""
    try:
        signer = user_signer()
        if signer is None:
            return {}
        with store_file(git_dir).open("rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
        mac, _, body = raw.partition(b"\n")
        if len(raw) > MAX_FILE_BYTES or not hmac.compare_digest(signer(body), mac.decode("ascii")):
            return {}
        data = json.loads(body)
        if data["format"] != FORMAT:
            return {}
        # Signed by this user, so written by this code: the shape is checked, not each id's digits.
        objects: dict[str, TagObject] = {}
        for oid, (target, message) in data["objects"].items():
            if not (isinstance(target, str) and isinstance(message, str)):
                return {}
            objects[oid] = (target, message)
        return objects
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def _save(git_dir: Path, objects: dict[str, TagObject]) -> None:
    file = store_file(git_dir)
    if (git_dir / "workbench").is_symlink():  # a planted link would send the write outside the repository
        return
    with contextlib.suppress(OSError):  # a repository we may not write: Git is read next time
        signer = user_signer()
        if signer is None:
            return
        body = json.dumps({"format": FORMAT, "objects": {oid: list(found) for oid, found in objects.items()}}).encode()
        write_atomically(file, signer(body).encode("ascii") + b"\n" + body)
