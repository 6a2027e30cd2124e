"""Prompt files: where a prompt lives at a revision, reading and parsing it, the working copy.

One rule decides which files are prompts (`core.model.is_prompt_path`); one reader serves
`file://` references at a revision; one writer saves files atomically, keeping their mode.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from pathlib import Path

from workbench.core.model import (
    PROMPTS_DIR,
    TESTS_SUFFIXES,
    LoadResult,
    Problem,
    is_prompt_path,
    prompt_file_text,
    prompt_name_from_path,
)
from workbench.core.names import (
    UnsafePath,
    prompt_name_problem,
    prompt_path_problem,
    prompt_paths,
    resolve_reference,
    same_prompt_name,
)
from workbench.core.partials import is_partial_path, partial_closure
from workbench.core.versions import PromptRef, WorkingState
from workbench.errors import NotFound, RepoError
from workbench.services.deployment_events import current_events
from workbench.services.prompts import (
    discover_prompt_files,
    read_confined,
    read_confined_bytes,
    relative,
)
from workbench.services.revisions import Target, describe, environment, names_working_copy, resolve, target
from workbench.services.session import RepoSession

_FILE_REF_RE = re.compile(r"""file://([^\s"'#]+)""")


# --------------------------------------------------------------------------- where a prompt lives
def candidate_paths(name: str) -> list[str]:
    """The repo paths prompt `name` may have (`support/x` -> prompts/support/x.yaml|yml).

    Raises:
        PromptError: the name breaks the name rule (`core.names`): nothing outside prompts/,
            nothing a Git command could read as an option.
    """
    if is_prompt_path(name) and prompt_path_problem(name) is None:
        return [name]
    return list(prompt_paths(name))


def path_at(session: RepoSession, name: str, commit: str | None) -> str | None:
    """The repo path of prompt `name` at `commit` (None = working copy), renames followed."""
    for path in candidate_paths(name):
        if commit is None:
            if (session.root / path).is_file():
                return path
        elif session.store.blob_sha(commit, path) is not None:
            return path
    if commit is not None:
        return _renamed_path_at(session, name, commit)
    return None


def _renamed_path_at(session: RepoSession, name: str, commit: str) -> str | None:
    """The path a renamed prompt had at an older commit (follows renames from HEAD)."""
    store = session.store
    current = next((p for p in candidate_paths(name) if store.blob_sha("HEAD", p)), None)
    if current is None or not store.has_commits():
        return None
    for info, change, path, _old in store.log_path(current, limit=200):
        if change == "D":
            continue
        if info.sha == commit or store.is_ancestor(info.sha, commit):
            return path if store.blob_sha(commit, path) else None
    return None


def prompt_path(session: RepoSession, name: str, rev: str | None = None) -> str | None:
    """The repo path of prompt `name` at `rev` (None if it does not exist there)."""
    return path_at(session, name, target(session, name, rev).commit)


# --------------------------------------------------------------------------- reading
def read_at(session: RepoSession, name: str, found: Target) -> tuple[str | None, str | None]:
    """(path, text) of prompt `name` at a resolved target; (None, None) when absent."""
    path = path_at(session, name, found.commit)
    if path is None:
        return None, None
    if found.commit is None:
        try:
            return path, read_confined_bytes(session.root, path).decode("utf-8", "replace")
        except (OSError, ValueError):  # ValueError: past the limit, or a link out of prompts/
            return path, None
    return path, session.store.read_text(found.commit, path)


def read_text(session: RepoSession, name: str, rev: str | None = None) -> str | None:
    """The file text of a prompt at a revision (None when it does not exist there)."""
    return read_at(session, name, target(session, name, rev))[1]


def blob_sha(session: RepoSession, name: str, rev: str | None = None) -> str | None:
    """The Git blob id of the prompt file at `rev` (computed for the working copy)."""
    found = target(session, name, rev)
    if found.commit is None:
        text = read_at(session, name, found)[1]
        if text is None:
            return None
        data = text.encode("utf-8")
        return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
    path = path_at(session, name, found.commit)
    return session.store.blob_sha(found.commit, path) if path else None


