"""RepoSession: one open prompt repository — its Git store, settings, clock, caches and lock.

Every use case in `workbench.services` takes a session as its first argument. The CLI opens
one per command; the app opens one for its lifetime and runs every service call under
`session.lock` (one thread at a time: the store owns one persistent `git cat-file --batch`).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.config import WorkbenchConfig
from workbench.core.model import LoadResult
from workbench.core.policy import EnvPolicy
from workbench.core.versions import DeploymentEvent
from workbench.errors import WorkbenchError
from workbench.vcs.refs import OffBranches
from workbench.vcs.store import GitStore

READ_ONLY_ENV = "WORKBENCH_READ_ONLY"


def read_only_requested() -> bool:
    """Whether this process was started read-only (`workbench ui --read-only`, the app processes of
    `workbench serve` without --write): every session it opens then writes nothing into the repository."""
    return os.environ.get(READ_ONLY_ENV, "") not in ("", "0")


def end_git_on_exit_signals() -> None:
    """From the main thread, before another thread opens the app's session and runs git without
    a terminal (`workbench ui` reads the first screen while Textual loads): SIGTERM and SIGHUP
    end that git too. (The app's session sets it again when it opens; elsewhere, nothing.)"""
    from workbench.vcs.exit_signals import install

    install()


@dataclass
class SessionCache:
    """What a session remembers. Tags never move, so what is read about a tag stays true."""

    parsed: dict[tuple[str, str], LoadResult] = field(default_factory=dict)  # (commit, path)
    events_by_tag: dict[str, DeploymentEvent | None] = field(default_factory=dict)
    tag_targets: dict[str, str] = field(default_factory=dict)
    prompt_names_at: dict[str, list[str]] = field(default_factory=dict)  # commit -> names
    orphans: tuple[frozenset[str], frozenset[str], OffBranches] | None = None  # (tips, commits, result)
    touching: dict[tuple[str, tuple[str, ...]], str | None] = field(default_factory=dict)
    # (a page's commits, tag patterns) -> (the tags known then, those of them that may belong to the page, with their commits)
    page_tags: dict[tuple[tuple[str, ...], tuple[str, ...]], tuple[frozenset[str], dict[str, str]]] = field(default_factory=dict)
    # (a page's commits, paths) -> tag commits whose content no entry of that page holds (`history._content_owners`)
    page_owners: dict[tuple[tuple[str, ...], tuple[str, ...]], dict[str, None]] = field(default_factory=dict)
    policy_files: dict[str, dict[str, EnvPolicy] | None] = field(default_factory=dict)  # workbench.yaml blob -> policies
    config_blobs: dict[str, str | None] = field(default_factory=dict)  # commit -> its workbench.yaml blob
    content_keys: dict[tuple[str, str], tuple[str, ...] | None] = field(default_factory=dict)  # (prompt, commit) -> `releases.content_key`
    main_line: tuple[str, list[tuple[str, int]]] | None = None  # (main tip, its first-parent line)
    main_minima: tuple[list[tuple[str, int]], list[int]] | None = None  # (that line, suffix minima of its times)
    followed: dict[tuple[str, str], tuple[str, int] | None] = field(default_factory=dict)  # (commit, path) -> `followed_blobs`
    partial_users: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # commit -> `prompt_files.partial_users`
    # the working copy's: (identity of each folder listed and file read, the answer), `prompt_files._working_partial_users`
    working_partial_users: tuple[dict[str, tuple[int, ...] | None], dict[str, list[str]]] | None = None

    PARSED_LIMIT = 1024

    def remember_parsed(self, key: tuple[str, str], result: LoadResult) -> None:
        if len(self.parsed) >= self.PARSED_LIMIT:
            self.parsed.clear()
        self.parsed[key] = result

    def forget_tag(self, tag: str) -> None:
        """A tag was deleted (a release renumbered by a sync): what was read about it is no longer true."""
        self.tag_targets.pop(tag, None)
        self.page_tags.clear()


class RepoSession:
    """A session on one prompt repository (a working clone)."""

    def __init__(
        self, store: GitStore, config: WorkbenchConfig, root: Path, clock: Callable[[], datetime] | None = None
    ) -> None:
        self.store = store
        self.config = config
        self.root = root
        # When deployment events say they happened; the demo builder back-dates its history.
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        self.cache = SessionCache()
        self.lock = threading.RLock()

    @classmethod
    def open(cls, root: Path | str, *, read_only: bool | None = None) -> RepoSession:
        """Open the repository at (or above) `root` and read its `workbench.yaml`.

        Args:
            root: the repository or a folder inside it.
            read_only: write nothing into the repository (no Git write, no cache under `.git`,
                no store under `.workbench`); None: as the process was started
                (`read_only_requested`).

        Raises:
            RepoError: not a Git repository (or a bare one).
            ConfigError: `workbench.yaml` is invalid.
        """
        from workbench.services.prompts import load_config

        store = GitStore.open(root)
        assert store.root is not None
        store.read_only = read_only_requested() if read_only is None else read_only
        try:
            config = load_config(store.root, store.git_dir, remember=not store.read_only)
        except BaseException:
            store.close()
            raise
        return cls(store, config, store.root)

    @property
    def read_only(self) -> bool:
        """Nothing may be written into the repository (the store's flag: the Git layer enforces it too)."""
        return self.store.read_only

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> RepoSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def environments(self) -> tuple[str, ...]:
        return tuple(self.config.environments)

    @property
    def main_branch(self) -> str:
        return str(self.config.main_branch)

    def require_env(self, env: str) -> None:
        if env not in self.environments:
            raise WorkbenchError(
                f"unknown environment {env!r}",
                hint=f"environments in workbench.yaml: {', '.join(self.environments)}",
            )

    def require_identity(self) -> None:
        """Refuse when Git does not know who writes: the app checks it before it asks for the text
        of a write (a commit message, a rollback's reason), so that text is never typed for a
        write Git would refuse.

        Raises:
            RepoError: Git does not know who you are (no user.name / user.email).
        """
        self.store.identity()
