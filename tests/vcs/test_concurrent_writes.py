"""Two workbench processes writing at once to one prompt in one environment (or releasing one
commit) are serialised: the second sees what the first wrote. The "changed while you looked"
check ran, then the tag was written with no lock, so two promotions planned together both
wrote (each recording the same previous version), and three `tag` runs on one commit made
three releases of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vcs_helpers import commit_all, run_git, write

from workbench.core.versions import parse_event_message
from workbench.errors import RepoError
from workbench.services import deployments
from workbench.services.deployment_events import current_event
from workbench.services.releases import tag_release
from workbench.services.session import RepoSession
from workbench.services.write_lock import exclusive

# Each worker does its reading first, says it is ready, then waits for "go": the writes start together.
WORKER = """
import json, pathlib, sys, time
from workbench.services import deployments, releases
from workbench.services.session import RepoSession
repo, folder, kind, arg = sys.argv[1:5]
folder = pathlib.Path(folder)
with RepoSession.open(repo) as session:
    try:
        plan = deployments.plan_promote(session, "greeting", "prod", arg) if kind == "promote" else None
    finally:
        (folder / f"ready-{arg}").touch()
    while not (folder / "go").exists():
        time.sleep(0.002)
    try:
        if plan is not None:
            print(json.dumps({"ok": deployments.execute(session, plan, "at once").tag}))
        else:
            print(json.dumps({"ok": releases.tag_release(session, "greeting", arg).message}))
    except Exception as err:
        print(json.dumps({"error": str(err)}))
"""


def _at_once(repo: Path, folder: Path, kind: str, args: list[str]) -> list[dict[str, str]]:
    folder.mkdir()
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, str(repo), str(folder), kind, arg], stdout=subprocess.PIPE, text=True)
        for arg in args
    ]
    deadline = time.monotonic() + 60
    while len(list(folder.glob("ready-*"))) < len(args) and time.monotonic() < deadline:
        time.sleep(0.01)
    (folder / "go").touch()
    return [json.loads(worker.communicate(timeout=60)[0]) for worker in workers]


def test_promotions_at_once_are_written_one_after_the_other(repo: Path, ws: RepoSession, tmp_path: Path) -> None:
    released = {tag_release(ws, "greeting", "HEAD").tag.commit: "greeting@v1"}
    for number in (2, 3):
        write(repo, "prompts/greeting.yaml", (repo / "prompts/greeting.yaml").read_text() + f"# v{number}\n")
        commit = commit_all(repo, f"greeting v{number}")
        released[commit] = tag_release(ws, "greeting", commit).tag.label
    for round_number in range(4):  # each round: the two releases prod does not run, at once
        with RepoSession.open(repo) as fresh:
            now = current_event(fresh, "greeting", "prod")
        targets = [label for commit, label in released.items() if now is None or commit != now.commit][:2]
        results = _at_once(repo, tmp_path / f"promote-{round_number}", "promote", targets)
        assert sum("ok" in r for r in results) == 1, results
        assert all("changed while you looked" in r["error"] for r in results if "error" in r), results
    chain = []
    for tag in run_git(repo, "tag", "-l", "deploy/prod/greeting/*").split():
        found = ws.store.read_tag(tag)
        assert found is not None
        event = parse_event_message(tag, found.target, found.message)
        assert event is not None
        chain.append(event)
    chain.sort(key=lambda e: e.seq)
    for before, event in zip([None, *chain], chain, strict=False):
        assert event.previous_commit == (before.commit if before else None), [(e.commit[:7], e.previous_commit) for e in chain]
    assert len(chain) == 4 and {e.commit for e in chain} <= set(released)


def test_releases_of_one_commit_at_once_make_one_release(repo: Path, tmp_path: Path) -> None:
    for round_number in range(3):
        write(repo, "prompts/greeting.yaml", (repo / "prompts/greeting.yaml").read_text() + f"# {round_number}\n")
        commit = commit_all(repo, f"round {round_number}")
        results = _at_once(repo, tmp_path / f"tag-{round_number}", "tag", [commit, "HEAD", commit[:12]])
        assert all("ok" in r for r in results), results
        releases = run_git(repo, "tag", "-l", "--points-at", commit, "greeting@v*").split()
        assert len(releases) == 1, (releases, results)
        assert sum("created" in r["ok"] for r in results) == 1 and sum("already released" in r["ok"] for r in results) == 2, results


def test_a_lock_left_by_a_killed_process_does_not_block(repo: Path, ws: RepoSession) -> None:
    """kill -9 during a write leaves the lock file: the next write goes on (the kernel released it)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom workbench.services.session import RepoSession\n"
         "from workbench.services.write_lock import exclusive\n"
         "with RepoSession.open(sys.argv[1]) as s, exclusive(s, 'deploy', 'prod', 'greeting'):\n"
         "    print('held', flush=True); time.sleep(60)\n", str(repo)],
        stdout=subprocess.PIPE, text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(RepoError, match=f"writing deploy prod greeting \\(pid {holder.pid} since"), exclusive(ws, "deploy", "prod", "greeting", wait=0.2):
        pass
    holder.kill()
    holder.wait()
    event = deployments.promote(ws, "greeting", "prod", "HEAD", reason="after a crash")
    assert event.commit == run_git(repo, "rev-parse", "HEAD").strip()
