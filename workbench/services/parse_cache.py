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
| the checking code and the libraries it uses | a fingerprint of `workbench/core` and the schemas (each file's path, size and modification time) and the versions of jsonschema, PyYAML and Jinja2, in the key |
| who wrote the entry | an HMAC with a per-user key kept outside the repository (`~/.cache/workbench/`) |

Entries are small JSON files under `.git/workbench/parsed/` (one per version, written atomically);
anything unreadable, oversized, malformed or unsigned is ignored and rewritten by a fresh check.
At most 64 entries per bucket (256 buckets by key): the least recently used go (`verdicts`).
A dependency that could not be read (a missing tests file) is never cached: the check runs.
A prompt's verdict also keeps the files its suite's assertions name (`assertion_files_of`): they
depend on its text, path, tests files and the checking code only, all covered above, so History
and the diff learn them without a parse.
The app's diff pane and its tree's marks of prompts that do not load use verdicts alone; a test run (`load_checked_at`) still loads the prompt but
skips the JSON Schema check of a version whose signed verdict says it passed. Releases,
deployments and `validate` always check in full.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from workbench.core.assertion_files import assertion_files
from workbench.core.model import LoadResult
from workbench.core.versions import WorkingState
from workbench.services.prompt_files import file_reader, load_path, path_at, prompt_at, read_prompt_text
from workbench.services.revisions import target
from workbench.services.session import RepoSession
from workbench.services.verdicts import (
    Verdict,
    digest,
    key_of,
    read_entry,
    user_signer,
    write_entry,
)

__all__ = ["Verdict", "assertion_files_of", "broken_before_first", "check_at", "does_not_load", "load_checked_at"]


def check_at(session: RepoSession, name: str, rev: str | None = None) -> Verdict:
    """Whether prompt `name` loads at `rev` (None = working copy), and its problems: from the
    cache when this exact version was checked before, else by loading it (and remembering)."""
    found = target(session, name, rev)
    path = path_at(session, name, found.commit)
    if path is None:
        return _verdict(prompt_at(session, name, rev))  # says it does not exist, and where
    verdict, _ = _checked(session, path, found.commit, need_prompt=False)
    return verdict


def broken_before_first(session: RepoSession, states: Mapping[str, WorkingState]) -> frozenset[str]:
    """The clean prompts that do not load among those `prompt_files.first_prompt` would open on
    before the first that does (tree order). A clean file's *content* was never checked: the app
    opened on a committed file that does not load, and marked only invalid names. Only those files
    are checked here (one, usually: the first, whose verdict then answers the first diff's check)."""
    broken: set[str] = set()
    for name, state in states.items():
        if state is WorkingState.INVALID:
            continue
        if state is not WorkingState.CLEAN or _working_verdict(session, name).ok:
            break
        broken.add(name)
    return frozenset(broken)


def does_not_load(session: RepoSession, names: Iterable[str]) -> list[str]:
    """Of `names` (prompts of the working copy), those that do not load: the tree's marks for the
    clean files `working_states` does not parse (the app asks after its first paint, a few at a time)."""
    return [name for name in names if not _working_verdict(session, name).ok]


def _working_verdict(session: RepoSession, name: str) -> Verdict:
    path = path_at(session, name, None)
    if path is None:  # gone since the tree was read: the next reload drops it
        return Verdict(name, True, ())
    return _checked(session, path, None, need_prompt=False)[0]


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


def assertion_files_of(session: RepoSession, path: str, commit: str | None, *, read: Callable[[str], str] | None = None) -> list[str]:
    """The files the suite of the prompt at `path` names in its assertions (`core.assertion_files`),
    at `commit` (None: the working copy); none when it does not load (it does not run). They are
    kept with the version's verdict, so a version checked before (shown in the app, diffed, in
    History) is not parsed again to learn them. `read`: the version's `prompt_files.file_reader`,
    when the caller read the files it reads already (the check reads each again)."""
    parsed = session.cache.parsed.get((commit, path)) if commit is not None else None
    if parsed is not None:
        return _files_of(parsed)
    files = _checked(session, path, commit, need_prompt=False, need_files=True, read=read)[0].files
    return list(files or ())


def _checked(
    session: RepoSession, path: str, commit: str | None, *, need_prompt: bool, need_files: bool = False, read: Callable[[str], str] | None = None
) -> tuple[Verdict, LoadResult | None]:
    text = read_prompt_text(session, path, commit)
    if isinstance(text, LoadResult):
        return _verdict(text), text
    signer = user_signer()
    if signer is None:
        result = load_path(session, path, commit)
        return _verdict(result), result
    key = key_of(path, text)
    git_dir = session.store.git_dir
    read = read or file_reader(session, commit)
    cached = read_entry(git_dir, key, path, signer, read, touch=not session.read_only)
    known = cached is not None and (cached.files is not None or not need_files)  # an older entry keeps no files: checked again
    if cached is not None and known and (not need_prompt or not cached.ok):
        return cached, None  # before the loader's import: that and jinja2's are what this saves
    from workbench.core.loader import load_prompt

    if cached is not None and known:
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
        deps.append([relpath, digest(content)])
        return content

    result = load_prompt(text, path, read_file=recording)
    if commit is not None:
        session.cache.remember_parsed((commit, path), result)
    verdict = _verdict(result)
    if not failed and not session.read_only:  # a read-only session writes nothing under .git
        write_entry(git_dir, key, verdict, deps, signer)
    return verdict, result


def _verdict(result: LoadResult) -> Verdict:
    return Verdict(result.path, result.ok, result.problems, files=tuple(_files_of(result)))


def _files_of(result: LoadResult) -> list[str]:
    """What `assertion_files_of` says of a loaded version: a version that does not load names none."""
    return assertion_files(result.prompt.tests) if result.prompt is not None else []