def prompt_at(session: RepoSession, name: str, rev: str | None = None) -> LoadResult:
    """Read and parse prompt `name` at `rev` (None = working copy), without a checkout.

    Returns a `LoadResult` whose problems say why it failed, including "does not exist".
    """
    found = target(session, name, rev)
    path = path_at(session, name, found.commit)
    if path is None:
        shown = candidate_paths(name)[0]
        where = describe(rev) if found.commit is None else found.label
        return LoadResult(shown, None, (Problem(shown, 0, 0, f"{name} does not exist at {where}"),))
    return load_path(session, path, found.commit)


def load_path(session: RepoSession, path: str, commit: str | None) -> LoadResult:
    """Parse the file at `path` at `commit` (None = working copy); cached per commit."""
    from workbench.core.loader import load_prompt

    cached = session.cache.parsed.get((commit, path)) if commit is not None else None
    if cached is not None:
        return cached
    text = read_prompt_text(session, path, commit)
    if isinstance(text, LoadResult):
        return text
    result = load_prompt(text, path, read_file=file_reader(session, commit))
    if commit is not None:
        session.cache.remember_parsed((commit, path), result)
    return result


def read_prompt_text(session: RepoSession, path: str, commit: str | None) -> str | LoadResult:
    """The text of the file at `path` at `commit` (None = working copy), or the failed load that
    says why there is none."""
    if commit is None:
        try:
            data: bytes | None = read_confined_bytes(session.root, path)
        except (OSError, ValueError) as err:  # ValueError: a link out of prompts/
            return LoadResult(path, None, (Problem(path, 0, 0, f"cannot read {path}: {err}"),))
    else:
        data = session.store.read_blob(commit, path)
    if data is None:
        return LoadResult(path, None, (Problem(path, 0, 0, f"{path} does not exist at {str(commit)[:10]}"),))
    return prompt_file_text(data, path)  # never decoded with replacements: a committed copy was "invalid YAML"


def file_reader(session: RepoSession, commit: str | None) -> Callable[[str], str]:
    """The one reader of `file://` references, given the repo path `core.names.resolve_reference`
    made of them: at `commit` from Git, else from the working copy inside prompts/ (links too)."""

    def read_file(relpath: str) -> str:
        if commit is None:
            return read_confined(session.root, relpath)
        text = session.store.read_text(commit, relpath)
        if text is None:
            raise FileNotFoundError(f"{relpath} does not exist at {commit[:10]}")
        return text

    return read_file


def referenced_files(path: str, text: str | None) -> list[str]:
    """Repo paths of the files the prompt at `path` (with content `text`) references with file://
    (references that break the rule of `core.names.resolve_reference` are left out)."""
    if not text or "file://" not in text:
        return []
    found = set()
    for ref in _FILE_REF_RE.findall(text):
        try:
            found.add(resolve_reference(ref, path))
        except UnsafePath:
            continue
    return sorted(found)


def once_reader(session: RepoSession, commit: str | None) -> Callable[[str], str]:
    """`file_reader` that keeps the texts it read: what one version's suite, its check and its
    diff read, each file once (one that could not be read is tried again)."""
    reader = file_reader(session, commit)
    texts: dict[str, str] = {}

    def read_file(relpath: str) -> str:
        text = texts.get(relpath)
        if text is None:
            text = texts[relpath] = reader(relpath)
        return text

    return read_file


def text_reader(session: RepoSession, commit: str | None, *, reader: Callable[[str], str] | None = None) -> Callable[[str], str | None]:
    """Reads a repository file's text at `commit` (None: the working copy, confined to prompts/);
    None when it does not exist or cannot be read there. `reader`: the `file_reader` to ask."""
    ask = reader or file_reader(session, commit)

    def read(relpath: str) -> str | None:
        try:
            return ask(relpath)
        except (OSError, ValueError, LookupError):
            return None

    return read


def partials_of(session: RepoSession, text: str | None, commit: str | None) -> dict[str, str | None]:
    """The partials the prompt text uses at `commit` (None: working copy), transitively:
    path -> text (None when missing). Read from the text itself, so a prompt that does not load
    still shows its partials."""
    return partial_closure(text, text_reader(session, commit))


