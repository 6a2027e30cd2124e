"""Release tags, append-only deployment events, status, rollback, splits and export."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vcs_helpers import GREETING, INVALID, SUMMARIZE, commit_all, record_processes, run_git, write

from workbench.errors import NothingToDo, RepoError, WorkbenchError
from workbench.services import (
    branches,
    deployment_events,
    deployments,
    env_status,
    export,
    history,
    prompt_files,
    releases,
    revisions,
)
from workbench.services.session import RepoSession


def _tag_targets(repo: Path) -> dict[str, str]:
    out = run_git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/tags/")
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_release_tags_count_up_per_prompt_and_reuse(repo: Path, ws: RepoSession) -> None:
    first = releases.tag_release(ws, "support/summarize", "HEAD~2", note="first cut")
    assert first.created and first.tag.label == "support/summarize@v1"
    second = releases.tag_release(ws, "support/summarize")
    assert second.tag.label == "support/summarize@v2"
    again = releases.tag_release(ws, "support/summarize", "HEAD")
    assert not again.created and again.tag.label == "support/summarize@v2" and "already released" in again.message
    assert releases.tag_release(ws, "greeting").tag.label == "greeting@v1"
    assert run_git(repo, "cat-file", "-t", "refs/tags/support/summarize@v1").strip() == "tag"
    assert "first cut" in run_git(repo, "tag", "-l", "--format=%(contents)", "support/summarize@v1")
    assert prompt_files.prompt_at(ws, "support/summarize", "support/summarize@v1").prompt is not None


def test_release_refuses_an_invalid_file(repo: Path, ws: RepoSession) -> None:
    write(repo, "prompts/greeting.yaml", INVALID)
    commit_all(repo, "Break greeting")
    with pytest.raises(WorkbenchError, match="invalid"):
        releases.tag_release(ws, "greeting")
    with pytest.raises(WorkbenchError, match="invalid"):
        deployments.promote(ws, "greeting", "dev", reason="try")


def test_promote_rollback_from_and_status(repo: Path, ws: RepoSession) -> None:
    v1 = run_git(repo, "rev-parse", "HEAD~2").strip()
    head = run_git(repo, "rev-parse", "HEAD").strip()
    e1 = deployments.promote(ws, "support/summarize", "staging", rev="HEAD~2", reason="first")
    assert e1.version == "support/summarize@v1" and e1.commit == v1 and e1.previous_version is None
    deployments.promote(ws, "support/summarize", "prod", from_env="staging", reason="ship it")
    deployments.promote(ws, "support/summarize", "staging", rev="HEAD~1", reason="second")
    e3 = deployments.promote(ws, "support/summarize", "staging", reason="third")
    assert e3.version == "support/summarize@v3" and e3.previous_version == "support/summarize@v2"
    assert e3.who == "Test User <test@example.com>" and e3.when.endswith("Z")
    assert prompt_files.prompt_at(ws, "support/summarize", "staging").prompt is not None
    assert revisions.resolve(ws, "prod", "support/summarize") == v1
    assert revisions.resolve(ws, "staging", "support/summarize") == head

    status = env_status.status(ws)
    row = next(r for r in status.rows if r.name == "support/summarize")
    prod = row.cell("prod")
    assert prod is not None and prod.version == "support/summarize@v1" and prod.lag == 2
    assert row.cell("dev") is not None and row.cell("dev").event is None  # type: ignore[union-attr]
    assert next(r for r in status.rows if r.name == "greeting").cells[0].event is None

    with pytest.raises(RepoError, match="already runs"):
        deployments.promote(ws, "support/summarize", "staging", reason="again")
    back = deployments.rollback(ws, "support/summarize", "staging", reason="v3 is too calm")
    assert back.action == "rollback" and back.version == "support/summarize@v2"
    assert deployments.rollback(ws, "support/summarize", "staging", reason="further").version == "support/summarize@v1"
    to = deployments.rollback(ws, "support/summarize", "staging", to="support/summarize@v3", reason="it was fine")
    assert to.commit == head
    with pytest.raises(WorkbenchError, match="needs a reason"):
        deployments.rollback(ws, "support/summarize", "staging", reason=" ")
    with pytest.raises(WorkbenchError, match="unknown environment"):
        deployments.promote(ws, "support/summarize", "qa", reason="x")

    entry = history.history(ws, "support/summarize")[0]
    assert [r.label for r in entry.releases] == ["support/summarize@v3"]
    assert {(e.env, e.action) for e in entry.deployments} == {("staging", "promote"), ("staging", "rollback")}
    events = deployment_events.deployments(ws, "support/summarize", "staging")
    assert [e.action for e in events] == ["rollback", "rollback", "rollback", "promote", "promote", "promote"]
    assert events[0].reason == "it was fine"
    prod_listing = prompt_files.list_prompts(ws, "prod")
    assert [(r.name, r.commit) for r in prod_listing] == [("support/summarize", v1)]


def test_a_history_page_checks_its_events_with_one_listing_of_the_releases(repo: Path, ws: RepoSession) -> None:
    """Each commit's events were checked on their own, each with a `for-each-ref` of the
    release tags: a cold page ran one per commit that carried events (3 here, ~6 ms each on the
    20k-commit benchmark repository)."""
    for back, env in ((2, "dev"), (1, "staging"), (0, "prod")):
        deployments.promote(ws, "support/summarize", env, rev=f"HEAD~{back}", reason="spread")
    with RepoSession.open(repo) as cold:
        started = record_processes(cold)
        pages = (lambda: history.history(cold, "support/summarize"), lambda: history.branch_history(cold, "support/summarize").entries)
        for page in pages:
            started.clear()
            entries = page()
            assert [[e.env for e in entry.deployments] for entry in entries] == [["prod"], ["staging"], ["dev"]]
            assert [label for entry in entries for label in (r.label for r in entry.releases)] == [
                f"support/summarize@v{n}" for n in (3, 2, 1)
            ]
            release_listings = [a for a in started if a[0] == "for-each-ref" and any(p.endswith("@v*") for p in a)]
            assert len(release_listings) <= 2, release_listings  # the page's tags, then its events' check


def test_status_marks_versions_no_branch_contains(repo: Path, ws: RepoSession) -> None:
    branches.create_branch(ws, "experiment")
    branches.switch_branch(ws, "experiment")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "ahoy"))
    branches.commit(ws, ["greeting"], "Ahoy")
    deployments.promote(ws, "greeting", "dev", reason="try the experiment")
    branches.switch_branch(ws, "main")
    cell = next(r for r in env_status.status(ws).rows if r.name == "greeting").cell("dev")
    assert cell is not None and not cell.orphaned
    run_git(repo, "branch", "-D", "experiment")
    cell = next(r for r in env_status.status(ws).rows if r.name == "greeting").cell("dev")
    assert cell is not None and cell.orphaned
    assert prompt_files.prompt_at(ws, "greeting", "dev").prompt is not None  # the tag keeps it reachable


def test_split_then_finish_or_rollback(repo: Path, ws: RepoSession) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="base")
    split = deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="canary", split_percent=10)
    assert split.action == "split" and split.canary is not None and split.canary.percent == 10
    assert split.version == "support/summarize@v1"  # the stable arm stays
    assert revisions.resolve(ws, "prod", "support/summarize") == split.commit
    finished = deployments.finish(ws, "support/summarize", "prod", reason="looks good")
    assert finished.action == "finish" and finished.version == "support/summarize@v2" and finished.canary is None
    with pytest.raises(RepoError, match="no split is running"):
        deployments.finish(ws, "support/summarize", "prod")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="older canary", split_percent=50)
    ended = deployments.rollback(ws, "support/summarize", "prod", reason="canary is worse")
    assert ended.version == "support/summarize@v2" and ended.canary is None


def test_the_same_split_again_is_nothing_to_do(repo: Path, ws: RepoSession) -> None:
    """A retried pipeline step (`promote --split 20` twice) wrote a second, identical split event,
    where a plain promote of what runs says "already runs": a split at another share is a change."""
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="base")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="canary", split_percent=20)
    events = len(run_git(repo, "tag", "--list", "deploy/prod/*").split())
    with pytest.raises(NothingToDo, match=r"prod already runs support/summarize@v1 with 20% to support/summarize@v2"):
        deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="canary again", split_percent=20)
    assert len(run_git(repo, "tag", "--list", "deploy/prod/*").split()) == events
    wider = deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="wider", split_percent=50)
    assert wider.canary is not None and wider.canary.percent == 50


def test_export_writes_deployed_files_and_manifest(repo: Path, ws: RepoSession, tmp_path: Path) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="x")
    deployments.promote(ws, "greeting", "prod", reason="y")
    write(repo, "prompts/greeting.yaml", "edited in the working copy\n")
    out = tmp_path / "export"
    exported = export.export(ws, "prod", out)
    assert [e.name for e in exported] == ["greeting", "support/summarize"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["env"] == "prod"
    import hashlib

    for entry in manifest["prompts"]:
        data = (out / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    assert (out / "prompts/greeting.yaml").read_text() == GREETING
    assert "neutral" in (out / "prompts/support/summarize.yaml").read_text()


_ACTIONS = st.lists(
    st.tuples(st.sampled_from(["promote", "rollback"]), st.sampled_from(["dev", "prod"]), st.integers(0, 2)),
    min_size=1,
    max_size=8,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=_ACTIONS)
def test_events_are_append_only_and_status_is_the_latest_event(tmp_path_factory: pytest.TempPathFactory, actions: list) -> None:
    root = tmp_path_factory.mktemp("prop")
    run_git(root, "init", "-q", "-b", "main")
    for text in ("neutral", "warm", "calm"):
        write(root, "prompts/p.yaml", SUMMARIZE.replace("neutral", text))
        commit_all(root, text)
    seen: dict[str, str] = {}
    with RepoSession.open(root) as ws:
        for action, env, back in actions:
            try:
                if action == "promote":
                    deployments.promote(ws, "p", env, rev=f"HEAD~{back}", reason="p")
                else:
                    deployments.rollback(ws, "p", env, reason="r")
            except RepoError:
                pass  # nothing to roll back / already deployed: refused without writing
            tags = _tag_targets(root)
            for name, target in seen.items():
                assert tags[name] == target  # no earlier tag moved or vanished
            seen = tags
            for env_name in ("dev", "prod"):
                events = deployment_events.deployments(ws, "p", env_name)
                cell = next((r for r in env_status.status(ws).rows if r.name == "p"), None)
                current = cell.cell(env_name) if cell else None
                if events:
                    assert current is not None and current.event == events[0]
                    assert revisions.resolve(ws, env_name, "p") == events[0].commit


def test_export_never_writes_over_the_repository_s_own_files(repo: Path, ws: RepoSession) -> None:
    """`workbench export . --env prod` replaced the working copy's prompts with prod's versions
    (uncommitted edits lost) and left a manifest.json in the repository."""
    deployments.promote(ws, "greeting", "prod", rev="HEAD~2", reason="y")
    write(repo, "prompts/greeting.yaml", "edited in the working copy\n")
    for dest in (repo, repo / "prompts", repo / "prompts" / "support", repo / ".git" / "x"):
        with pytest.raises(WorkbenchError, match="refusing to export into the repository"):
            export.export(ws, "prod", dest)
        with pytest.raises(WorkbenchError, match="refusing to export into the repository"):
            export.export_format(ws, "prod", dest, "prompty")
    assert (repo / "prompts" / "greeting.yaml").read_text() == "edited in the working copy\n"
    assert not (repo / "manifest.json").exists()
    assert export.export(ws, "prod", repo / "build" / "export")  # a folder of its own is fine


def test_export_brings_referenced_tests_files(repo: Path, ws: RepoSession, tmp_path: Path) -> None:
    external = SUMMARIZE.split("tests:")[0] + "tests: file://summarize.tests.yaml\n"
    cases = "- description: refund request is flagged\n  vars: {ticket: I want my money back}\n"
    write(repo, "prompts/support/summarize.yaml", external)
    write(repo, "prompts/support/summarize.tests.yaml", cases)
    commit_all(repo, "Tests in a file")
    deployments.promote(ws, "support/summarize", "prod", reason="x")
    exported = export.export(ws, "prod", tmp_path / "out")
    assert exported[0].files[0][0] == "prompts/support/summarize.tests.yaml"
    assert (tmp_path / "out/prompts/support/summarize.tests.yaml").read_text() == cases
    manifest = json.loads((tmp_path / "out/manifest.json").read_text())
    assert manifest["prompts"][0]["files"][0]["path"] == "prompts/support/summarize.tests.yaml"


def test_status_takes_the_newest_event_and_skips_odd_tag_names(repo: Path, ws: RepoSession) -> None:
    """Status reads only the newest tag of each prompt × environment; a hand-made tag whose last
    part is not a sequence (it sorts after every real one) is not an event."""
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="first")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD", reason="second")
    run_git(repo, "tag", "deploy/prod/support/summarize/zzzz", "HEAD~1")
    fresh = RepoSession.open(repo)  # a cold session: the tag messages are read in the listing
    try:
        row = next(r for r in env_status.status(fresh).rows if r.name == "support/summarize")
        prod = row.cell("prod")
        assert prod is not None and prod.event is not None and prod.event.reason == "second"
        assert next(r for r in env_status.status(fresh).rows if r.name == "greeting").cells[0].event is None
    finally:
        fresh.close()


@pytest.mark.parametrize(
    "extra",
    [["--rev", "HEAD", "--from", "staging"], ["--finish", "--rev", "HEAD"], ["--finish", "--split", "10"], ["--finish", "--from", "staging"]],
    ids=["rev-and-from", "finish-and-rev", "finish-and-split", "finish-and-from"],
)
def test_options_that_name_two_versions_are_refused_before_anything_is_written(repo: Path, extra: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`promote --rev v1 --from staging` deployed what staging ran (v4), and `--finish --rev v1`
    finished the split: exit 0, a version to prod that nobody asked for."""
    from workbench.cli import run_app

    assert run_app(["-C", str(repo), "promote", "greeting", "--env", "staging", "-m", "first"]) == 0
    tags = run_git(repo, "tag", "--list")
    assert run_app(["-C", str(repo), "promote", "greeting", "--env", "prod", "-m", "x", *extra]) == 2
    assert "give one" in capsys.readouterr().err
    assert run_git(repo, "tag", "--list") == tags


