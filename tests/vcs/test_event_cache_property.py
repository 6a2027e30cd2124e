"""The status cache (`.git/workbench/events`) never changes what `status` or any other view
(history, rollback targets, timeline, current events, audit) says: random promotions, rollbacks, splits and finishes, interleaved with what Git itself can do
to the tags (a fetch force-replacing or pruning one, a tag put back, a hand-made lightweight one)
and with what can happen to the file (edited, another user's, a read-only reader), compared
after every step with the same views computed from Git alone (the file moved aside)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.core.versions import parse_deploy_tag
from workbench.errors import WorkbenchError
from workbench.services import audit, deployment_events, deployments, env_status, event_cache, timeline
from workbench.services.event_cache import cache_file
from workbench.services.session import RepoSession

PROMPTS = ("p", "team/q")
ENVS = ("dev", "staging", "prod")


def _views(root: Path, *, read_only: bool) -> dict[str, Any]:
    """What a cold session shows, in the order the app asks: status first (it fills the
    session's events from the file), then what the other views read from the same session."""
    with RepoSession.open(root, read_only=read_only) as session:
        views: dict[str, Any] = {"status": env_status.status(session).to_dict()}
        for name in PROMPTS:
            views[f"history {name}"] = [e.to_dict() for e in deployment_events.deployments(session, name)]
            for env in ENVS:
                try:
                    plan = deployments.plan_rollback(session, name, env)
                    views[f"rollback {name} {env}"] = (plan.commit, plan.version)
                except WorkbenchError as err:
                    views[f"rollback {name} {env}"] = type(err).__name__
        views["timeline"] = [e.to_dict() for e in timeline.timeline(session)]
        views["current"] = {k: v.to_dict() for k, v in deployment_events.current_events(session).items()}
        views["audit"] = audit.audit(session).to_dict()
    return views


class StatusCacheMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.root = Path(tempfile.mkdtemp(prefix="event-cache-"))
        run_git(self.root, "init", "-q", "-b", "main")
        write(self.root, ".gitignore", ".workbench/\n")
        for text in ("neutral", "warm", "calm"):
            write(self.root, "prompts/p.yaml", SUMMARIZE.replace("neutral", text))
            write(self.root, "prompts/team/q.yaml", GREETING.replace("hello", f"hello ({text})"))
            commit_all(self.root, text)
        self.put_aside: dict[str, str] = {}  # tag -> object id of a tag deleted by a "fetch"

    def teardown(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def _latest(self, name: str, env: str) -> str | None:
        out = run_git(self.root, "for-each-ref", "--sort=-refname", "--count=1", "--format=%(refname:strip=2)", f"refs/tags/deploy/{env}/{name}/")
        return out.strip() or None

    def _act(self, action: Any, *args: Any, **kwargs: Any) -> None:
        # Refused (nothing to roll back, already deployed...): nothing written.
        with RepoSession.open(self.root) as session, contextlib.suppress(WorkbenchError):
            action(session, *args, **kwargs)

    # ----------------------------------------------------------------- what the workbench does
    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS), back=st.integers(0, 2))
    def promote(self, name: str, env: str, back: int) -> None:
        self._act(deployments.promote, name, env, rev=f"HEAD~{back}", reason="promote")

    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS), back=st.integers(0, 2), percent=st.sampled_from([5, 50]))
    def split(self, name: str, env: str, back: int, percent: int) -> None:
        self._act(deployments.promote, name, env, rev=f"HEAD~{back}", reason="split", split_percent=percent)

    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS))
    def finish(self, name: str, env: str) -> None:
        self._act(deployments.finish, name, env, reason="finish")

    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS))
    def rollback(self, name: str, env: str) -> None:
        self._act(deployments.rollback, name, env, reason="rollback")

    # ----------------------------------------------------------------- what Git can do to the tags
    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS), back=st.integers(0, 2))
    def replace_latest_tag(self, name: str, env: str, back: int) -> None:
        """A fetch with forced tags: the same name, another object (another message and target)."""
        tag = self._latest(name, env)
        if tag is not None:
            self.put_aside.setdefault(tag, run_git(self.root, "rev-parse", f"refs/tags/{tag}").strip())
            message = run_git(self.root, "tag", "-l", "--format=%(contents)", tag) + f"\nreplaced-{back}\n"
            message = message.replace('reason: "', f'reason: "replaced {back} ')
            run_git(self.root, "tag", "-f", "-a", "--cleanup=verbatim", "-m", message, tag, f"HEAD~{back}")

    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS))
    def prune_latest_tag(self, name: str, env: str) -> None:
        """A fetch with --prune-tags: the newest event is gone (the one before it runs again)."""
        tag = self._latest(name, env)
        if tag is not None:
            self.put_aside[tag] = run_git(self.root, "rev-parse", f"refs/tags/{tag}").strip()
            run_git(self.root, "tag", "-d", tag)

    @rule()
    def restore_pruned_tags(self) -> None:
        """The tags pruned or replaced fetched back from a remote that still has them: the same
        objects under the same names."""
        for tag, oid in self.put_aside.items():
            run_git(self.root, "update-ref", f"refs/tags/{tag}", oid)
        self.put_aside.clear()

    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS), back=st.integers(0, 2))
    def hand_made_lightweight_tag(self, name: str, env: str, back: int) -> None:
        latest = self._latest(name, env)
        seq = str(int(latest.rsplit("/", 1)[1][:17]) + 1) if latest else "20000101000000000"
        run_git(self.root, "tag", f"deploy/{env}/{name}/{seq}-0000000{back}", f"HEAD~{back}")

    @rule(name=st.sampled_from(PROMPTS), env=st.sampled_from(ENVS), prune=st.booleans(), back=st.integers(0, 2), restore=st.booleans())
    def status_racing_a_fetch(self, name: str, env: str, prune: bool, back: int, restore: bool) -> None:
        """An event is written; a status lists the tags (the new one unread yet), a fetch then
        replaces or prunes the new tag, and the status reads the objects of its listing (what
        `env_status.status` hands `event_cache.read_events`)."""
        self.promote(name, env, back)
        listing = []
        for line in run_git(self.root, "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags/deploy/").splitlines():
            tag, oid = line.split()
            parsed = parse_deploy_tag(tag)
            if parsed is not None:
                listing.append((tag, oid, parsed))
        if prune:
            self.prune_latest_tag(name, env)
        else:
            self.replace_latest_tag(name, env, back)
        with RepoSession.open(self.root) as session:
            event_cache.read_events(session, listing, "refs/tags/deploy/")
        if restore:
            self.restore_pruned_tags()

    # ----------------------------------------------------------------- what can happen to the file
    @rule(old=st.sampled_from([b"@v1", b"@v2", b"promote", b"rollback", b"split"]), new=st.sampled_from([b"@v3", b"finish", b"x"]))
    def edit_the_file(self, old: bytes, new: bytes) -> None:
        file = cache_file(self.root / ".git")
        if file.is_file():
            file.write_bytes(file.read_bytes().replace(old, new))

    @rule()
    def another_user_runs_status(self) -> None:
        home = os.environ["XDG_CACHE_HOME"]
        os.environ["XDG_CACHE_HOME"] = str(self.root / ".git" / "another-user-cache")
        try:
            with RepoSession.open(self.root) as session:
                env_status.status(session)
        finally:
            os.environ["XDG_CACHE_HOME"] = home

    @rule()
    def a_read_only_reader_runs_status(self) -> None:
        before = cache_file(self.root / ".git").read_bytes() if cache_file(self.root / ".git").exists() else None
        with RepoSession.open(self.root, read_only=True) as session:
            env_status.status(session)
        after = cache_file(self.root / ".git").read_bytes() if cache_file(self.root / ".git").exists() else None
        assert after == before

    # ----------------------------------------------------------------- the property
    @invariant()
    def the_file_changes_nothing(self) -> None:
        file = cache_file(self.root / ".git")
        aside = file.with_name("events.aside")
        if file.exists():
            file.rename(aside)
        try:
            truth = _views(self.root, read_only=True)  # from Git alone (read-only: no file written)
        finally:
            if aside.exists():
                aside.rename(file)
        assert _views(self.root, read_only=False) == truth  # with the file as it is (then rewritten)
        assert _views(self.root, read_only=False) == truth  # with the file just written
        assert _views(self.root, read_only=True) == truth  # a read-only session reading it


TestStatusCache = StatusCacheMachine.TestCase
TestStatusCache.settings = settings(
    max_examples=12, stateful_step_count=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)