def read_dependencies(path: str | None, text: str | None, read: Callable[[str], str | None]) -> tuple[dict[str, str | None], list[str]]:
    """What the prompt version at `path` (its `text`) reads besides itself, the files its
    assertions name aside (`suite_files.read_suite` adds those): (the partials its templates
    include, transitively: path -> text by `read`, None when missing; the repository paths it
    references with `file://`, sorted). A path in both is a partial."""
    return partial_closure(text, read), referenced_files(path, text) if path else []


def dependency_files(session: RepoSession, path: str, text: str | None, commit: str | None) -> list[str]:
    """Every file a prompt version depends on besides itself: the tests files it references and
    the partials its templates include (transitively), at `commit` (None: working copy): what
    serving it needs (`read_dependencies`; `suite_files.read_suite` adds what its tests read)."""
    partials, references = read_dependencies(path, text, text_reader(session, commit))
    return sorted({*partials, *references})


def referenced_files_at(session: RepoSession, path: str, rev: str) -> list[str]:
    """The files a prompt depends on (tests files, partials), read from the working copy when
    present, else at `rev`."""
    text = None
    if (session.root / path).is_file():
        try:
            text = read_confined(session.root, path)
        except (OSError, UnicodeDecodeError, ValueError):
            text = None
        return dependency_files(session, path, text, None)
    commit = session.store.try_resolve(rev)
    text = session.store.read_text(commit, path) if commit else None
    return dependency_files(session, path, text, commit) if commit else referenced_files(path, text)


def tests_file(session: RepoSession, path: str | None, text: str | None, commit: str | None) -> tuple[str | None, str | None]:
    """(path, text) of the tests file a prompt version references, at that version."""
    refs = referenced_files(path, text) if path else []
    if not refs:
        return None, None
    if commit is None:
        try:
            return refs[0], read_confined(session.root, refs[0])
        except (OSError, ValueError):  # ValueError: past the limit, not UTF-8, or a link out of prompts/
            return refs[0], None
    return refs[0], session.store.read_text(commit, refs[0])


# --------------------------------------------------------------------------- listing
def list_prompts(session: RepoSession, rev: str | None = None) -> list[PromptRef]:
    """Every prompt at a revision, sorted by name.

    For an environment, each deployed prompt at the commit that environment runs.
    """
    if names_working_copy(session, rev):
        paths = (f"{folder}/{file}" for folder, files in _walk_prompts(session.root) for file in files)
        return sorted((PromptRef(prompt_name_from_path(rel), rel) for rel in paths if is_prompt_path(rel)), key=lambda r: r.name)
    assert rev is not None
    env = environment(session, rev)
    if env is not None:
        refs = []
        for event in current_events(session, env=env).values():
            path = path_at(session, event.prompt, event.commit)
            if path is not None:
                refs.append(PromptRef(event.prompt, path, session.store.blob_sha(event.commit, path) or "", event.commit))
        return sorted(refs, key=lambda r: r.name)
    return sorted(session.store.list_prompt_files(resolve(session, rev)), key=lambda r: r.name)


def tests_file_owner(path: str) -> str | None:
    """`prompts/x.tests.yaml` -> `prompts/x.yaml`: the prompt a tests file belongs to by name."""
    if not path.endswith(TESTS_SUFFIXES):
        return None
    return path[: path.rindex(".tests.")] + ".yaml"


def partial_users(session: RepoSession, rev: str | None = None) -> dict[str, list[str]]:
    """Which prompts use each partial at `rev` (None: the working copy): partial path -> names.

    A partial that no prompt uses is listed with no names. Read once a session for a commit
    (each diff asks: it read every prompt's partials again on every History move), and for the
    working copy again only when a file or folder it read changed (`_working_partial_users`).
    """
    if names_working_copy(session, rev):
        users = _working_partial_users(session)
    else:
        commit = session.store.resolve(str(rev))
        known = session.cache.partial_users
        if commit not in known:
            if len(known) >= _USERS_LIMIT:
                known.clear()
            known[commit] = _users(list_prompts(session, commit), list_partials(session, commit), text_reader(session, commit))
        users = known[commit]
    return {partial: list(names) for partial, names in users.items()}


