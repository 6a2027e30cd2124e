"""Whether a prompt version loads, remembered across sessions (the app's first diff needs no parse).

Checking a prompt (YAML with positions, the JSON Schema, the templates) costs a few ms, and the
first check of a process also imports jsonschema and jinja2 (0.1-0.5 s): on the app's way to its
first full paint, only to learn that the version shown is valid. This cache remembers the
verdict of each check, so a version already checked on this machine is not parsed again.

What the verdict depends on is all in the key or checked on every use, so a stale, corrupt or
planted entry can never make an invalid prompt look valid:

| the verdict depends on | how |
| --- | --- |
| the file's text and path (the name comes from the path) | SHA-256 of both, in the key |
| the files the loader read (tests files, partials) | their SHA-256 stored in the entry, each read again and compared on use |
| the checking code and the libraries it uses | a fingerprint of `workbench/core`, the schemas and the versions of jsonschema, PyYAML and Jinja2, in the key |
| who wrote the entry | an HMAC with a per-user key kept outside the repository (`~/.cache/workbench/`) |

Entries are small JSON files under `.git/workbench/parsed/` (one per version, written atomically);
anything unreadable, oversized, malformed or unsigned is ignored and rewritten by a fresh check.
A dependency that could not be read (a missing tests file) is never cached: the check runs.
The app's diff pane uses verdicts alone; a test run (`load_checked_at`) still loads the prompt but
skips the JSON Schema check of a version whose signed verdict says it passed. Releases,
deployments and `validate` always check in full.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from workbench.core.model import LoadResult, Problem, Severity
from workbench.services.prompt_files import (
    file_reader,
    load_path,
    path_at,
    prompt_at,
    write_atomically,
)
from workbench.services.revisions import target
from workbench.services.session import RepoSession

FORMAT = 1
MAX_ENTRY_BYTES = 256 * 1024
_LIBRARIES = ("jsonschema", "PyYAML", "Jinja2")


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one prompt version, without the parsed prompt."""

    path: str
    ok: bool
    problems: tuple[Problem, ...]
    cached: bool = False

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


def check_at(session: RepoSession, name: str, rev: str | None = None) -> Verdict:
    """Whether prompt `name` loads at `rev` (None = working copy), and its problems: from the
    cache when this exact version was checked before, else by loading it (and remembering)."""
    found = target(session, name, rev)
    path = path_at(session, name, found.commit)
    if path is None:
        return _verdict(prompt_at(session, name, rev))  # says it does not exist, and where
    verdict, _ = _checked(session, path, found.commit, need_prompt=False)
    return verdict


def load_checked_at(session: RepoSession, name: str, rev: str | None = None) -> LoadResult:
    """`prompt_files.prompt_at`, minus the JSON Schema check when this exact version passed it
    before (a signed verdict with no errors: the schema gives errors only, so the result is
    the same); the verdict is remembered for the next run. A test run's way in: the schema
    check and its import were ~0.1 s of a rerun the result cache answers."""
    found = target(session, name, rev)
    path = path_at(session, name, found.commit)
    if path is None:
        return prompt_at(session, name, rev)  # says it does not exist, and where
    verdict, result = _checked(session, path, found.commit, need_prompt=True)
    return result if result is not None else LoadResult(verdict.path, None, verdict.problems)


def _checked(session: RepoSession, path: str, commit: str | None, *, need_prompt: bool) -> tuple[Verdict, LoadResult | None]:
    text = _read(session, path, commit)
    signer = _signer()
    if text is None or signer is None:
        result = load_path(session, path, commit)
        return _verdict(result), result
    key = hashlib.sha256(f"{FORMAT}\0{fingerprint()}\0{path}\0".encode() + text.encode("utf-8", "surrogatepass")).hexdigest()
    entry_file = session.store.git_dir / "workbench" / "parsed" / key[:2] / f"{key[2:]}.json"
    read = file_reader(session, commit)
    cached = _entry(entry_file, key, path, signer, read)
    from workbench.core.loader import load_prompt

    if cached is not None:
        if not need_prompt or not cached.ok:
            return cached, None
        return cached, load_prompt(text, path, read_file=read, schema_passed=True)
    deps: list[list[str]] = []
    failed = False

    def recording(relpath: str) -> str:
        nonlocal failed
        try:
            content = read(relpath)
        except BaseException:
            failed = True
            raise
        deps.append([relpath, _digest(content)])
        return content

    result = load_prompt(text, path, read_file=recording)
    if commit is not None:
        session.cache.remember_parsed((commit, path), result)
    verdict = _verdict(result)
    if not failed:
        _write(entry_file, key, verdict, deps, signer)
    return verdict, result


