"""Signed verdicts of checks, remembered across sessions: the store under `parse_cache`.

A verdict says whether a file's exact text passed a check and with which problems. Each is a
small JSON file under `.git/workbench/parsed/`, written atomically, keyed by the text, its
path and a fingerprint of the checking code and libraries, and HMAC-signed with a per-user key
kept outside the repository: an entry that is unreadable, oversized, malformed, for another
key or not signed by this user is ignored, so no entry can make a file look valid that is not.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from workbench.core.installed import installed_version
from workbench.core.model import Problem, Severity
from workbench.services.atomic_files import read_regular_file, write_atomically

FORMAT = 1
MAX_ENTRY_BYTES = 256 * 1024
BUCKET_ENTRIES = 64  # x 256 buckets: at most 16,384 verdicts (a few MB) per repository
_LIBRARIES = {"jsonschema": "jsonschema", "PyYAML": "yaml", "Jinja2": "jinja2"}  # distribution: package

Signer = Callable[[bytes], str]


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one version of a file (a prompt, workbench.yaml), without what it parsed to."""

    path: str
    ok: bool
    problems: tuple[Problem, ...]
    cached: bool = False
    # A prompt's: the files its suite's assertions name (`core.assertion_files`), which depend on
    # nothing but what the key and the entry's files cover. None: not known (an entry written
    # before they were kept, a check of workbench.yaml).
    files: tuple[str, ...] | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


def config_schema_passed(git_dir: Path, path: str, text: str, *, touch: bool = True) -> bool:
    """Whether this exact `workbench.yaml` text passed the JSON Schema with no problem at all
    before (a signed verdict). Every session reads the file: the check imported jsonschema
    first thing, 0.08-0.17 s of the app's way to its first paint and of every CLI command.
    A cache never stops a session from opening: anything unexpected means "check it"."""
    try:
        signer = user_signer()
        if signer is None:
            return False
        key = key_of(path, text, kind="config")
        cached = read_entry(git_dir, key, path, signer, touch=touch)
    except (OSError, RuntimeError, ValueError, KeyError, ImportError):
        return False
    return cached is not None and cached.ok and not cached.problems


def remember_config_passed(git_dir: Path, path: str, text: str) -> None:
    """Record that this `workbench.yaml` text was checked in full and had no problem."""
    with contextlib.suppress(OSError, RuntimeError, ValueError, KeyError, ImportError):
        signer = user_signer()
        if signer is not None:
            write_entry(git_dir, key_of(path, text, kind="config"), Verdict(path, True, ()), [], signer)


def key_of(path: str, text: str, *, kind: str = "") -> str:
    prefix = f"{FORMAT}\0{fingerprint()}\0{kind + chr(0) if kind else ''}{path}\0"
    return hashlib.sha256(prefix.encode() + text.encode("utf-8", "surrogatepass")).hexdigest()


def entry_file(git_dir: Path, key: str) -> Path:
    return git_dir / "workbench" / "parsed" / key[:2] / f"{key[2:]}.json"


def _own_entry_file(git_dir: Path, key: str) -> Path | None:
    """The entry's file, when no folder between the Git directory and it is a link: a planted
    link would send the cache's writes and its pruning outside the repository."""
    file = entry_file(git_dir, key)
    if any(folder.is_symlink() for folder in (git_dir / "workbench", file.parent.parent, file.parent)):
        return None
    return file


def digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- entries
def read_entry(
    git_dir: Path, key: str, path: str, signer: Signer, read: Callable[[str], str] | None = None, *, touch: bool = True
) -> Verdict | None:
    """The verdict stored for `key`, when the entry is whole, signed, for this key and path,
    and every file the check read (`read` reads them again) still has the same content; else None.
    `touch` marks the entry used (its modification time); a read-only session does not."""
    file = entry_file(git_dir, key)
    try:
        raw = read_regular_file(file, MAX_ENTRY_BYTES)
        if raw is None or len(raw) > MAX_ENTRY_BYTES:
            return None
        envelope = json.loads(raw)
        body, signature = envelope["body"], envelope["mac"]
        if not isinstance(body, str) or not isinstance(signature, str):
            return None
        if not hmac.compare_digest(signer(body.encode()), signature):
            return None
        data = json.loads(body)
        if data["format"] != FORMAT or data["key"] != key or data["path"] != path:
            return None
        problems = tuple(_problem(item) for item in data["problems"])
        files = _files(data.get("files"))
        ok = data["ok"]
        if not isinstance(ok, bool) or ok == any(p.severity is Severity.ERROR for p in problems):
            return None  # a valid verdict with errors (or the reverse) is not one the loader gives
        for dep in data["deps"]:
            relpath, expected = dep
            if read is None or not isinstance(relpath, str) or not isinstance(expected, str):
                return None
            try:
                if digest(read(relpath)) != expected:
                    return None
            except Exception:
                return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        return None
    own = _own_entry_file(git_dir, key) if touch else None
    if own is not None:
        with contextlib.suppress(OSError):
            os.utime(own)  # used: the last to go when its bucket is full
    return Verdict(path, ok, problems, cached=True, files=files)


