"""Benchmark the Git layer on the synthetic repository against plain `git` doing the same job.

For each operation: the median of several runs through the `RepoSession` service (one
session, as the app and CLI use it) and of the equivalent plain `git` command run as a
process in the same run, then the ratio (target: within 1.5x of plain git) and, for the
history page, the absolute target (under 100 ms).

    python benchmarks/git_ops.py [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gen_synthetic_repo import HOT_PROMPT, ensure_synthetic_repo, prompt_name, prompt_path
from workbench.services import deployment_events, diffing, env_status, history, prompt_files, timeline
from workbench.services.session import RepoSession

RATIO_TARGET = 1.5
HISTORY_TARGET_MS = 100.0


def median_ms(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm-up: page cache, persistent cat-file process
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def git(root: Path, *args: str) -> Callable[[], object]:
    return lambda: subprocess.run(["git", *args], cwd=root, capture_output=True, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    root = ensure_synthetic_repo()
    name = prompt_name(HOT_PROMPT)
    path = prompt_path(HOT_PROMPT)
    ws = RepoSession.open(root)
    try:
        entries = history.history(ws, name, limit=50)
        old, older = entries[-1].commit.sha, entries[-2].commit.sha
        log_format = "--format=%x1e%x1f%H%x00%P%x00%an%x00%ae%x00%at%x00%ct%x00%s%x00%b%x00"
        deploy_format = "--format=%(refname)%00%(objectname)%00%(*objectname)%00%(contents)%00%1e%1f"

        def cold(op: Callable[[RepoSession], object]) -> object:
            """Run `op` on a fresh session: no parsed events or tag targets cached yet."""
            fresh = RepoSession(ws.store, ws.config, ws.root)
            return op(fresh)

        def read_at_old_rev() -> object:
            ws.cache.parsed.clear()  # measure a cold read + parse, not the cache
            return prompt_files.prompt_at(ws, name, old)

        deployed = "\n".join(sorted({e.commit for e in deployment_events.current_events(ws).values()})) + "\n"
        tag_format = "--format=%(refname)%00%(*objectname)%00%(objectname)"
        encoded = name  # synthetic names need no encoding
        log_cmd = git(root, "log", "-z", log_format, "--name-status", "-n50", "--follow", "HEAD", "--", path)
        tags_cmd = git(root, "for-each-ref", tag_format, f"refs/tags/{encoded}@v*", f"refs/tags/deploy/*/{encoded}/*")

        def plain_history() -> None:
            """What git must do for the same page: the log, and the prompt's tags with targets."""
            log_cmd()
            tags_cmd()

        def plain_status() -> None:
            """What git must do for the same table: events with messages, release targets,
            branch tips, deployed commits no branch contains, prompt names at HEAD."""
            git(root, "for-each-ref", deploy_format, "refs/heads/", "refs/tags/deploy/")()
            git(root, "for-each-ref", tag_format, "refs/tags/**/*@v*")()
            subprocess.run(
                ["git", "rev-list", "--stdin", "--not", "--branches"], cwd=root, input=deployed.encode(), capture_output=True
            )
            git(root, "ls-tree", "-r", "-z", "--full-tree", "HEAD", "--", "prompts/")()

        def history_warm() -> object:
            return history.history(ws, name, limit=50)

        def history_cold() -> object:
            return cold(lambda fresh: history.history(fresh, name, limit=50))

        def branches_cold() -> object:
            """History's `a`: every branch's commits of the prompt with graph lanes and branch heads."""
            return cold(lambda fresh: history.branch_history(fresh, name, limit=200))

        def plain_branches() -> None:
            git(root, "log", "-z", log_format, "--parents", "--topo-order", "--full-history", "--branches", "--remotes", "-n200", "--", path)()
            tags_cmd()

        history_ops = (history_warm, history_cold, branches_cold)
        rows: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
            (
                "list prompts at a revision (2,000)",
                lambda: prompt_files.list_prompts(ws, "main~500"),
                git(root, "ls-tree", "-r", "-z", "--full-tree", "main~500", "--", "prompts/"),
            ),
            ("history of one prompt, first page of 50", history_warm, plain_history),
            ("  same, cold session (nothing cached)", history_cold, plain_history),
            ("  same, vs `git log` alone", history_warm, log_cmd),
            ("history of every branch, first page of 200, cold", branches_cold, plain_branches),
            (
                "timeline: every event and release, cold",
                lambda: cold(timeline.timeline),
                git(root, "for-each-ref", deploy_format, "refs/tags/deploy/", "refs/tags/**/*@v*"),
            ),
            ("read + parse a prompt at an old revision", read_at_old_rev, git(root, "cat-file", "-p", f"{old}:{path}")),
            ("read a prompt's text at an old revision", lambda: prompt_files.read_text(ws, name, old), git(root, "cat-file", "-p", f"{old}:{path}")),
            ("diff two versions (field-aware model)", lambda: diffing.diff(ws, name, older, old), git(root, "diff", older, old, "--", path)),
            ("status: 2,000 prompts x 3 environments", lambda: env_status.status(ws), plain_status),
            ("  same, cold session (nothing cached)", lambda: cold(env_status.status), plain_status),
            (
                "  same, vs the events for-each-ref alone",
                lambda: cold(env_status.status),
                git(root, "for-each-ref", deploy_format, "refs/tags/deploy/"),
            ),
        ]
        print(f"synthetic repo: {root}")
        print(f"{'operation':<48} {'workbench':>10} {'plain git':>10} {'ratio':>7}  target")
        for label, ours, plain in rows:
            ours_ms = median_ms(ours, args.runs)
            git_ms = median_ms(plain, args.runs)
            ratio = ours_ms / git_ms
            target = f"<= {RATIO_TARGET}x " + ("ok" if ratio <= RATIO_TARGET else "MISSED")
            if ours in history_ops:
                target += f"; < {HISTORY_TARGET_MS:.0f} ms " + ("ok" if ours_ms < HISTORY_TARGET_MS else "MISSED")
            print(f"{label:<48} {ours_ms:>8.1f}ms {git_ms:>8.1f}ms {ratio:>6.2f}x  {target}")
    finally:
        ws.close()


if __name__ == "__main__":
    main()