def _verdict(result: LoadResult) -> Verdict:
    return Verdict(result.path, result.ok, result.problems)


def _read(session: RepoSession, path: str, commit: str | None) -> str | None:
    if commit is not None:
        return session.store.read_text(commit, path)
    try:
        return (session.root / path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # load_path reports why


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# --------------------------------------------------------------------------- entries
def _entry(file: Path, key: str, path: str, signer: Callable[[bytes], str], read: Callable[[str], str]) -> Verdict | None:
    """The verdict stored for `key`, when the entry is whole, signed, for this key and path,
    and every file the check read still has the same content; else None."""
    try:
        with file.open("rb") as handle:
            raw = handle.read(MAX_ENTRY_BYTES + 1)
        if len(raw) > MAX_ENTRY_BYTES:
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
        ok = data["ok"]
        if not isinstance(ok, bool) or ok == any(p.severity is Severity.ERROR for p in problems):
            return None  # a valid verdict with errors (or the reverse) is not one the loader gives
        for dep in data["deps"]:
            relpath, digest = dep
            if not isinstance(relpath, str) or not isinstance(digest, str):
                return None
            try:
                if _digest(read(relpath)) != digest:
                    return None
            except Exception:
                return None
    except (OSError, ValueError, KeyError, TypeError, IndexError, RecursionError):
        return None
    return Verdict(path, ok, problems, cached=True)


def _problem(item: Any) -> Problem:
    path, line, col, message, severity, hint = item
    if not (isinstance(path, str) and isinstance(message, str) and (hint is None or isinstance(hint, str))):
        raise TypeError("problem fields")
    if type(line) is not int or type(col) is not int:
        raise TypeError("problem position")
    return Problem(path, line, col, message, Severity(severity), hint)


def _write(file: Path, key: str, verdict: Verdict, deps: list[list[str]], signer: Callable[[bytes], str]) -> None:
    problems = [[p.path, p.line, p.col, p.message, p.severity.value, p.hint] for p in verdict.problems]
    body = json.dumps({"format": FORMAT, "key": key, "path": verdict.path, "ok": verdict.ok, "problems": problems, "deps": deps})
    with contextlib.suppress(OSError):  # a read-only repository: the check simply runs next time
        write_atomically(file, json.dumps({"body": body, "mac": signer(body.encode())}))


# --------------------------------------------------------------------------- what the key is made of
@cache
def fingerprint() -> str:
    """The checking code and its libraries: every source file of `workbench.core` and the
    packaged schemas, the workbench version and the versions of the libraries the loader uses."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256(str(FORMAT).encode())
    for library in ("workbench", *_LIBRARIES):
        try:
            digest.update(f"\0{library}={metadata.version(library)}".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"\0{library}=?".encode())
    for source in sorted([*(package / "core").rglob("*.py"), *(package / "schema").glob("*.json")]):
        digest.update(f"\0{source.relative_to(package).as_posix()}\0".encode() + source.read_bytes())
    return digest.hexdigest()


def _signer() -> Callable[[bytes], str] | None:
    """HMAC-SHA256 with this user's cache key (made on first use, readable by the user only);
    None when there is no place for it: then nothing is cached."""
    return _signer_in(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "workbench")


@cache
def _signer_in(base: Path) -> Callable[[bytes], str] | None:
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
        secret = file.read_bytes()
    except OSError:
        return None
    if len(secret) < 32:
        return None
    return lambda data: hmac.new(secret, data, hashlib.sha256).hexdigest()
