"""What a version's suite reads besides the prompt file, and the key its stored results go by.

One rule (`read_suite`) says which files a version reads, for History, the review screen,
`ci check`, the diff of two versions and the results key alike:

| file | read by | in the key as |
| --- | --- | --- |
| partials its templates include (`core.partials`) | the renderer | their texts |
| the other files it references with `file://` (tests files) | the loader | their texts |
| files its assertions name (`core.assertion_files`: values, python checks, transforms) | the assertions | their Git blob ids |

A path that is both a partial and a reference is a partial. Which files the assertions name
takes a parse, asked only when a text names a file besides its tests files, and remembered
with the version's verdict (`parse_cache.assertion_files_of`): a version checked before is not
parsed again.

A stored result stands for one prompt and one suite. The key (`content_id`) is the prompt file's
blob id when nothing else is read, else a hash of it and of every other file the version reads,
so a result found for a commit, or for the working copy, is one of that exact suite; a change
to any of these files starts a version without one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from workbench.core.assertion_files import MAX_ASSERTION_FILE_BYTES, assertion_files
from workbench.core.limited_read import read_inside
from workbench.core.model import Prompt
from workbench.services.parse_cache import assertion_files_of
from workbench.services.prompt_files import (
    blob_sha,
    once_reader,
    read_at,
    read_dependencies,
    referenced_files_at,
    text_reader,
)
from workbench.services.revisions import target
from workbench.services.session import RepoSession

MISSING = "-"  # the key's mark of a named file that does not exist at the version
UNREADABLE = "?"  # ... of one the working copy has but cannot give (a FIFO, too large, a link out)
PARTIAL, TESTS, ASSERTIONS = "partial", "tests", "assertions"  # what reads a file (`Suite.readers`)
_FOLLOWED_LIMIT = 4096  # the files looked up at commits a session keeps


@dataclass(frozen=True)
class Suite:
    """What one version of a prompt reads besides its own file (`read_suite`)."""

    commit: str | None  # the version's commit; None: the working copy
    partials: Mapping[str, str | None]  # its templates include, transitively: path -> text (None: missing)
    tests: Mapping[str, str | None]  # the files it references with `file://` that are no partial: path -> text
    checks: tuple[str, ...]  # the files its assertions name, sorted
    tests_file: str | None = None  # its first `file://` reference: the tests file a diff shows as test sections

    @property
    def readers(self) -> dict[str, str]:
        """Every file it reads -> what reads it: `PARTIAL`, `TESTS` or `ASSERTIONS` (a file read
        two ways is a partial, else its assertions')."""
        reads = dict.fromkeys(self.tests, TESTS)
        reads.update(dict.fromkeys(self.checks, ASSERTIONS))
        reads.update(dict.fromkeys(self.partials, PARTIAL))
        return reads

    @property
    def paths(self) -> list[str]:
        return sorted(self.readers)

    @property
    def tests_text(self) -> str | None:
        """The text of `tests_file` (None: none, or not there)."""
        if self.tests_file is None:
            return None
        return self.partials[self.tests_file] if self.tests_file in self.partials else self.tests.get(self.tests_file)


def read_suite(session: RepoSession, path: str | None, text: str | None, commit: str | None, *, prompt: Prompt | None = None) -> Suite:
    """The files the version of the prompt at `path` (its `text`) at `commit` (None: the working
    copy) reads, each read once (the check that finds its assertion files included). `prompt`:
    the version already parsed by the caller. A version that is not there reads nothing."""
    read = once_reader(session, commit)
    read_text = text_reader(session, commit, reader=read)
    partials, references = read_dependencies(path, text, read_text)
    tests = {reference: read_text(reference) for reference in references if reference not in partials}
    checks = _checked_files(session, path, text, tests, commit, prompt=prompt, read=read)
    return Suite(commit, partials, tests, tuple(checks), references[0] if references else None)


def suite_dependencies(session: RepoSession, path: str, text: str | None, commit: str | None) -> list[str]:
    """`read_suite`'s files, sorted: every file a prompt version depends on besides itself (what
    History, the review screen and `ci check` follow). Releases and export keep to
    `prompt_files.dependency_files`, what serving the prompt needs."""
    return read_suite(session, path, text, commit).paths


def content_id(session: RepoSession, name: str, rev: str | None = None, *, prompt: Prompt | None = None) -> str | None:
    """What identifies a version's content for stored results (see the module docstring); None
    when the prompt does not exist at `rev` (None: the working copy). `prompt`: the version
    already parsed by the caller, so its assertion files are not parsed for again."""
    found = target(session, name, rev)
    blob = blob_sha(session, name, rev)
    if blob is None:
        return None
    path, text = read_at(session, name, found)
    suite = read_suite(session, path, text, found.commit, prompt=prompt)
    if not suite.partials and not suite.tests and not suite.checks:
        return blob
    digest = hashlib.sha1(blob.encode())
    for partial, partial_text in suite.partials.items():  # first and alone as before: a partial's key is unchanged
        digest.update(f"\0{partial}\0{partial_text}".encode())
    for tests_file, tests_text in suite.tests.items():
        digest.update(f"\0tests\0{tests_file}\0{tests_text}".encode())
    for check, check_id in file_ids(session, suite.checks, found.commit).items():
        digest.update(f"\0checks\0{check}\0{check_id}".encode())
    return digest.hexdigest()


def _checked_files(
    session: RepoSession,
    path: str | None,
    text: str | None,
    tests_texts: Mapping[str, str | None],
    commit: str | None,
    *,
    prompt: Prompt | None,
    read: Callable[[str], str],
) -> list[str]:
    """Repository paths of the files the suite of the prompt at `path` (`text`, its tests files'
    `tests_texts`) names in its assertions (`core.assertion_files`), at `commit` (None: the
    working copy). Asked only when a text names a file besides its tests files: most suites
    name none. A version that does not load names none (it does not run)."""
    if path is None or not _may_name_files(text, tests_texts):
        return []
    if prompt is not None:
        return assertion_files(prompt.tests)
    return assertion_files_of(session, path, commit, read=read)


def _may_name_files(text: str | None, tests_texts: Mapping[str, str | None]) -> bool:
    """Whether a text names a file besides the tests files that exist (read by the loader)."""
    found = [tests_text for tests_text in tests_texts.values() if tests_text is not None]
    return any("file://" in tests_text for tests_text in found) or (text or "").count("file://") > len(found)


def file_ids(session: RepoSession, paths: Sequence[str], commit: str | None) -> dict[str, str]:
    """path -> the Git blob id of its content at `commit` (one `cat-file` for all), or of the
    working copy's file (computed), `MISSING` or `UNREADABLE`."""
    return {path: found.id for path, found in look_up(session, paths, commit).items()}


@dataclass(frozen=True)
class Found:
    """A file a suite reads, as one look-up found it at a version."""

    id: str  # its Git blob id, MISSING or UNREADABLE
    blob: tuple[str, int] | None = None  # at a commit: (blob id, size), to read its bytes by
    data: bytes | None = None  # in the working copy: the bytes its id was computed from


def look_up(session: RepoSession, paths: Sequence[str], commit: str | None) -> dict[str, Found]:
    """What `file_ids` says of each path, with what its content is read by: at `commit`, its blob
    (one `cat-file` for all the session has not looked up there); in the working copy, the bytes
    read once for the id."""
    if commit is None:
        return {path: _working_file(session, path) for path in paths}
    known = session.cache.followed  # a commit's files never change: each looked up once a session
    wanted = [path for path in paths if (commit, path) not in known]
    if wanted:  # a link inside the repository is its target's content, as in the working copy
        if len(known) > _FOLLOWED_LIMIT:
            known.clear()
        known.update(zip([(commit, path) for path in wanted], session.store.followed_blobs(commit, wanted), strict=True))
    blobs = {path: known.get((commit, path)) for path in paths}
    return {path: Found(blob[0], blob=blob) if blob else Found(MISSING) for path, blob in blobs.items()}


def _working_file(session: RepoSession, path: str) -> Found:
    """The working copy's file, read once: never from outside the repository (a link out is
    `UNREADABLE`, as the assertion refuses it), and its id is that of the bytes shown."""
    try:
        data = read_inside(session.root, path, MAX_ASSERTION_FILE_BYTES, "the limit of a file an assertion names")
    except FileNotFoundError:
        return Found(MISSING)
    except (OSError, ValueError):  # a link out (`Outside`), not a regular file, unreadable, too large
        return Found(UNREADABLE)
    return Found(hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(), data=data)


def assertion_files_at(session: RepoSession, prompt: Prompt, commit: str) -> dict[str, bytes | None]:
    """The files the suite of `prompt` (loaded at `commit`) names in its assertions, as they are
    at `commit` (None: not there): what a run of that revision grades with, whatever the
    working copy holds. Read from Git before the run, under the caller's Git lock."""
    paths = assertion_files(prompt.tests)
    blobs = session.store.followed_blobs(commit, paths) if paths else []
    return {path: _blob_bytes(session, blob) for path, blob in zip(paths, blobs, strict=True)}


def _blob_bytes(session: RepoSession, blob: tuple[str, int] | None) -> bytes | None:
    """A blob's bytes, unless it is over what an assertion reads (then as if absent: never read whole)."""
    if blob is None or blob[1] > MAX_ASSERTION_FILE_BYTES:
        return None
    found = session.store.read_object(blob[0])
    return found[2] if found is not None else None


@dataclass(frozen=True)
class ReadFile:
    """A file a suite reads that differs between two versions, its text on each side (None: not there)."""

    path: str
    reader: str  # TESTS or ASSERTIONS
    left: str | None
    right: str | None


def changed_reads(session: RepoSession, left: Suite, right: Suite) -> list[ReadFile]:
    """The files the suite reads at either version besides its partials (the diff shows them as
    sections of their own) whose content differs between the two: why a version whose prompt
    file is unchanged is in History, and what its diff shows."""
    reads: dict[str, str] = {}
    for suite in (left, right):
        for read_path, reader in suite.readers.items():
            reads.setdefault(read_path, reader)
    paths = sorted(read_path for read_path, reader in reads.items() if reader != PARTIAL)
    before, after = look_up(session, paths, left.commit), look_up(session, paths, right.commit)
    return [
        ReadFile(path, reads[path], _shown_text(session, before[path]), _shown_text(session, after[path]))
        for path in paths
        if before[path].id != after[path].id
    ]


def _shown_text(session: RepoSession, found: Found) -> str | None:
    """What a diff shows of a file the suite reads: its text; None where it is not there; a line
    naming its content where that is no UTF-8 text an assertion could read (binary, too large).
    The content `look_up` found: the working copy's is not read again."""
    if found.id == MISSING:
        return None
    data = _blob_bytes(session, found.blob) if found.blob is not None else found.data
    with contextlib.suppress(UnicodeDecodeError):
        if data is not None:
            return data.decode("utf-8")
    return f"(not shown: not UTF-8 text, over {MAX_ASSERTION_FILE_BYTES >> 20} MiB or not a regular file; content {found.id[:10]})"


def suite_dependencies_at(session: RepoSession, path: str, rev: str) -> list[str]:
    """`suite_dependencies` read from the working copy when it has the prompt, else at `rev`:
    the files whose commits are the prompt's History."""
    commit = None
    if not (session.root / path).is_file():
        commit = session.store.try_resolve(rev)
        if commit is None:
            return referenced_files_at(session, path, rev)
    return suite_dependencies(session, path, text_reader(session, commit)(path), commit)