_USERS_LIMIT = 256  # commits whose partials' users a session keeps
_RACY_NS = 2 * 10**9  # a file changed this recently may change again within its timestamp's tick


def _users(prompts: Sequence[PromptRef], partials: Sequence[str], read: Callable[[str], str | None]) -> dict[str, list[str]]:
    users: dict[str, list[str]] = {}
    for ref in prompts:
        for partial in partial_closure(read(ref.path), read):
            users.setdefault(partial, []).append(ref.name)
    for partial in partials:
        users.setdefault(partial, [])
    return dict(sorted(users.items()))


def _working_partial_users(session: RepoSession) -> dict[str, list[str]]:
    """`partial_users` of the working copy, kept with what decided it: the identity (`_identity`)
    of every folder under prompts/ it listed and every file it read (or found missing). Used
    while none of those changed; not kept when one changed within `_RACY_NS` of the reading, as
    a change within the same timestamp tick could not be told apart (Git's "racy" files)."""
    root, cached = session.root, session.cache.working_partial_users
    if cached is not None and all(_identity(root / path) == known for path, known in cached[0].items()):
        return cached[1]
    started = time.time_ns()
    seen: dict[str, tuple[int, ...] | None] = {PROMPTS_DIR: _identity(root / PROMPTS_DIR)}
    read = text_reader(session, None)

    def recording(relpath: str) -> str | None:
        seen.setdefault(relpath, _identity(root / relpath))  # before the read: a change after it is seen
        return read(relpath)

    prompts: list[PromptRef] = []
    partials: list[str] = []
    for folder, files in _walk_prompts(root):
        seen[folder] = _identity(root / folder)
        prompts.extend(PromptRef(prompt_name_from_path(rel), rel) for rel in (f"{folder}/{f}" for f in files) if is_prompt_path(rel))
        partials.extend(rel for rel in (f"{folder}/{f}" for f in files) if is_partial_path(rel))
    users = _users(sorted(prompts, key=lambda r: r.name), sorted(partials), recording)
    if all(known is None or known[3] < started - _RACY_NS for known in seen.values()):
        session.cache.working_partial_users = (seen, users)
    return users


def _identity(path: Path) -> tuple[int, ...] | None:
    """What tells a file (what a link leads to) or folder apart from its next state: inode,
    device, size, modification and change times; None when missing or unreadable."""
    try:
        found = os.stat(path)
    except (OSError, ValueError):
        return None
    return (found.st_ino, found.st_dev, found.st_size, found.st_mtime_ns, found.st_ctime_ns)


def _walk_prompts(root: Path) -> Iterator[tuple[str, list[str]]]:
    """(folder relative to `root`, its file names) for prompts/ and every folder below it but
    hidden ones, in order: what the working copy's prompts and partials are listed from."""
    skip = len(str(root)) + 1
    for folder, dirs, files in os.walk(os.path.join(root, PROMPTS_DIR)):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        yield folder[skip:].replace(os.sep, "/"), files


def list_partials(session: RepoSession, rev: str | None = None) -> list[str]:
    """Paths of every partial file (`prompts/**/*.jinja`) at `rev` (None: the working copy)."""
    if names_working_copy(session, rev):
        return sorted(rel for folder, files in _walk_prompts(session.root) for rel in (f"{folder}/{f}" for f in files) if is_partial_path(rel))
    return sorted(p for p in session.store.list_files(session.store.resolve(str(rev)), PROMPTS_DIR + "/") if is_partial_path(p))


