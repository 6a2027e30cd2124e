"""Workspace: the versioning use cases shared by the CLI and the TUI.

One `Workspace` is one session on one repository: it owns one `GitStore` (one GitPython
`Repo`, one persistent `cat-file --batch`) and must be `close()`d. Every method returns plain
dataclasses (`workbench.core.versions`, `workbench.core.diff`, `workbench.core.model`).

Revisions accepted everywhere a `rev` is taken:
- `None` or `"WORKTREE"`: the working copy;
- `<name>@v<N>`: a release tag;
- an environment name from `workbench.yaml` (`prod`): what that environment runs for the
  prompt in question (for `list_prompts`, each prompt's deployed version);
- anything else Git understands: a commit, a branch, a tag, `HEAD~2`.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.core.diff import PromptDiff, diff_prompt_texts
from workbench.core.model import (
    PROMPT_SUFFIXES,
    PROMPTS_DIR,
    TESTS_SUFFIXES,
    LoadResult,
    Problem,
    is_prompt_path,
    prompt_name_from_path,
)
from workbench.core.versions import (
    BranchInfo,
    Canary,
    CommitInfo,
    DeploymentEvent,
    HistoryEntry,
    MergeResult,
    PromptRef,
    RefUpdate,
    ReleaseTag,
    SyncResult,
    WorkingState,
    deploy_tag_name,
    deploy_tag_prefix,
    encode_ref_component,
    format_event_message,
    make_seq,
    parse_deploy_tag,
    parse_event_message,
    parse_release_label,
    parse_release_tag,
    release_label,
    release_tag_name,
    utc_now_iso,
)
from workbench.errors import RepoError, WorkbenchError
from workbench.vcs.store import GitFailed, GitStore, parse_ls_tree

if TYPE_CHECKING:
    from workbench.core.config import WorkbenchConfig

WORKTREE = "WORKTREE"
NOTES_REF = "workbench"
_CACHE_LIMIT = 1024
_BULK_THRESHOLD = 32  # above this many unread events, one for-each-ref beats cat-file reads


@dataclass(frozen=True)
class SwitchResult:
    branch: str
    previous: str | None
    stash: str | None = None  # the stash entry holding the changes, when stash=True
    message: str = ""


@dataclass(frozen=True)
class ReleaseResult:
    tag: ReleaseTag
    created: bool

    @property
    def message(self) -> str:
        if self.created:
            return f"created {self.tag.label} at {self.tag.commit[:10]}"
        return f"{self.tag.commit[:10]} is already released as {self.tag.label}; reusing it"


@dataclass(slots=True)
class StatusCell:
    """What one environment runs for one prompt (not frozen: status builds thousands at once)."""

    env: str
    event: DeploymentEvent | None
    lag: int | None = None  # versions behind the previous environment in the list
    differs: bool = False  # runs another commit than the previous environment
    orphaned: bool = False  # no branch contains the deployed commit any more

    @property
    def version(self) -> str | None:
        return self.event.version if self.event else None

    @property
    def commit(self) -> str | None:
        return self.event.commit if self.event else None

    def to_dict(self) -> dict[str, Any]:
        event = self.event
        return {
            "env": self.env,
            "deployed": event is not None,
            "version": event.version if event else None,
            "commit": event.commit if event else None,
            "who": event.who if event else None,
            "when": event.when if event else None,
            "action": event.action if event else None,
            "canary": event.canary.to_dict() if event and event.canary else None,
            "lag": self.lag,
            "differs_from_previous": self.differs,
            "orphaned": self.orphaned,
        }


@dataclass(slots=True)
class StatusRow:
    name: str
    cells: tuple[StatusCell, ...]

    def cell(self, env: str) -> StatusCell | None:
        return next((c for c in self.cells if c.env == env), None)


@dataclass(frozen=True)
class EnvStatus:
    environments: tuple[str, ...]
    rows: tuple[StatusRow, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "environments": list(self.environments),
            "prompts": [{"name": r.name, "environments": {c.env: c.to_dict() for c in r.cells}} for r in self.rows],
        }


@dataclass(frozen=True)
class ReviewItem:
    name: str
    change: str  # added | modified | deleted | renamed
    diff: PromptDiff
    commits: tuple[CommitInfo, ...]
    old_name: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "change": self.change,
            "old_name": self.old_name,
            "commits": [c.to_dict() for c in self.commits],
            "diff": self.diff.to_dict(),
        }


@dataclass(frozen=True)
class Review:
    branch: str
    base: str
    merge_base: str
    head: str
    items: tuple[ReviewItem, ...]
    commits: tuple[CommitInfo, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "branch": self.branch,
            "base": self.base,
            "merge_base": self.merge_base,
            "head": self.head,
            "commits": [c.to_dict() for c in self.commits],
            "prompts": [i.to_dict() for i in self.items],
        }


@dataclass(frozen=True)
class ExportedPrompt:
    name: str
    version: str | None
    commit: str
    path: str
    sha256: str
    canary: dict[str, Any] | None = None
    files: tuple[tuple[str, str], ...] = ()  # referenced files written alongside: (path, sha256)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
            "sha256": self.sha256,
            "canary": self.canary,
            "files": [{"path": path, "sha256": digest} for path, digest in self.files],
        }


@dataclass
class _RevTarget:
    """A revision resolved for one prompt: a commit, or the working copy (commit None)."""

    commit: str | None
    label: str
    event: DeploymentEvent | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Workspace:
    """A session on one prompt repository (see the module docstring for revisions)."""

    def __init__(self, store: GitStore, config: WorkbenchConfig, root: Path) -> None:
        self.store = store
        self.config = config
        self.root = root
        self._load_cache: dict[tuple[str, str], LoadResult] = {}
        # When deployment events say they happened; the demo builder back-dates its history.
        self.clock: Callable[[], datetime] = lambda: datetime.now(UTC)
        self._events_by_tag: dict[str, DeploymentEvent | None] = {}
        self._tag_targets: dict[str, str] = {}
        self._prompt_names_at: dict[str, list[str]] = {}
        self._orphans: tuple[frozenset[str], frozenset[str], set[str]] | None = None

    # ----------------------------------------------------------------- lifecycle
    @classmethod
    def open(cls, root: Path | str) -> Workspace:
        """Open the repository at (or above) `root` and read its `workbench.yaml`.

        Raises:
            RepoError: not a Git repository (or a bare one).
            ConfigError: `workbench.yaml` is invalid.
        """
        from workbench.services.prompts import load_config

        store = GitStore.open(root)
        assert store.root is not None
        try:
            config = load_config(store.root)
        except BaseException:
            store.close()
            raise
        return cls(store, config, store.root)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(self.config.environments)

    @property
    def main_branch(self) -> str:
        return str(self.config.main_branch)

    # ----------------------------------------------------------------- revisions
    def resolve(self, rev: str, name: str | None = None) -> str:
        """Any revision -> commit sha. An environment needs the prompt `name`.

        Raises:
            RepoError: unknown revision, environment without a deployment, empty repository.
        """
        target = self._target(name, rev)
        if target.commit is None:
            raise RepoError("the working copy is not a commit", hint="commit it first, or name a revision")
        return target.commit

    def _target(self, name: str | None, rev: str | None) -> _RevTarget:
        if rev is None or rev == WORKTREE:
            return _RevTarget(None, "working copy")
        release = parse_release_label(rev)
        if release is not None:
            tag = release_tag_name(*release)
            commit = self.store.try_resolve(f"refs/tags/{tag}")
            if commit is None:
                raise RepoError(f"no release {rev}", hint=f"see `workbench log {release[0]}` for its releases")
            return _RevTarget(commit, rev)
        if rev in self.environments:
            if name is None:
                raise RepoError(f"{rev!r} is an environment: name a prompt to know which version it runs")
            event = self.current_event(name, rev)
            if event is None:
                raise RepoError(f"{name} is not deployed to {rev}", hint=f"promote it: workbench promote {name} --env {rev}")
            return _RevTarget(event.commit, f"{rev} ({event.version or event.commit[:10]})", event)
        return _RevTarget(self.store.resolve(rev), rev)

    def describe(self, rev: str | None) -> str:
        return "working copy" if rev is None or rev == WORKTREE else rev

    # ----------------------------------------------------------------- reading
    def _candidate_paths(self, name: str) -> list[str]:
        if is_prompt_path(name):
            return [name]
        return [f"{PROMPTS_DIR}/{name}{suffix}" for suffix in PROMPT_SUFFIXES]

    def prompt_path(self, name: str, rev: str | None = None) -> str | None:
        """The repo path of prompt `name` at `rev` (None if it does not exist there)."""
        target = self._target(name, rev)
        return self._path_at(name, target.commit)

    def _path_at(self, name: str, commit: str | None) -> str | None:
        for path in self._candidate_paths(name):
            if commit is None:
                if (self.root / path).is_file():
                    return path
            elif self.store.blob_sha(commit, path) is not None:
                return path
        if commit is not None:
            return self._renamed_path_at(name, commit)
        return None

    def _renamed_path_at(self, name: str, commit: str) -> str | None:
        """The path a renamed prompt had at an older commit (follows renames from HEAD)."""
        current = next((p for p in self._candidate_paths(name) if self.store.blob_sha("HEAD", p)), None)
        if current is None or not self.store.has_commits():
            return None
        for info, change, path, _old in self.store.log_path(current, limit=200):
            if change == "D":
                continue
            if info.sha == commit or self._is_ancestor(info.sha, commit):
                return path if self.store.blob_sha(commit, path) else None
        return None

    def _is_ancestor(self, ancestor: str, commit: str) -> bool:
        status, _, _ = self.store.run_full("merge-base", "--is-ancestor", ancestor, commit)
        return status == 0

    def read_text(self, name: str, rev: str | None = None) -> str | None:
        """The file text of a prompt at a revision (None when it does not exist there)."""
        target = self._target(name, rev)
        return self._read_target(name, target)[1]

    def _read_target(self, name: str, target: _RevTarget) -> tuple[str | None, str | None]:
        path = self._path_at(name, target.commit)
        if path is None:
            return None, None
        if target.commit is None:
            try:
                return path, (self.root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                return path, None
        return path, self.store.read_text(target.commit, path)

    def blob_sha(self, name: str, rev: str | None = None) -> str | None:
        target = self._target(name, rev)
        if target.commit is None:
            text = self._read_target(name, target)[1]
            if text is None:
                return None
            data = text.encode("utf-8")
            return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        path = self._path_at(name, target.commit)
        return self.store.blob_sha(target.commit, path) if path else None

    def prompt_at(self, name: str, rev: str | None = None) -> LoadResult:
        """Read and parse prompt `name` at `rev` (None = working copy), without a checkout.

        Returns a `LoadResult` whose problems say why it failed, including "does not exist".
        """
        target = self._target(name, rev)
        path = self._path_at(name, target.commit)
        if path is None:
            shown = self._candidate_paths(name)[0]
            where = self.describe(rev) if target.commit is None else target.label
            return LoadResult(shown, None, (Problem(shown, 0, 0, f"{name} does not exist at {where}"),))
        return self.load_path(path, target.commit)

    def load_path(self, path: str, commit: str | None) -> LoadResult:
        """Parse the file at `path` at `commit` (None = working copy); cached per commit."""
        from workbench.core.loader import load_prompt

        if commit is not None:
            cached = self._load_cache.get((commit, path))
            if cached is not None:
                return cached
            text = self.store.read_text(commit, path)
            if text is None:
                return LoadResult(path, None, (Problem(path, 0, 0, f"{path} does not exist at {commit[:10]}"),))
            result = load_prompt(text, path, read_file=self._reader(commit))
            if len(self._load_cache) >= _CACHE_LIMIT:
                self._load_cache.clear()
            self._load_cache[(commit, path)] = result
            return result
        try:
            text = (self.root / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            return LoadResult(path, None, (Problem(path, 0, 0, f"cannot read {path}: {err}"),))
        return load_prompt(text, path, read_file=self._reader(None))

    def _reader(self, commit: str | None) -> Callable[[str], str]:
        def read_file(relpath: str) -> str:
            rel = relpath.replace("\\", "/").lstrip("/")
            if commit is None:
                target = (self.root / rel).resolve()
                if not target.is_relative_to((self.root / PROMPTS_DIR).resolve()):
                    raise FileNotFoundError(relpath)
                return target.read_text(encoding="utf-8")
            text = self.store.read_text(commit, rel)
            if text is None:
                raise FileNotFoundError(f"{relpath} does not exist at {commit[:10]}")
            return text

        return read_file

    def list_prompts(self, rev: str | None = None) -> list[PromptRef]:
        """Every prompt at a revision, sorted by name.

        For an environment, each deployed prompt at the commit that environment runs.
        """
        if rev is None or rev == WORKTREE:
            refs = []
            base = os.path.join(self.root, PROMPTS_DIR)
            skip = len(str(self.root)) + 1
            for folder, dirs, files in os.walk(base):
                dirs.sort()
                rel_folder = folder[skip:].replace(os.sep, "/")
                for file in files:
                    if file.endswith(PROMPT_SUFFIXES) and not file.endswith(TESTS_SUFFIXES):
                        rel = f"{rel_folder}/{file}"
                        refs.append(PromptRef(prompt_name_from_path(rel), rel))
            return sorted(refs, key=lambda r: r.name)
        if rev in self.environments:
            refs = []
            events = list(self.current_events(env=rev).values())
            found: set[str] = set()
            for event in events:
                for path in self._candidate_paths(event.prompt):
                    blob = self.store.blob_sha(event.commit, path)  # persistent cat-file: no process
                    if blob is not None:
                        found.add(event.prompt)
                        refs.append(PromptRef(event.prompt, path, blob, event.commit))
                        break
            for event in events:
                if event.prompt not in found:  # renamed since: its path at that commit
                    path_then = self._renamed_path_at(event.prompt, event.commit)
                    if path_then is not None:
                        blob = self.store.blob_sha(event.commit, path_then) or ""
                        refs.append(PromptRef(event.prompt, path_then, blob, event.commit))
            return sorted(refs, key=lambda r: r.name)
        commit = self._target(None, rev).commit
        assert commit is not None
        return sorted(self.store.list_prompt_files(commit), key=lambda r: r.name)

    def working_states(self, *, check_clean: bool = False) -> dict[str, WorkingState]:
        """The state of every prompt in the working copy relative to HEAD.

        Modified and new files that fail to load are `INVALID`; with `check_clean`, clean
        files are parsed too (slower on big repositories).
        """
        states: dict[str, WorkingState] = {}
        for ref in self.list_prompts(None):
            states[ref.name] = WorkingState.CLEAN
        for change in self.store.status([PROMPTS_DIR + "/"]):
            if change.path.endswith(TESTS_SUFFIXES):
                # `name.tests.yaml` belongs to `name`: a changed tests file changes that prompt.
                stem = change.path[: change.path.rindex(".tests.")]
                owner = prompt_name_from_path(stem + ".yaml")
                if states.get(owner) is WorkingState.CLEAN:
                    states[owner] = WorkingState.MODIFIED
                continue
            if not is_prompt_path(change.path):
                continue
            states[prompt_name_from_path(change.path)] = change.state
        for name, state in list(states.items()):
            if state in (WorkingState.MODIFIED, WorkingState.NEW) or (check_clean and state is WorkingState.CLEAN):
                path = self._path_at(name, None)
                if path is not None and not self.load_path(path, None).ok:
                    states[name] = WorkingState.INVALID
        return dict(sorted(states.items()))

    # ----------------------------------------------------------------- history
    def history(self, name: str, limit: int = 50, offset: int = 0, rev: str = "HEAD") -> list[HistoryEntry]:
        """Commits that touched prompt `name`, newest first, renames followed, paged.

        Each entry carries its release tags and deployment events. `branches` is left None:
        ask `branches_containing(commit)` for the entry the user looks at (it is a graph walk).
        """
        if not self.store.has_commits():
            return []
        path = self._path_at(name, None) or self._path_at(name, self.store.try_resolve(rev))
        if path is None:
            path = self._history_path(name, rev)
        # The prompt's tag names are listed by a second git process running alongside `git log`;
        # their target commits are cached for the session (tags never move).
        pending = self.store.start("for-each-ref", "--format=%(refname)", *_tag_patterns(name))
        # `git log --follow` also follows copies (it finds copies harder), so a prompt created
        # as a copy of another would inherit that one's history: stop at the copy instead.
        raw = self.store.log_path(path, limit=offset + limit, offset=0, rev=rev)
        for index, (info, change, entry_path, _old) in enumerate(raw):
            if change == "C":
                raw = [*raw[:index], (info, "A", entry_path, None)]
                break
        tests_files = self._referenced_files(path, rev)
        if tests_files:  # a commit that only changed the prompt's tests file is a new version too
            # git orders the union of both files; commits from before a rename follow it.
            followed = {entry[0].sha: entry for entry in raw}
            union = self.store.log(rev, limit=offset + limit, paths=[path, *tests_files])
            merged = [followed.get(info.sha, (info, "M", path, None)) for info in union]
            in_union = {info.sha for info in union}
            raw = merged + [entry for entry in raw if entry[0].sha not in in_union]
        raw = raw[offset : offset + limit]
        _status, tag_out, _err = self.store.finish(pending)
        patterns = _tag_patterns(name)
        names = {prompt_name_from_path(p) for _, _, p, _ in raw if p} - {name}
        if names:  # renamed: the older names' tags too
            patterns = _tag_patterns(name, *names)
            tag_out += self.store.run("for-each-ref", "--format=%(refname)", *_tag_patterns(*names))
        tags = [line[len("refs/tags/") :] for line in tag_out.splitlines() if line]
        tags_by_commit: dict[str, list[str]] = {}
        for tag, target in zip(tags, self._tag_commits(tags, patterns), strict=True):
            tags_by_commit.setdefault(target, []).append(tag)
        entries = []
        for info, change, entry_path, old in raw:
            entry_name = prompt_name_from_path(entry_path) if entry_path else name
            owners = (name, entry_name)
            releases = []
            event_tags = []
            for tag in tags_by_commit.get(info.sha, ()):
                release = parse_release_tag(tag)
                if release is not None:
                    if release[0] in owners:
                        releases.append(ReleaseTag(release[0], release[1], tag, info.sha))
                    continue
                parsed = parse_deploy_tag(tag)
                if parsed is not None and parsed[1] in owners:
                    event_tags.append(tag)
            events = sorted(self._events_for_tags(event_tags), key=lambda e: (e.seq, e.env))
            entries.append(
                HistoryEntry(
                    commit=info,
                    path=entry_path or path,
                    change=change,
                    releases=tuple(sorted(releases, key=lambda r: r.number)),
                    deployments=tuple(events),
                    branches=None,
                    old_path=old,
                )
            )
        return entries

    def _referenced_files(self, path: str, rev: str) -> list[str]:
        """Repo paths of the tests files a prompt references (`tests: file://...`)."""
        text = None
        if (self.root / path).is_file():
            try:
                text = (self.root / path).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                text = None
        if text is None:
            commit = self.store.try_resolve(rev)
            text = self.store.read_text(commit, path) if commit else None
        return self._referenced_files_in(path, text)

    @staticmethod
    def _referenced_files_in(path: str, text: str | None) -> list[str]:
        """Repo paths of the files `text` (the prompt at `path`) references with file://."""
        if not text or "file://" not in text:
            return []
        folder = posixpath.dirname(path)
        return sorted({posixpath.normpath(posixpath.join(folder, ref)) for ref in _FILE_REF_RE.findall(text)})

    def _history_path(self, name: str, rev: str) -> str:
        """The path of a prompt that exists neither in the working copy nor at `rev` (deleted)."""
        for path in self._candidate_paths(name):
            status, out, _ = self.store.run_full("log", "-n1", "--format=%H", rev, "--", path)
            if status == 0 and out.strip():
                return path
        raise RepoError(f"no prompt named {name!r} in this repository's history", hint="see `workbench list`")

    def _tag_commits(self, tags: Sequence[str], patterns: Sequence[str]) -> list[str]:
        """The commit each tag points at; cached per session (tags never move)."""
        cache = self._tag_targets
        missing = [t for t in tags if t not in cache]
        if len(missing) > _BULK_THRESHOLD:
            out = self.store.run("for-each-ref", f"--format={_TAG_TARGET_FORMAT}", *patterns)
            for line in out.splitlines():
                refname, peeled, objectname = [*line.split("\0"), "", ""][:3]
                cache[refname[len("refs/tags/") :]] = peeled or objectname
        for tag in missing:
            if tag not in cache:
                cache[tag] = self.store.try_resolve(f"refs/tags/{tag}") or ""
        return [cache[t] for t in tags]

    def _events_for_tags(self, tags: Sequence[str], bulk_pattern: str | None = None) -> list[DeploymentEvent]:
        """Deployment events for tag names, parsed once per session (tags never move).

        Many unknown tags are read with one for-each-ref call over `bulk_pattern`; a few are
        read through the persistent cat-file process.
        """
        cache = self._events_by_tag
        missing = [t for t in tags if t not in cache]
        if bulk_pattern is not None and len(missing) > _BULK_THRESHOLD:
            wanted = set(missing)
            for event in self.store.deployment_events_bulk(bulk_pattern, wanted):
                cache[event.tag] = event
        for tag in missing:
            if tag in cache:
                continue
            found = self.store.read_tag(tag)
            cache[tag] = parse_event_message(tag, found[0], found[1]) if found else None
        return [event for event in (cache.get(t) for t in tags) if event is not None]

    def _event_tags(self, env: str | None = None, name: str | None = None) -> tuple[list[str], str]:
        """Deployment tag names (one cheap for-each-ref) and the pattern that lists them."""
        if env is not None:
            pattern = "refs/tags/" + deploy_tag_prefix(env, name)
        elif name is not None:
            pattern = f"refs/tags/deploy/*/{encode_ref_component(name)}/*"
        else:
            pattern = "refs/tags/deploy/"
        tags = []
        for ref in self.store.ref_names(pattern):
            tag = ref[len("refs/tags/") :]
            parsed = parse_deploy_tag(tag)
            if parsed is not None and (name is None or parsed[1] == name) and (env is None or parsed[0] == env):
                tags.append(tag)
        return tags, pattern

    def _events(self, env: str | None = None, name: str | None = None) -> list[DeploymentEvent]:
        """Events sorted by (prompt, env, seq): the last of each group is what runs now."""
        tags, pattern = self._event_tags(env, name)
        return sorted(self._events_for_tags(tags, pattern), key=lambda e: (e.prompt, e.env, e.seq))

    def branches_containing(self, commit: str) -> list[str]:
        return self.store.branches_containing(commit)

    def commit_info(self, rev: str) -> CommitInfo:
        return self.store.commit_info(self.resolve(rev))

    # ----------------------------------------------------------------- diff
    def diff(self, name: str, a: str | None = "HEAD", b: str | None = None) -> PromptDiff:
        """Field-aware diff of prompt `name` from revision `a` (left) to `b` (right).

        None on either side means the working copy; defaults: HEAD vs working copy.
        """
        left = self._target(name, a)
        right = self._target(name, b)
        left_path, left_text = self._read_target(name, left)
        right_path, right_text = self._read_target(name, right)
        if left_text is None and right_text is None:
            raise RepoError(f"{name} exists neither at {left.label} nor at {right.label}")
        return diff_prompt_texts(
            left_text,
            right_text,
            name=name,
            left_label=left.label,
            right_label=right.label,
            left_tests_text=self._tests_text(left_path, left_text, left.commit),
            right_tests_text=self._tests_text(right_path, right_text, right.commit),
        )

    def _tests_text(self, path: str | None, text: str | None, commit: str | None) -> str | None:
        """The text of the tests file a prompt version references, at that version."""
        if path is None or not text or "file://" not in text:
            return None
        refs = _FILE_REF_RE.findall(text)
        if not refs:
            return None
        target = posixpath.normpath(posixpath.join(posixpath.dirname(path), refs[0]))
        if commit is None:
            try:
                return (self.root / target).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                return None
        return self.store.read_text(commit, target)

    # ----------------------------------------------------------------- branches and commits
    def branches(self) -> list[BranchInfo]:
        return self.store.branches()

    def current_branch(self) -> str | None:
        """The checked-out branch; None when HEAD is detached."""
        return self.store.current_branch()

    def _require_branch(self, action: str) -> str:
        branch = self.store.current_branch()
        if branch is None:
            raise RepoError(
                f"cannot {action}: HEAD is detached (no branch is checked out)",
                hint="create a branch here with `workbench branch NAME` then `workbench switch NAME`",
            )
        return branch

    def _require_not_merging(self, action: str) -> None:
        if self.store.is_merging():
            conflicts = self.store.conflicted_paths()
            detail = f" ({len(conflicts)} conflicted: {', '.join(conflicts[:5])})" if conflicts else ""
            raise RepoError(
                f"cannot {action}: a merge is in progress{detail}",
                hint="resolve the conflicts, then `git add` them and `git commit`; or abandon with `git merge --abort`",
            )

    def create_branch(self, name: str, start: str | None = None) -> BranchInfo:
        """Create branch `name` at `start` (default HEAD), without switching to it."""
        self.store.check_branch_name(name)
        self.store.require_commits()
        if self.store.branch_exists(name):
            raise RepoError(f"branch {name!r} already exists", hint=f"switch to it: workbench switch {name}")
        commit = self.resolve(start) if start else self.store.resolve("HEAD")
        self.store.check_writable()
        self.store.run("branch", "--no-track", name, commit)
        return next(b for b in self.store.branches() if b.name == name)

    def has_uncommitted_changes(self) -> list[str]:
        return sorted({c.path for c in self.store.status()})

    def switch_branch(self, name: str, *, stash: bool = False) -> SwitchResult:
        """Switch to branch `name`; never loses work.

        With uncommitted changes it refuses, unless `stash=True`: then the changes (untracked
        files included) go to a named stash entry and the result says how to restore them.
        """
        self._require_not_merging("switch branches")
        if not self.store.branch_exists(name):
            raise RepoError(f"no branch named {name!r}", hint="list branches with `workbench branch`")
        previous = self.store.current_branch()
        if previous == name:
            return SwitchResult(name, previous, None, f"already on {name}")
        self.store.check_writable()
        changed = self.has_uncommitted_changes()
        stash_ref = None
        if changed:
            if not stash:
                shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
                raise RepoError(
                    f"cannot switch to {name}: uncommitted changes in {shown}",
                    hint="commit them (`workbench commit`), or switch with --stash to set them aside",
                )
            self.store.identity()
            label = f"workbench: changes on {previous or 'detached HEAD'} before switching to {name}"
            self.store.run("stash", "push", "--include-untracked", "-m", label)
            stash_ref = self.store.run("rev-parse", "refs/stash").strip()
        try:
            self.store.run("switch", "--no-guess", name)
        except RepoError:
            if stash_ref is not None:
                self.store.run_full("stash", "pop", "--index")
            raise
        message = f"switched to {name}"
        if stash_ref is not None:
            message += (
                f"; your changes from {previous or 'the detached HEAD'} are stashed as {stash_ref[:10]}"
                f" (stash@{{0}}): restore them with `git switch {previous or stash_ref}` then `git stash pop`"
            )
        return SwitchResult(name, previous, stash_ref, message)

    def _paths_for(self, items: Sequence[str]) -> list[str]:
        """Prompt names or repo-relative paths (directories allowed) -> repo-relative paths."""
        paths = []
        for item in items:
            candidate = item.replace("\\", "/").rstrip("/")
            absolute = Path(item) if Path(item).is_absolute() else None
            if absolute is not None:
                try:
                    candidate = absolute.resolve().relative_to(self.root.resolve()).as_posix()
                except ValueError:
                    raise RepoError(f"{item} is outside the repository {self.root}") from None
            if (self.root / candidate).exists() or self._tracked(candidate):
                paths.append(candidate)
                continue
            found = next((p for p in self._candidate_paths(item) if (self.root / p).exists() or self._tracked(p)), None)
            if found is None:
                raise RepoError(f"no prompt or file named {item!r}", hint="name a prompt (support/summarize) or a path")
            paths.append(found)
            # A prompt named by its name brings its referenced tests files along.
            paths.extend(
                ref for ref in self._referenced_files(found, "HEAD") if (self.root / ref).exists() or self._tracked(ref)
            )
        return list(dict.fromkeys(paths))

    def _tracked(self, path: str) -> bool:
        if not self.store.has_commits():
            return False
        return bool(self.store.run("ls-files", "--", path).strip())

    def commit(self, paths: Sequence[str], message: str) -> CommitInfo:
        """Commit exactly the given prompt files (names or paths) with `message`.

        Raises:
            RepoError: no message, no identity, detached HEAD, mid-merge, lock, nothing to commit.
        """
        if not message.strip():
            raise RepoError("a commit needs a message", hint='pass -m "what changed and why"')
        if not paths:
            raise RepoError("name the prompt files to commit")
        self._require_branch("commit")
        self._require_not_merging("commit selected files")
        self.store.identity()
        self.store.check_writable()
        rel = self._paths_for(paths)
        self.store.run("add", "-A", "--", *rel)
        staged = self.store.run("diff", "--cached", "--name-only", "-z", "--", *rel) if self.store.has_commits() else "x"
        if not staged.strip("\0"):
            raise RepoError(f"nothing to commit in {', '.join(rel)}: the files match HEAD")
        self.store.run("commit", "-q", "-F", "-", "--", *rel, stdin=message)
        return self.store.commit_info("HEAD")

    def merge(self, branch: str) -> MergeResult:
        """Merge `branch` into the current branch: fast-forward or a merge commit.

        A conflict is never resolved here: the repository stays mid-merge, and the result
        lists each conflicted file for the user to resolve.
        """
        current = self._require_branch("merge")
        self._require_not_merging("merge")
        self.store.require_commits()
        other = self.store.resolve(branch)
        self.store.identity()
        self.store.check_writable()
        before = self.store.resolve("HEAD")
        if self._is_ancestor(other, before):
            return MergeResult("up-to-date", before, (), f"{current} already contains {branch}")
        status, out, err = self.store.run_full("merge", "--no-edit", other if branch.startswith("-") else branch)
        if status != 0:
            conflicts = self.store.conflicted_paths()
            if self.store.is_merging() and conflicts:
                return MergeResult(
                    "conflicts",
                    None,
                    tuple(conflicts),
                    f"merging {branch} into {current} stopped on conflicts; the repository is mid-merge. "
                    "Edit each file, `git add` it, then `git commit` (or `git merge --abort` to give up).",
                )
            raise GitFailed(["merge"], status, err or out)
        after = self.store.resolve("HEAD")
        info = self.store.commit_info(after)
        kind = "merged" if len(info.parents) > 1 else "fast-forward"
        return MergeResult(kind, after, (), f"{kind}: {current} is now at {after[:10]}")

    # ----------------------------------------------------------------- releases
    def releases(self, name: str | None = None) -> list[ReleaseTag]:
        if name is None:
            tags = self.store.release_tags()
        else:  # only this prompt's tags: one prompt in a repository of thousands stays fast
            tags = [t for t in self.store.release_tags(f"refs/tags/{encode_ref_component(name)}@v*") if t.prompt == name]
        return sorted(tags, key=lambda t: (t.prompt, t.number))

    def tag_release(self, name: str, rev: str | None = None, note: str | None = None) -> ReleaseResult:
        """Create the release tag `<name>@v<N+1>` at `rev` (default HEAD).

        Refuses an invalid file. If that commit already has a release of this prompt, reuses it.
        """
        commit = self.resolve(rev or "HEAD", name)
        existing = self.releases(name)
        same = [t for t in existing if t.commit == commit]
        if same:
            return ReleaseResult(max(same, key=lambda t: t.number), False)
        result = self.prompt_at(name, commit)
        if not result.ok:
            first = result.errors[0].format() if result.errors else f"{name} is invalid"
            raise WorkbenchError(
                f"cannot release {name} at {commit[:10]}: the file is invalid: {first}",
                hint="fix it, commit, and tag the new commit",
                title="Prompt error",
            )
        self.store.identity()
        number = max((t.number for t in existing), default=0) + 1
        while self.store.tag_exists(release_tag_name(name, number)):
            number += 1
        tag = release_tag_name(name, number)
        message = (note or f"Release {release_label(name, number)}").strip() + "\n"
        self.store.create_annotated_tag(tag, commit, message)
        return ReleaseResult(ReleaseTag(name, number, tag, commit, message.split("\n", 1)[0]), True)

    def _version_for(self, name: str, commit: str) -> str:
        return self.tag_release(name, commit).tag.label

    # ----------------------------------------------------------------- environments
    def _require_env(self, env: str) -> None:
        if env not in self.environments:
            raise WorkbenchError(
                f"unknown environment {env!r}",
                hint=f"environments in workbench.yaml: {', '.join(self.environments)}",
            )

    def deployments(self, name: str, env: str | None = None) -> list[DeploymentEvent]:
        """Deployment events of a prompt (one env or all), newest first."""
        return sorted(self._events(env, name), key=lambda e: (e.seq, e.env), reverse=True)

    def current_event(self, name: str, env: str) -> DeploymentEvent | None:
        tags, pattern = self._event_tags(env, name)
        if not tags:
            return None
        latest = max(tags, key=lambda t: t.rsplit("/", 1)[1])
        events = self._events_for_tags([latest], pattern)
        return events[0] if events else None

    def current_events(self, env: str | None = None) -> dict[str, DeploymentEvent]:
        """Latest event per prompt for one env, keyed by prompt name (or `prompt\\0env` for all)."""
        latest: dict[str, DeploymentEvent] = {}
        for event in self._events(env):
            key = event.prompt if env is not None else f"{event.prompt}\0{event.env}"
            latest[key] = event  # events are sorted by seq within each group
        return latest

    def promote(
        self,
        name: str,
        env: str,
        rev: str | None = None,
        reason: str = "",
        from_env: str | None = None,
        *,
        split_percent: float | None = None,
        tests: str | None = None,
    ) -> DeploymentEvent:
        """Deploy a version of `name` to `env` as a new deployment event.

        Args:
            rev: the version to deploy (default HEAD); ignored with `from_env`.
            from_env: deploy whatever that environment runs now.
            split_percent: start a canary split: `split_percent`% of keys get `rev`, the rest
                keep the current version; `promote_finish` or `rollback` ends it.
            tests: a test summary to record (default: the latest stored one, when any).
        """
        self._require_env(env)
        if from_env is not None:
            self._require_env(from_env)
            if from_env == env:
                raise WorkbenchError("--from names the same environment as --env")
            source = self.current_event(name, from_env)
            if source is None:
                raise RepoError(f"{name} is not deployed to {from_env}: nothing to copy to {env}")
            commit = source.commit
        else:
            commit = self.resolve(rev or "HEAD", name)
        result = self.prompt_at(name, commit)
        if not result.ok:
            first = result.errors[0].format() if result.errors else "invalid"
            raise WorkbenchError(f"cannot promote {name} at {commit[:10]}: the file is invalid: {first}", title="Prompt error")
        current = self.current_event(name, env)
        version = self._version_for(name, commit)
        if split_percent is not None:
            if not 0 < split_percent < 100:
                raise WorkbenchError("a split percentage must be between 0 and 100 (exclusive)")
            if current is None:
                raise RepoError(f"{name} is not deployed to {env} yet: promote it fully before a split")
            if current.commit == commit:
                raise RepoError(f"{env} already runs {version}: nothing to split against")
            return self._write_event(
                name,
                env,
                "split",
                current.commit,
                current.version,
                current,
                reason,
                tests,
                canary=Canary(version, commit, float(split_percent)),
            )
        if current is not None and current.commit == commit and current.canary is None:
            raise RepoError(f"{env} already runs {version} for {name}", hint="nothing to promote")
        return self._write_event(name, env, "promote", commit, version, current, reason, tests or self._tests_summary(name, commit))

    def promote_finish(self, name: str, env: str, reason: str = "") -> DeploymentEvent:
        """End a canary split by sending all traffic to the canary version."""
        self._require_env(env)
        current = self.current_event(name, env)
        if current is None or current.canary is None:
            raise RepoError(f"no split is running for {name} in {env}")
        canary = current.canary
        return self._write_event(
            name, env, "finish", canary.commit, canary.version, current, reason, self._tests_summary(name, canary.commit)
        )

    def rollback(self, name: str, env: str, to: str | None = None, reason: str = "") -> DeploymentEvent:
        """Deploy the previous version (or `to`) as a new event; a rollback also ends a split."""
        self._require_env(env)
        if not reason.strip():
            raise WorkbenchError("a rollback needs a reason", hint='pass -m "why you roll back"')
        current = self.current_event(name, env)
        if current is None:
            raise RepoError(f"{name} is not deployed to {env}: nothing to roll back")
        if to is not None:
            commit = self.resolve(to, name)
        elif current.canary is not None:
            commit = current.commit
        else:
            stack = self._deployed_stack(self._events(env, name))
            if len(stack) < 2:
                raise RepoError(f"{env} has no earlier version of {name} to roll back to", hint="name one with --to")
            commit = stack[-2]
        if commit == current.commit and current.canary is None:
            raise RepoError(f"{env} already runs {current.version or commit[:10]} for {name}")
        version = self._version_for(name, commit)
        return self._write_event(name, env, "rollback", commit, version, current, reason, self._tests_summary(name, commit))

    @staticmethod
    def _deployed_stack(events: Sequence[DeploymentEvent]) -> list[str]:
        """Replay events into a stack of deployed commits: a rollback pops back to its target."""
        stack: list[str] = []
        for event in events:
            if event.action == "split":
                continue
            if event.action == "rollback" and event.commit in stack:
                while stack and stack[-1] != event.commit:
                    stack.pop()
                continue
            if not stack or stack[-1] != event.commit:
                stack.append(event.commit)
        return stack

    def _tests_summary(self, name: str, commit: str) -> str | None:
        import importlib

        try:  # the evals service may not be installed in every deployment of this package
            eval_services = importlib.import_module("workbench.services.evals")
        except ImportError:
            return None
        latest = getattr(eval_services, "latest_summary", None)
        if latest is None:
            return None
        try:
            summary = latest(self, name, commit)
        except Exception:  # a broken results store must not block a deployment
            return None
        return str(summary) if summary else None

    def _write_event(
        self,
        name: str,
        env: str,
        action: str,
        commit: str,
        version: str | None,
        previous: DeploymentEvent | None,
        reason: str,
        tests: str | None,
        canary: Canary | None = None,
    ) -> DeploymentEvent:
        who_name, who_email = self.store.identity()
        who = f"{who_name} <{who_email}>"
        now = self.clock()
        suffix = hashlib.sha256(f"{who}\0{commit}\0{env}\0{name}\0".encode() + os.urandom(16)).hexdigest()
        seq = make_seq(now, suffix, after=previous.seq if previous else None)
        tag = deploy_tag_name(env, name, seq)
        event = DeploymentEvent(
            tag=tag,
            prompt=name,
            env=env,
            seq=seq,
            action=action,
            version=version,
            commit=commit,
            previous_version=previous.version if previous else None,
            previous_commit=previous.commit if previous else None,
            reason=reason.strip(),
            who=who,
            when=utc_now_iso(now),
            tests=tests,
            canary=canary,
        )
        self.store.create_annotated_tag(tag, commit, format_event_message(event))
        return event

    def status(self) -> EnvStatus:
        """Every prompt × environment: deployed version, lag and orphaned versions.

        One for-each-ref lists every branch tip and deployment tag (in a cold session it also
        reads every tag message in the same call); only the latest event of each prompt ×
        environment is parsed, and cached for the session since tags never move. Meanwhile
        `ls-tree` (prompt names) and `rev-list` (deployed commits no branch contains) run as
        parallel git processes.
        """
        envs = self.environments
        cold = not self._events_by_tag
        head_guess = self.store.try_resolve("HEAD")
        listing = None
        if head_guess is not None and head_guess not in self._prompt_names_at:
            listing = self.store.start("ls-tree", "-r", "-z", "--full-tree", head_guess, "--", PROMPTS_DIR + "/")
        # Peeling and messages cost a read of every tag object: only a cold session pays it.
        peel = "%(*objectname)" if cold else ""
        fmt = f"%(refname)%00%(objectname)%00{peel}%00%(HEAD)%00" + ("%(contents)" if cold else "") + "%00%1e%1f"
        patterns = ["refs/heads/", "refs/tags/deploy/", "refs/tags/*@v*"]
        releases_listing = None
        if cold:  # release tags: peeled but without messages, in a parallel process
            releases_listing = self.store.start("for-each-ref", f"--format={_TAG_TARGET_FORMAT}", patterns.pop())
        out = self.store.run("for-each-ref", f"--format={fmt}", *patterns)
        if releases_listing is not None:
            _status, release_out, _err = self.store.finish(releases_listing)
            for line in release_out.splitlines():  # re-shaped into the main listing's records
                refname, peeled_commit, tag_object = [*line.split("\0"), "", ""][:3]
                out += f"{refname}\0{tag_object}\0{peeled_commit}\0\0\0\x1e\x1f"
        head = None
        tips = set()
        latest_tag: dict[tuple[str, str], tuple[str, str, str, str]] = {}
        release_tags: list[tuple[str, str, int]] = []
        for record in out.split("\x1e\x1f"):
            fields = record.lstrip("\n").split("\0")
            if len(fields) < 5:
                continue
            refname, objectname, peeled, is_head, contents = fields[:5]
            if refname.startswith("refs/heads/"):
                tips.add(objectname)
                if is_head == "*":
                    head = objectname
                continue
            tag = refname[len("refs/tags/") :]
            parsed = parse_deploy_tag(tag)
            if parsed is None:
                release = parse_release_tag(tag)
                if release is not None:
                    release_tags.append((tag, release[0], release[1]))
                    if cold:
                        self._tag_targets[tag] = peeled or objectname
                continue
            env, prompt, seq = parsed
            known = latest_tag.get((prompt, env))
            if known is None or seq > known[0]:
                latest_tag[(prompt, env)] = (seq, tag, peeled or objectname, contents)
        orphan_check = None
        if cold:
            commits = frozenset(commit for _, _, commit, _ in latest_tag.values())
            if not (self._orphans and self._orphans[:2] == (frozenset(tips), commits)):
                orphan_check = (commits, self.store.start_with_input(
                    "rev-list --stdin --not --branches", "\n".join(sorted(commits)) + "\n"
                ))
            for (prompt, env), (seq, tag, commit, contents) in latest_tag.items():
                if tag not in self._events_by_tag:
                    self._events_by_tag[tag] = parse_event_message(tag, commit, contents, (env, prompt, seq))
        events = self._events_for_tags([tag for _, tag, _, _ in latest_tag.values()], "refs/tags/deploy/")
        # The version label comes from the release tags themselves: an event's message keeps
        # the label it had when written, which a renumbered unpushed release may have changed.
        commits_of = self._tag_commits([t for t, _, _ in release_tags], ["refs/tags/"])
        labels: dict[tuple[str, str], int] = {}
        for (_tag, prompt, number), commit in zip(release_tags, commits_of, strict=True):
            if number > labels.get((prompt, commit), 0):
                labels[(prompt, commit)] = number
        latest: dict[tuple[str, str], DeploymentEvent] = {}
        for found in events:
            released = labels.get((found.prompt, found.commit))
            if released is not None and found.version != release_label(found.prompt, released):
                found = replace(found, version=release_label(found.prompt, released))
            latest[(found.prompt, found.env)] = found
        deployed = frozenset(
            c for e in events for c in (e.commit, e.canary.commit if e.canary else None) if c
        )
        if orphan_check is not None:
            _status, rev_out, _err = self.store.finish(orphan_check[1])
            if deployed == orphan_check[0]:
                self._orphans = (frozenset(tips), deployed, set(deployed & set(rev_out.split())))
        orphaned = self._orphaned(frozenset(tips), deployed)
        names = {prompt for prompt, _ in latest}
        head = head or head_guess
        if listing is not None and head_guess is not None:
            _status, tree_out, _err = self.store.finish(listing)
            self._prompt_names_at = {head_guess: [r.name for r in parse_ls_tree(tree_out, head_guess)]}
        if head is not None:
            if head not in self._prompt_names_at:
                self._prompt_names_at = {head: [ref.name for ref in self.store.list_prompt_files(head)]}
            names.update(self._prompt_names_at[head])
        rows = []
        for name in sorted(names):
            cells = []
            previous: DeploymentEvent | None = None
            for index, env in enumerate(envs):
                event = latest.get((name, env))
                lag = None
                differs = False
                if index > 0 and event is not None and previous is not None:
                    differs = previous.commit != event.commit
                    ahead = _version_number(previous.version)
                    mine = _version_number(event.version)
                    if ahead is not None and mine is not None and ahead > mine:
                        lag = ahead - mine
                is_orphan = event is not None and (
                    event.commit in orphaned or (event.canary is not None and event.canary.commit in orphaned)
                )
                cells.append(StatusCell(env, event, lag, differs, is_orphan))
                previous = event
            rows.append(StatusRow(name, tuple(cells)))
        return EnvStatus(envs, tuple(rows))

    def _orphaned(self, tips: frozenset[str], commits: frozenset[str]) -> set[str]:
        """Deployed commits no branch contains; recomputed only when a branch or event moved."""
        if self._orphans is not None and self._orphans[0] == tips and self._orphans[1] == commits:
            return self._orphans[2]
        result = self.store.unreachable_from_branches(commits)
        self._orphans = (tips, commits, result)
        return result

    # ----------------------------------------------------------------- review
    def merge_base(self, a: str, b: str = "HEAD") -> str | None:
        """The best common ancestor of two revisions (None when they share no history)."""
        return self.store.merge_base(self.resolve(a), self.resolve(b))

    def review(self, branch: str | None = None) -> Review:
        """The prompts `branch` (default: current) changed since its merge-base with main."""
        base = self.main_branch
        if branch is None:
            branch = self._require_branch("review")
            if branch == base:
                raise RepoError(
                    f"you are on {base}, the main branch: there is nothing to review against it",
                    hint="name a branch: workbench review BRANCH",
                )
        base_commit = self.store.try_resolve(base)
        if base_commit is None:
            raise RepoError(f"the main branch {base!r} does not exist", hint="set main_branch in workbench.yaml")
        head = self.store.resolve(branch)
        merge_base = self.store.merge_base(base_commit, head)
        if merge_base is None:
            raise RepoError(f"{branch} and {base} share no history")
        items = []
        changes = self.store.changed_files(merge_base, head)
        changed_paths = {path for _, path, _ in changes}
        for _status, path, _old in list(changes):
            if path.endswith(TESTS_SUFFIXES):  # only the tests file changed: review its prompt
                owner = path[: path.rindex(".tests.")] + ".yaml"
                if owner not in changed_paths and self.store.blob_sha(head, owner) is not None:
                    changes.append(("M", owner, None))
                    changed_paths.add(owner)
        for status, path, old in changes:
            if not is_prompt_path(path) and not (old and is_prompt_path(old)):
                continue
            name = prompt_name_from_path(path)
            old_name = prompt_name_from_path(old) if old else None
            left_text = self.store.read_text(merge_base, old or path)
            right_text = self.store.read_text(head, path) if status != "D" else None
            diff = diff_prompt_texts(
                left_text,
                right_text,
                name=name,
                left_label=f"{base} ({merge_base[:10]})",
                right_label=branch,
                left_tests_text=self._tests_text(old or path, left_text, merge_base),
                right_tests_text=self._tests_text(path, right_text, head),
            )
            touched = [p for p in (path, old) if p] + self._referenced_files(path, head)
            commits = self.store.log(f"{merge_base}..{head}", paths=touched)
            change = {"A": "added", "D": "deleted", "R": "renamed", "C": "added"}.get(status, "modified")
            items.append(ReviewItem(name, change, diff, tuple(commits), old_name))
        all_commits = self.store.log(f"{merge_base}..{head}")
        return Review(branch, base, merge_base, head, tuple(items), tuple(all_commits))

    # ----------------------------------------------------------------- remotes
    def _require_remote(self, remote: str) -> str:
        url = self.store.remote_url(remote)
        if url is None:
            raise RepoError(f"no remote named {remote!r}", hint=f"add one: git remote add {remote} URL")
        return url

    def push(self, remote: str = "origin") -> SyncResult:
        """Push the current branch, all tags and the workbench notes; never forces."""
        self._require_remote(remote)
        refspecs = []
        branch = self.store.current_branch()
        if branch is not None and self.store.has_commits():
            refspecs.append(f"refs/heads/{branch}:refs/heads/{branch}")
        refspecs.append("refs/tags/*:refs/tags/*")
        if self.store.try_resolve(f"refs/notes/{NOTES_REF}") is not None:
            refspecs.append(f"refs/notes/{NOTES_REF}:refs/notes/{NOTES_REF}")
        status, out, err = self.store.run_full("push", "--porcelain", remote, *refspecs)
        updates = _parse_push_porcelain(out)
        rejected = [u for u in updates if u.rejected]
        if status != 0 and not rejected:
            raise RepoError(f"push to {remote} failed: {_first_lines(err)}", hint="check the remote URL and your access")
        if branch is not None and status == 0:
            self.store.run_full("config", f"branch.{branch}.remote", remote)
            self.store.run_full("config", f"branch.{branch}.merge", f"refs/heads/{branch}")
        details = [_explain_rejection(u, remote) for u in rejected]
        if rejected:
            return SyncResult(False, tuple(updates), f"push to {remote} was rejected for {len(rejected)} ref(s)", details=details)
        changed = [u for u in updates if u.flag != "="]
        return SyncResult(True, tuple(updates), f"pushed {len(changed)} ref(s) to {remote}" if changed else "everything up to date")

    def fetch(self, remote: str = "origin") -> SyncResult:
        """Fetch branches (as origin/*), tags and notes; merge the notes (cat_sort_uniq).

        A release number taken on the remote by another clone for a different commit, while
        ours was never pushed, is renumbered here (ours becomes the next free number) so the
        remote's tag can be fetched; nothing published ever moves.
        """
        self._require_remote(remote)
        renumbered = self._renumber_release_collisions(remote)
        before = self._ref_snapshot()
        status, _out, err = self.store.run_full(
            "fetch",
            "--no-write-fetch-head",
            remote,
            f"+refs/heads/*:refs/remotes/{remote}/*",
            "refs/tags/*:refs/tags/*",
            # a glob, so a remote without notes is not an error
            f"+refs/notes/{NOTES_REF}*:refs/notes/remotes/{remote}/{NOTES_REF}*",
        )
        details = []
        ok = status == 0
        if not ok:
            clobber = [line.strip() for line in err.splitlines() if "rejected" in line or "clobber" in line]
            if not clobber:
                raise RepoError(f"fetch from {remote} failed: {_first_lines(err)}", hint="check the remote URL and your access")
            details.extend(clobber)
            details.append("a tag on the remote has the same name as a local tag but points elsewhere; tags never move")
        notes_merged = False
        remote_notes = f"refs/notes/remotes/{remote}/{NOTES_REF}"
        if self.store.try_resolve(remote_notes) is not None or self._ref_exists(remote_notes):
            local = self.store.try_resolve(f"refs/notes/{NOTES_REF}")
            remote_sha = self.store.run("rev-parse", remote_notes).strip()
            if local != remote_sha:
                self.store.identity()
                self.store.run("notes", f"--ref={NOTES_REF}", "merge", "-q", "-s", "cat_sort_uniq", remote_notes)
                notes_merged = True
        after = self._ref_snapshot()
        updates = tuple(
            RefUpdate(ref, "*" if ref not in before else " ", "new" if ref not in before else "updated")
            for ref, sha in sorted(after.items())
            if before.get(ref) != sha
        )
        message = f"fetched {len(updates)} new or updated ref(s) from {remote}" if updates else "already up to date"
        for old_tag, new_tag in renumbered:
            details.append(
                f"{_label_of(old_tag)} was released on {remote} for another commit first: "
                f"your unpushed release is now {_label_of(new_tag)}"
            )
        return SyncResult(ok, updates, message, notes_merged, details)

    def _renumber_release_collisions(self, remote: str) -> list[tuple[str, str]]:
        """Give our unpushed releases whose number the remote took the next free numbers."""
        status, out, _err = self.store.run_full("ls-remote", "--tags", remote)
        if status != 0:
            return []  # the fetch itself reports an unreachable remote
        remote_tags: dict[str, str] = {}
        for line in out.splitlines():
            sha, _, ref = line.partition("\t")
            if not ref.startswith("refs/tags/"):
                continue
            tag = ref[len("refs/tags/") :]
            if tag.endswith("^{}"):
                remote_tags[tag[:-3]] = sha  # the peeled commit wins over the tag object
            else:
                remote_tags.setdefault(tag, sha)
        local = self.store.release_tags()
        clashes = [t for t in local if t.tag in remote_tags and remote_tags[t.tag] != t.commit]
        renumbered = []
        for clash in clashes:
            taken = {t.number for t in self.store.release_tags() if t.prompt == clash.prompt}
            taken |= {
                parsed[1]
                for parsed in (parse_release_tag(name) for name in remote_tags)
                if parsed is not None and parsed[0] == clash.prompt
            }
            number = max(taken) + 1
            new_tag = release_tag_name(clash.prompt, number)
            found = self.store.read_tag(clash.tag)
            message = found[1] if found and found[1].strip() else f"Release {release_label(clash.prompt, number)}\n"
            self.store.create_annotated_tag(new_tag, clash.commit, message)
            self.store.run("tag", "-d", clash.tag)  # never pushed: the remote holds another tag of this name
            self._tag_targets.pop(clash.tag, None)
            renumbered.append((clash.tag, new_tag))
        return renumbered

    def _ref_exists(self, ref: str) -> bool:
        status, _, _ = self.store.run_full("show-ref", "--verify", "--quiet", ref)
        return status == 0

    def _ref_snapshot(self) -> dict[str, str]:
        out = self.store.run("for-each-ref", "--format=%(refname)%00%(objectname)")
        return dict(line.split("\0", 1) for line in out.splitlines() if "\0" in line)

    # ----------------------------------------------------------------- notes
    def add_note(self, commit: str, text: str) -> None:
        """Append `text` to the workbench note of `commit` (refs/notes/workbench)."""
        self.store.identity()
        self.store.notes_append(NOTES_REF, self.resolve(commit), text)

    def read_notes(self, commits: Iterable[str]) -> dict[str, str]:
        """The workbench note of each commit that has one (full shas expected)."""
        return self.store.notes_for(NOTES_REF, commits)

    # ----------------------------------------------------------------- export
    def export(self, env: str, dest: Path | str) -> list[ExportedPrompt]:
        """Write the files `env` runs into `dest` (same relative paths) plus manifest.json."""
        self._require_env(env)
        target = Path(dest)
        exported = []
        for name, event in sorted(self.current_events(env).items()):
            path = self._path_at(name, event.commit)
            if path is None:
                continue
            text = self.store.read_object(f"{event.commit}:{path}")
            if text is None:
                continue
            data = text[2]
            _write_atomically(target / path, data)
            files = []
            for ref in self._referenced_files_in(path, data.decode("utf-8", "replace")):
                found = self.store.read_object(f"{event.commit}:{ref}")
                if found is not None and found[1] == "blob":
                    _write_atomically(target / ref, found[2])
                    files.append((ref, hashlib.sha256(found[2]).hexdigest()))
            exported.append(
                ExportedPrompt(
                    name,
                    event.version,
                    event.commit,
                    path,
                    hashlib.sha256(data).hexdigest(),
                    event.canary.to_dict() if event.canary else None,
                    tuple(files),
                )
            )
        manifest = {"env": env, "prompts": [e.to_dict() for e in exported]}
        target.mkdir(parents=True, exist_ok=True)
        (target / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return exported


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


_TAG_TARGET_FORMAT = "%(refname)%00%(*objectname)%00%(objectname)"
_FILE_REF_RE = re.compile(r"""file://([^\s"'#]+)""")


def _tag_patterns(*names: str) -> list[str]:
    """for-each-ref patterns for the release and deployment tags of some prompts."""
    patterns = []
    for name in sorted(names):
        encoded = encode_ref_component(name)
        patterns += [f"refs/tags/{encoded}@v*", f"refs/tags/deploy/*/{encoded}/*"]
    return patterns


def _label_of(tag: str) -> str:
    parsed = parse_release_tag(tag)
    return release_label(*parsed) if parsed else tag


def _version_number(version: str | None) -> int | None:
    if not version:
        return None
    parsed = parse_release_label(version)
    return parsed[1] if parsed else None


def _parse_push_porcelain(out: str) -> list[RefUpdate]:
    updates = []
    for line in out.splitlines():
        if "\t" not in line:
            continue
        flag, refs, *rest = line.split("\t")
        updates.append(RefUpdate(refs.split(":")[-1], flag[:1] or " ", rest[0] if rest else ""))
    return updates


def _explain_rejection(update: RefUpdate, remote: str) -> str:
    ref = update.ref
    if ref.startswith("refs/heads/"):
        branch = ref[len("refs/heads/") :]
        return (
            f"{branch}: {update.summary}: {remote} has commits your branch does not have. "
            f"Run `workbench fetch`, then `workbench merge {remote}/{branch}`, then push again."
        )
    if ref.startswith("refs/tags/"):
        tag = ref[len("refs/tags/") :]
        text = f"{tag}: {update.summary}: the remote has a different tag with this name; tags never move."
        if parse_release_tag(tag) is not None:
            text += (
                " Another clone released this number first: run `workbench fetch` (it gives your"
                " unpushed release the next free number), then push again."
            )
        return text
    if ref.startswith("refs/notes/"):
        return f"notes: {update.summary}: run `workbench fetch` (it merges notes), then push again."
    return f"{ref}: {update.summary}"


def _first_lines(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "; ".join(lines[:4]) or "unknown error"


__all__ = [
    "WORKTREE",
    "EnvStatus",
    "ExportedPrompt",
    "ReleaseResult",
    "Review",
    "ReviewItem",
    "StatusCell",
    "StatusRow",
    "SwitchResult",
    "Workspace",
    "deploy_tag_prefix",
    "parse_deploy_tag",
]
