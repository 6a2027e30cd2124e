"""The runtime loader used by serving applications: `PromptRepo(path).get(name, env="prod")`.

It reads Git objects directly (no checkout, works on a bare clone), caches parsed prompts by
(commit, path), and can refresh deployment state from the remote on an interval in a
background thread. A broken remote or a broken deployed file never raises into the request
path once a good version has been served: the last good version keeps being served and the
problem is logged once.

    from workbench import PromptRepo
    repo = PromptRepo("/srv/prompts", refresh_s=30)
    prompt = repo.get("support/summarize", env="prod", key=user_id)
    messages = prompt.render(ticket=text)      # a list of {"role", "content"} dicts
    messages.identity.version                  # "support/summarize@v3": report it with metrics
    client.chat.completions.create(model="gpt-4o-mini", **messages.openai_kwargs())  # + tools, response_format
"""

from __future__ import annotations

import contextlib
import copy
import logging
import random
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.core.after_fork import renew_after_fork
from workbench.core.model import PROMPT_SUFFIXES, PROMPTS_DIR, LoadResult, Prompt, prompt_file_text
from workbench.core.names import check_prompt_name, same_prompt_name
from workbench.core.revspec import parse_revision, parse_version
from workbench.core.split import choose_arm
from workbench.core.versions import DeploymentEvent, release_label, release_tag_name
from workbench.errors import NotFound, PromptError
from workbench.vcs.store import GitStore

log = logging.getLogger("workbench.runtime")


@dataclass(frozen=True)
class PromptIdentity:
    """Which version answered: report it with every metric and log line."""

    name: str
    version: str | None  # release label, e.g. support/summarize@v3 (None for an unreleased commit)
    commit: str
    env: str | None = None
    arm: str | None = None  # "stable" or "canary" during a split, else None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "commit": self.commit, "env": self.env, "arm": self.arm}