def working_states(session: RepoSession, *, check_clean: bool = False) -> dict[str, WorkingState]:
    """The state of every prompt in the working copy relative to HEAD.

    A changed tests file or partial marks the prompts that use it as modified. A name that breaks
    the name rule, and modified and new files that fail to load, are `INVALID`; with `check_clean`, clean files are parsed too
    (slower on big repositories).
    """
    states: dict[str, WorkingState] = {ref.name: WorkingState.CLEAN for ref in list_prompts(session, None)}
    changes = session.store.status([PROMPTS_DIR + "/"])
    changed_partials = {change.path for change in changes if is_partial_path(change.path)}
    if changed_partials:
        # A changed partial changes every prompt that includes it (directly or not).
        for partial, names in partial_users(session, None).items():
            if partial in changed_partials:
                for name in names:
                    if states.get(name) is WorkingState.CLEAN:
                        states[name] = WorkingState.MODIFIED
    for change in changes:
        owner = tests_file_owner(change.path)
        if owner is not None:
            # `name.tests.yaml` belongs to `name`: a changed tests file changes that prompt.
            if states.get(prompt_name_from_path(owner)) is WorkingState.CLEAN:
                states[prompt_name_from_path(owner)] = WorkingState.MODIFIED
            continue
        if is_prompt_path(change.path):
            states[prompt_name_from_path(change.path)] = change.state
    for name, state in list(states.items()):
        if state is not WorkingState.DELETED and prompt_name_problem(name) is not None:
            # `draft@2.yaml`, `bad\xff.yaml`: invalid, not the whole tree's failure. Asked of clean
            # files too (no parse needed): a committed one was shown as a good prompt.
            states[name] = WorkingState.INVALID
            continue
        if state in (WorkingState.MODIFIED, WorkingState.NEW) or (check_clean and state is WorkingState.CLEAN):
            path = path_at(session, name, None)
            if path is not None and not load_path(session, path, None).ok:
                states[name] = WorkingState.INVALID
    return dict(sorted(states.items()))


def first_prompt(states: Mapping[str, str], broken: Collection[str] = ()) -> str | None:
    """The prompt a session opens on: the first in the tree (`working_states` is in its order)
    that loads, so the first screen is not one file's error; the first of all if none loads.
    `broken`: clean prompts whose content was found not to load (`parse_cache.broken_before_first`)."""
    loads = (name for name, state in states.items() if state != WorkingState.INVALID and name not in broken)
    return next(loads, next(iter(states), None))


def uncommitted_paths(session: RepoSession) -> list[str]:
    """Every changed path of the working copy (not only prompts)."""
    return sorted({c.path for c in session.store.status()})


def typed_prompt_path(session: RepoSession, typed: str) -> str | None:
    """The prompt file a typed name (or `prompts/...` path) that names none means, by the lookup
    rule (`core.names.same_prompt_name`), among the prompts of the working copy and of HEAD (a
    deleted file is committed by its name too); None when none or several."""
    name = prompt_name_from_path(typed) if is_prompt_path(typed) else typed
    if prompt_name_problem(name) is not None:
        return None
    files = {relative(session.root, path) for path in discover_prompt_files(session.root)}
    if session.store.has_commits():
        files.update(ref.path for ref in session.store.list_prompt_files("HEAD"))
    by_name: dict[str, str] = {}
    for path in sorted(files):  # .yaml before .yml, as `prompt_paths` looks
        by_name.setdefault(prompt_name_from_path(path), path)
    meant = same_prompt_name(name, by_name)
    return by_name[meant] if meant is not None else None


def paths_for(session: RepoSession, items: Sequence[str]) -> list[str]:
    """Prompt names or repo-relative paths (directories allowed) -> repo-relative paths.

    A prompt named by its name brings the tests files it references along.
    """
    root = session.root
    store = session.store
    has_commits = store.has_commits()

    def exists(path: str) -> bool:
        return (root / path).exists() or (has_commits and store.is_tracked(path))

    paths = []
    for item in items:
        candidate = item.replace("\\", "/").rstrip("/")
        if Path(item).is_absolute():
            try:
                candidate = Path(item).resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                raise RepoError(f"{item} is outside the repository {root}") from None
        if posixpath.normpath(candidate).startswith("../"):
            raise RepoError(f"{item} is outside the repository {root}")
        if exists(candidate):
            paths.append(candidate)
            continue
        found = next((p for p in candidate_paths(item) if exists(p)), None)
        if found is None and (meant := typed_prompt_path(session, candidate)) is not None:
            found = meant
        if found is None:
            raise NotFound(f"no prompt or file named {item!r}", hint="name a prompt (support/summarize) or a path")
        paths.append(found)
        paths.extend(ref for ref in referenced_files_at(session, found, "HEAD") if exists(ref))
    return list(dict.fromkeys(paths))