def test_nothing_to_promote_names_the_release_the_environment_runs(ws: RepoSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four promotes at once: the losers said "dev already runs greeting@v8" (the label a new
    release would take: they looked before the winner's release tag was there) while dev ran
    v7 and no v8 existed. Here the release is hidden from the plan, as the race hid it."""
    deployments.promote(ws, "greeting", "dev", reason="first")
    monkeypatch.setattr(deployments, "plan_release", lambda _session, _name, commit: releases.ReleasePlan(commit, "greeting@v8", True))
    with pytest.raises(WorkbenchError, match="dev already runs greeting@v1 for greeting"):
        deployments.plan_promote(ws, "greeting", "dev")


def test_ctrl_c_after_the_event_is_written_still_reports_it(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Ctrl+C between writing the event and printing it exited 130 with nothing on the screen
    (Typer turns it into a silent exit): the on-call engineer could not tell prod had changed."""
    import os
    import signal

    from workbench.cli import run_app

    original = deployments.execute

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        event = original(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGINT)  # the key pressed just after the write
        return event

    monkeypatch.setattr(deployments, "execute", interrupted)
    assert run_app(["-C", str(repo), "promote", "greeting", "--env", "dev", "-m", "x"]) == 130
    out, err = capsys.readouterr()
    assert "greeting@v1" in out and "dev" in out
    assert err.strip() == "workbench: interrupted"


def test_sigterm_during_a_write_ends_it_reports_it_and_exits_143(repo: Path) -> None:
    """A CI job cancelled (SIGTERM) between the release tag and the deployment event ended the
    process at once: a release and no event, nothing printed. The write under way is finished
    and reported, as with Ctrl+C, and the process says so and exits 143."""
    import subprocess
    import sys

    code = """
import os, signal, sys
from workbench.services import deployments
original = deployments.execute
def terminated(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGTERM)  # the job cancelled mid-write
    return original(*args, **kwargs)
deployments.execute = terminated
from workbench.cli import main
sys.argv = ["workbench", "-C", sys.argv[1], "promote", "greeting", "--env", "dev", "-m", "x"]
main()
"""
    done = subprocess.run([sys.executable, "-c", code, str(repo)], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 143, done.stderr
    assert "greeting@v1" in done.stdout and "dev" in done.stdout
    assert done.stderr.strip() == "workbench: terminated"
    assert "deploy/dev/greeting/" in run_git(repo, "tag", "--list", "deploy/*")


def test_status_counts_remote_tracking_branches_and_knows_a_shallow_clone_cannot_tell(repo: Path, ws: RepoSession, tmp_path: Path) -> None:
    """A clone marked `✗ on no branch` a commit that only a remote-tracking branch holds, and
    every deployed commit below a shallow clone's boundary, though a branch of the source has
    them: remote-tracking branches count, and past a shallow boundary the answer is unknown."""
    older = run_git(repo, "rev-parse", "HEAD~1").strip()
    deployments.promote(ws, "support/summarize", "prod", rev=older, reason="base")
    run_git(repo, "switch", "-q", "-c", "feat")
    write(repo, "prompts/greeting.yaml", GREETING.replace("hello", "ahoy"))
    commit_all(repo, "Ahoy")
    deployments.promote(ws, "greeting", "dev", reason="try the feature")
    run_git(repo, "switch", "-q", "main")

    def cells(clone: Path) -> tuple[bool | None, bool | None]:
        with RepoSession.open(clone) as session:
            rows = {r.name: r for r in env_status.status(session).rows}
        prod, dev = rows["support/summarize"].cell("prod"), rows["greeting"].cell("dev")
        assert prod is not None and dev is not None
        return prod.orphaned, dev.orphaned

    full = tmp_path / "full"
    run_git(tmp_path, "clone", "-q", "-b", "main", repo.as_uri(), str(full))
    assert cells(full) == (False, False)  # dev's commit is on origin/feat
    shallow = tmp_path / "shallow"
    run_git(tmp_path, "clone", "-q", "--depth", "1", "--no-single-branch", repo.as_uri(), str(shallow))
    run_git(shallow, "fetch", "-q", "--depth", "1", "origin", "refs/tags/*:refs/tags/*")
    assert cells(shallow) == (None, False)  # below the boundary: not known
    run_git(shallow, "fetch", "-q", "--unshallow")
    assert cells(shallow) == (False, False)