class RenderedMessages(list[dict[str, str]]):
    """Rendered chat messages that remember which prompt version produced them, and carry the
    prompt's `tools`, `tool_choice` and `response_format` (None when it declares none)."""

    def __init__(self, messages: list[dict[str, str]], identity: PromptIdentity, text: str, fields: dict[str, Any] | None = None) -> None:
        super().__init__(messages)
        self.identity = identity
        self.text = text
        self.fields: dict[str, Any] = dict(fields or {})
        self.tools: list[dict[str, Any]] | None = self.fields.get("tools")
        self.tool_choice: Any = self.fields.get("tool_choice")
        self.response_format: dict[str, Any] | None = self.fields.get("response_format")

    def openai_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the OpenAI SDK, exactly what `workbench test` sends:
        `client.chat.completions.create(model=..., **rendered.openai_kwargs())`.

        `messages`, plus `tools`, `tool_choice` and `response_format` when the prompt declares them.
        Model settings (`model.parameters`) are left to the application. Fresh copies on each
        call, as the messages are: a caller may change what it is given.
        """
        return {"messages": [dict(m) for m in self], **copy.deepcopy(self.fields)}


@dataclass(frozen=True)
class LoadedPrompt:
    prompt: Prompt
    identity: PromptIdentity

    @property
    def name(self) -> str:
        return self.identity.name

    @property
    def version(self) -> str | None:
        return self.identity.version

    @property
    def commit(self) -> str:
        return self.identity.commit

    @property
    def env(self) -> str | None:
        return self.identity.env

    @property
    def arm(self) -> str | None:
        return self.identity.arm

    def render(self, /, **variables: Any) -> RenderedMessages:
        """Render with variables -> messages (a completion template becomes one user message).
        `self` is positional-only, so that no input name can collide with it.

        Raises:
            RenderError: a missing or invalid variable.
        """
        from workbench.core.render import render_prompt

        rendered = render_prompt(self.prompt, variables)
        messages = rendered.messages
        if messages is None:
            messages = [{"role": "user", "content": rendered.text or ""}]
        return RenderedMessages([dict(m) for m in messages], self.identity, rendered.as_text(), rendered.request_fields())


_VALID_NAMES_KEPT = 4096
"""How many valid names a repository remembers: names come from callers, unbounded."""


class PromptRepo:
    """Serve prompt versions straight from a Git repository (working clone or bare)."""

    def __init__(self, path: Path | str, refresh_s: float | None = None, *, remote: str = "origin") -> None:
        self._store = GitStore.open(path, allow_bare=True)
        self._remote = remote
        self._lock = threading.RLock()
        self._parsed: dict[tuple[str, str], Prompt] = {}  # (commit, name) -> the prompt file there, parsed
        self._valid_names: set[str] = set()  # names the rule passed: the request path checks a name once
        self._last_good: dict[tuple[str, str | None], LoadedPrompt] = {}
        self._logged: set[str] = set()
        self._deployed: dict[tuple[str, str], DeploymentEvent] = {}
        self._load_deployments()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._refresh_s = refresh_s if refresh_s is not None and refresh_s > 0 else None
        self._refresher_due = False  # in a forked child: start its refresh thread at the first get()
        self._start_refreshing()
        renew_after_fork(self)

    def _start_refreshing(self) -> None:
        if self._refresh_s is not None and not self._stop.is_set():
            self._thread = threading.Thread(target=self._refresh_loop, args=(self._refresh_s,), daemon=True, name="prompt-refresh")
            self._thread.start()

    def renew_after_fork(self) -> None:
        """In a forked child (a worker of a server that loaded prompts first): locks of its own,
        and its own refresh thread at its first `get()`: the thread did not come with the fork
        (the worker served the deployments of the moment it was forked, for good), and is not
        started here, where a child about to exec (`subprocess`'s `preexec_fn`) also runs."""
        self._lock = threading.RLock()
        stopped, self._stop = self._stop.is_set(), threading.Event()
        if stopped:
            self._stop.set()
        self._thread = None
        self._refresher_due = self._refresh_s is not None

    def _refresh_in_this_process(self) -> None:
        with self._lock:
            if self._refresher_due:
                self._refresher_due = False
                self._start_refreshing()

    # ----------------------------------------------------------------- lifecycle
    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._store.close()

    def __enter__(self) -> PromptRepo:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----------------------------------------------------------------- refresh
    def _load_deployments(self) -> None:
        latest: dict[tuple[str, str], DeploymentEvent] = {}
        for event in self._store.deployment_events():
            if event.skipped:  # a tag on a blob or tree: the event before it says what runs
                self._log_once(f"deployment event {event.tag} is malformed: {event.problem}")
                continue
            latest[(event.prompt, event.env)] = event  # sorted by seq within each group
        # Versions are labelled from the release tags by `deployment_events` (`core.event_labels`).
        for event in latest.values():
            if event.problem:  # served without the values left out (its split): said once, by tag
                self._log_once(f"deployment event {event.tag} is malformed: {event.problem}")
        with self._lock:
            self._deployed = latest

    def refresh(self) -> bool:
        """Fetch tags from the remote (if any) and reload deployment state.

        Only tags are fetched: the runtime serves from them (deployment events, releases and the
        commits they name); remote-tracking branches a renamed branch left clashing would make
        every fetch fail. Whatever arrived is loaded even when the fetch failed in part (a
        local tag that differs from the remote's): the deployments that came stay unseen
        otherwise. Returns False (and logs once) when the fetch or the reload failed; on a
        failed reload the previous state stays in use.
        """
        # Light (no SDK): the one rule for secrets, so that a remote URL's password never reaches the log.
        from workbench.core.git_text import remote_failure
        from workbench.evals.secrets import known_secrets, register_url, scrub

        fetched = True
        try:
            url = self._store.remote_url(self._remote)
            if url is not None:
                register_url(url)
                fetched, err = self._store.fetch(self._remote, ["refs/tags/*:refs/tags/*"])
                if not fetched:  # in part, maybe: what arrived is loaded below all the same
                    reason = remote_failure(err, known_secrets())
                    self._log_once(scrub(f"refresh from {self._remote} failed: fetch failed: {reason}"))
            self._load_deployments()
            return fetched
        except Exception as err:  # never let a refresh failure reach the request path
            self._log_once(scrub(f"refresh from {self._remote} failed: {err}"))
            return False

    def _refresh_loop(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.refresh()

    def _log_once(self, message: str) -> None:
        if message not in self._logged:
            self._logged.add(message)
            log.warning("%s", message)

    # ----------------------------------------------------------------- reading
    def deployed(self, name: str, env: str) -> DeploymentEvent | None:
        with self._lock:
            return self._deployed.get((name, env))

    def get(
        self,
        name: str,
        env: str | None = None,
        rev: str | None = None,
        version: str | int | None = None,
        key: object = None,
    ) -> LoadedPrompt:
        """The parsed prompt `name` at an environment, a revision or a release version.

        Args:
            env: the version this environment runs (during a split, `key` picks the arm).
            rev: a revision, read as the CLI reads one: `name@v3`, `v3`, an environment
                (its stable version), or any Git revision.
            version: `name@v3`, `v3` or `3`. Give at most one of env, rev, version; default: HEAD.
            key: a stable id (user, session) for canary splits, of any type: its `str()` is what is
                hashed (`core/split.py`), so `42` and `"42"` are one user; without it, a random arm.

        Raises:
            PromptError: an invalid name, more than one of env/rev/version, another prompt's
                release as `version`, or an invalid prompt file.
            PromptError / NotFound: unknown prompt, not deployed, no such release, or invalid,
                when there is no last good version of it in this environment to serve instead.
            RepoUnreadable: Git cannot read the repository (its `.git` moved away, unreadable
                or damaged since it was opened; owned by another user), under the same
                condition: never reported as a missing prompt.
        """
        if type(name) is not str or name not in self._valid_names:  # a str subclass can lie in `==`
            check_prompt_name(name)  # the core name rule: nothing outside prompts/, nothing option-like
            if type(name) is str and len(self._valid_names) < _VALID_NAMES_KEPT:
                self._valid_names.add(name)
        if self._refresher_due:
            self._refresh_in_this_process()
        if (env is not None) + (rev is not None) + (version is not None) > 1:
            given = [arg for arg, value in (("env", env), ("rev", rev), ("version", version)) if value is not None]
            raise PromptError(
                f"get({name!r}) was given {' and '.join(f'{arg}=' for arg in given)}: give only one of env=, rev= or version=",
                hint="env= serves what the environment runs; rev= or version= pins one version",
            )
        try:
            identity = self._identity(name, env, rev, version, key)
            prompt = self._parse(name, identity.commit)
        except Exception as err:
            meant = self._spelling(name, env, rev)
            if meant != name:  # typed U+00E9, the file (written on macOS) has e + U+0301
                return self.get(meant, env, rev, version, key)
            # Once an environment's prompt has been served, a request never sees a failure:
            # a broken file, a dead git helper or a full disk serve the last good version.
            fallback = self._last_good.get((name, env)) if env is not None else None
            if fallback is None:
                raise
            self._log_once(f"{name} in {env} is broken ({type(err).__name__}: {err}); serving {fallback.version}")
            return fallback
        loaded = LoadedPrompt(prompt, identity)
        if env is not None:
            self._last_good[(name, env)] = loaded
        return loaded

    def _spelling(self, name: str, env: str | None, rev: str | None) -> str:
        """The prompt a name that named none means, by the CLI's lookup rule (`same_prompt_name`):
        among the prompts deployed to `env` (no Git read on the request path), else among those
        deployed, released, at HEAD and at `rev`. `name` itself when none or several are."""
        with self._lock:
            names = {prompt for prompt, deployed_env in self._deployed if env is None or deployed_env == env}
        if env is None:
            try:
                names.update(tag.prompt for tag in self._store.release_tags())
                for revision in ("HEAD", rev) if rev is not None else ("HEAD",):
                    with contextlib.suppress(Exception):  # no commit yet, or a release or environment
                        names.update(ref.name for ref in self._store.list_prompt_files(self._store.resolve(revision)))
            except Exception:  # the lookup's own failure is reported as the lookup's
                return name
        return same_prompt_name(name, names) or name

    def _identity(self, name: str, env: str | None, rev: str | None, version: str | int | None, key: object) -> PromptIdentity:
        if env is not None:
            event = self.deployed(name, env)
            if event is None:
                raise NotFound(f"{name} is not deployed to {env}", hint=f"promote it: workbench promote {name} --env {env}")
            if event.canary is not None:
                if key is None:
                    # No stable key: each call is its own coin toss, weighted by the split.
                    self._log_once(f"{name} in {env} is split {event.canary.percent:g}% canary: get() without key= picks an arm at random per call")
                    canary = random.random() * 100 < event.canary.percent
                else:
                    canary = choose_arm(key, event.canary.percent, event.tag)
                if canary:
                    return PromptIdentity(name, event.canary.version, event.canary.commit, env, "canary")
                return PromptIdentity(name, event.version, event.commit, env, "stable")
            return PromptIdentity(name, event.version, event.commit, env, None)
        if version is not None:
            owner, number = parse_version(version)
            if owner is not None and owner != name:
                raise PromptError(f"{version} is a release of {owner}, not of {name}", hint=f"ask for {name}@v{number}, or get({owner!r})")
            return self._release(name, number)
        if rev is None:
            return PromptIdentity(name, None, self._store.resolve("HEAD"))
        # The CLI's revision rule; the environments are those with deployments (no workbench.yaml read).
        with self._lock:
            environments = {deployed_env for _, deployed_env in self._deployed}
        spec = parse_revision(rev, name, environments, self._store)
        if spec.release is not None:
            return self._release(*spec.release)
        if spec.env is not None:
            event = self.deployed(name, spec.env)
            if event is None:
                raise NotFound(f"{name} is not deployed to {spec.env}", hint=f"promote it: workbench promote {name} --env {spec.env}")
            return PromptIdentity(name, event.version, event.commit, spec.env, "stable" if event.canary is not None else None)
        return PromptIdentity(name, None, self._store.resolve(rev))

    def _release(self, name: str, number: int) -> PromptIdentity:
        try:  # `resolve`: a tag naming an object that is gone is Git's error, not "no release"
            commit = self._store.resolve(f"refs/tags/{release_tag_name(name, number)}")
        except NotFound:
            raise NotFound(f"no release {release_label(name, number)}") from None
        return PromptIdentity(name, release_label(name, number), commit)

    def _parse(self, name: str, commit: str) -> Prompt:
        with self._lock:
            cached = self._parsed.get((commit, name))
        if cached is not None:
            return cached
        from workbench.core.loader import load_prompt

        for suffix in PROMPT_SUFFIXES:
            path = f"{PROMPTS_DIR}/{name}{suffix}"
            data = self._store.read_blob(commit, path)
            if data is None:
                continue
            text = prompt_file_text(data, path)  # what `validate` and the app say of a file that is not UTF-8

            def read_file(rel: str, commit: str = commit) -> str:
                found = self._store.read_text(commit, rel.lstrip("/"))
                if found is None:
                    raise FileNotFoundError(rel)
                return found

            result = text if isinstance(text, LoadResult) else load_prompt(text, path, read_file=read_file)
            if not result.ok or result.prompt is None:
                first = result.errors[0].format() if result.errors else "invalid prompt"
                raise PromptError(f"{name} at {commit[:10]} is invalid: {first}")
            with self._lock:
                self._parsed[(commit, name)] = result.prompt
            return result.prompt
        raise PromptError(f"{name} does not exist at {commit[:10]}")