def _files(item: Any) -> tuple[str, ...] | None:
    """An entry's files its assertions name; None when it has none kept (an older entry)."""
    if item is None:
        return None
    if not isinstance(item, list) or not all(isinstance(path, str) for path in item):
        raise TypeError("files")
    return tuple(item)


def _problem(item: Any) -> Problem:
    path, line, col, message, severity, hint = item
    if not (isinstance(path, str) and isinstance(message, str) and (hint is None or isinstance(hint, str))):
        raise TypeError("problem fields")
    if type(line) is not int or type(col) is not int:
        raise TypeError("problem position")
    return Problem(path, line, col, message, Severity(severity), hint)


def write_entry(git_dir: Path, key: str, verdict: Verdict, deps: list[list[str]], signer: Signer) -> None:
    file = _own_entry_file(git_dir, key)
    if file is None:
        return
    problems = [[p.path, p.line, p.col, p.message, p.severity.value, p.hint] for p in verdict.problems]
    fields = {"format": FORMAT, "key": key, "path": verdict.path, "ok": verdict.ok, "problems": problems, "deps": deps}
    if verdict.files is not None:
        fields["files"] = list(verdict.files)
    body = json.dumps(fields)
    with contextlib.suppress(OSError):  # a read-only repository: the check simply runs next time
        write_atomically(file, json.dumps({"body": body, "mac": signer(body.encode())}))
        _keep_newest(file.parent, BUCKET_ENTRIES, written=file)


_ENTRY_NAME = re.compile(r"[0-9a-f]{62}\.json")


def _keep_newest(bucket: Path, keep: int, *, written: Path) -> None:
    """Remove all but the `keep` most recently used entries of one bucket (`read_entry` marks an
    entry used). Entries are spread over 256 buckets by key, so the cache holds at most
    256 x `keep` verdicts however many versions are checked, and a write lists one small folder.
    Only files named as entries are counted or removed, and never the one just `written`
    (entries dated in the future, by clock skew or a copy, would otherwise outlive it)."""
    used: list[tuple[int, Path]] = []
    for entry in bucket.iterdir():
        if _ENTRY_NAME.fullmatch(entry.name) and entry != written:
            with contextlib.suppress(FileNotFoundError):  # another process pruned it first
                used.append((entry.stat().st_mtime_ns, entry))
    used.sort()
    for _, stale in used[: max(0, len(used) + 1 - keep)]:
        stale.unlink(missing_ok=True)


# --------------------------------------------------------------------------- what the key is made of
@cache
def fingerprint() -> str:
    """The checking code and its libraries, as Python's own bytecode cache tells a stale file:
    the path, size and modification time of every source file of `workbench.core` and of the
    packaged schemas, and the installed versions of the libraries the loader uses.

    Stat, not read: hashing the sources and asking `importlib.metadata` (its import included)
    cost ~30 ms of every process's way to its first verdict, the app's first paint among them.
    """
    return fingerprint_of(Path(__file__).resolve().parent.parent)


def fingerprint_of(package: Path) -> str:
    digest = hashlib.sha256(str(FORMAT).encode())
    for library in _LIBRARIES:
        digest.update(f"\0{library}={installed_version(library, _LIBRARIES[library])}".encode())
    sources = sorted([*(package / "core").rglob("*.py"), *(package / "schema").glob("*.json")])
    if not sources:  # not installed as files (a zip): the version is all there is to go by
        digest.update(f"\0workbench={installed_version('workbench')}".encode())
    for source in sources:
        try:
            stat = source.stat()
            seen = f"{stat.st_size}\0{stat.st_mtime_ns}"
        except OSError:  # removed mid-upgrade
            seen = "gone"
        digest.update(f"\0{source.relative_to(package).as_posix()}\0{seen}".encode())
    return digest.hexdigest()


def user_signer() -> Signer | None:
    """HMAC-SHA256 with this user's cache key (made on first use, readable by the user only);
    None when there is no place for it: then nothing is cached."""
    configured = os.environ.get("XDG_CACHE_HOME", "")
    try:
        # A relative XDG_CACHE_HOME is ignored, as the XDG spec says: it would put the key in
        # the working directory, a repository's working copy perhaps, one `git add` from public.
        base = (Path(configured) if os.path.isabs(configured) else Path.home() / ".cache") / "workbench"
    except (RuntimeError, KeyError):  # no home: a container's user with no passwd entry
        return None
    return _signer_in(base)


@cache
def _signer_in(base: Path) -> Signer | None:
    file = base / "parse-cache.key"
    try:
        if not file.exists():
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            try:
                descriptor = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass  # another process made it first
            else:
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(os.urandom(32))
        secret = read_regular_file(file, 4096)
    except OSError:
        return None
    if secret is None or len(secret) < 32:
        return None
    return lambda data: hmac.new(secret, data, hashlib.sha256).hexdigest()
