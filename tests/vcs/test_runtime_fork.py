"""A `PromptRepo` built before a fork (gunicorn `--preload`, multiprocessing) serves each process
right: no process reads another's answers from the git helpers they would otherwise share, and
a refreshing loader keeps refreshing in the children."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from vcs_helpers import commit_all, run_git, write

from workbench.runtime import PromptRepo
from workbench.services import deployments
from workbench.services.session import RepoSession

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")

VERSIONS = 30


def prompt_text(name: str, n: int) -> str:
    return f"messages:\n  - role: user\n    content: \"{name}={n}\"\n"


@pytest.fixture
def many_versions(tmp_path: Path) -> tuple[Path, list[str]]:
    """Two prompts whose text names the commit they were written in (1..VERSIONS)."""
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    shas = []
    for n in range(1, VERSIONS + 1):
        write(root, "prompts/p.yaml", prompt_text("p", n))
        write(root, "prompts/q.yaml", prompt_text("q", n))
        shas.append(commit_all(root, f"version {n}"))
    return root, shas


def in_children(count: int, work: Callable[[int], object]) -> list[object]:
    """Run `work(k)` in `count` forked children at once; their JSON results, in order."""
    children = []
    for k in range(count):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: never back into pytest
            status = 1
            try:
                os.close(read_end)
                with os.fdopen(write_end, "w") as out:
                    out.write(json.dumps(work(k)))
                status = 0
            finally:
                os._exit(status)
        os.close(write_end)
        children.append((pid, read_end))
    results = []
    for pid, read_end in children:
        with os.fdopen(read_end) as answer:
            results.append(json.loads(answer.read() or "null"))
        os.waitpid(pid, 0)
    return results


def wrong_reads(prompts: PromptRepo, shas: list[str], seed: int, reads: int = 120) -> list[str]:
    chance = random.Random(seed)
    wrong = []
    for _ in range(reads):
        n, name = chance.randrange(len(shas)), chance.choice("pq")
        try:
            got = prompts.get(name, rev=shas[n]).render()[0]["content"]
        except Exception as err:
            got = f"{type(err).__name__}: {err}"
        if got != f"{name}={n + 1}":
            wrong.append(f"{name} at version {n + 1}: {got}")
    return wrong


def test_processes_forked_after_a_read_each_read_their_own_answers(many_versions: tuple[Path, list[str]]) -> None:
    root, shas = many_versions
    with PromptRepo(root) as prompts:
        assert prompts.get("p", rev=shas[0]).render()[0]["content"] == "p=1"  # a warm-up: the helpers run
        results = in_children(3, lambda k: wrong_reads(prompts, shas, seed=k))
        assert wrong_reads(prompts, shas, seed=99) == []  # the parent, after its children
    assert results == [[], [], []]


def test_a_refreshing_loader_keeps_refreshing_in_a_forked_process(repo: Path, ws: RepoSession) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="launch")
    first = run_git(repo, "rev-parse", "HEAD~2").strip()
    latest = run_git(repo, "rev-parse", "HEAD").strip()

    def served_after_a_promotion(_: int) -> str:
        session = RepoSession.open(repo)  # anyone's promotion: here, the child's own
        try:
            deployments.promote(session, "support/summarize", "prod", rev="HEAD", reason="roll forward")
        finally:
            session.close()
        deadline = time.monotonic() + 10
        while (commit := prompts.get("support/summarize", env="prod").commit) != latest and time.monotonic() < deadline:
            time.sleep(0.02)
        return commit

    with PromptRepo(repo, refresh_s=0.05) as prompts:
        assert prompts.get("support/summarize", env="prod").commit == first
        assert in_children(1, served_after_a_promotion) == [latest]
