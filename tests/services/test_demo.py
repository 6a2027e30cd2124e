"""`workbench demo` builds a believable repository offline, quickly."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from workbench.cli.common import run_app
from workbench.services import deployment_events, env_status, releases
from workbench.services.session import RepoSession
from workbench.services.test_results import history_marks


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def test_demo_repository_has_history_releases_deployments_and_results(demo_repo: Path) -> None:
    root = demo_repo  # built by `workbench demo` (the `demo_template` fixture)
    authors = set(git(root, "log", "--format=%an").split("\n")) - {""}
    assert {"Ana Lopez", "Ben Okafor", "Chen Wei"} <= authors
    assert int(git(root, "rev-list", "--count", "HEAD")) >= 8
    assert "feature/sql-dialect-hints" in git(root, "branch")
    assert git(root, "branch", "--show-current").strip() == "main"
    assert git(root, "status", "--porcelain").strip() == ""
    with RepoSession.open(root) as ws:
        events = deployment_events.deployments(ws, "support/summarize", "prod")
        assert "rollback" in {e.action for e in events}
        status = {row.name: row for row in env_status.status(ws).rows}
        prod, staging = status["support/summarize"].cell("prod"), status["support/summarize"].cell("staging")
        assert prod is not None and staging is not None and prod.lag and prod.lag >= 1
        released = releases.releases(ws, "support/summarize")
        assert len(released) >= 3
        marks = history_marks(ws, "support/summarize", [r.commit for r in released])
        summaries = [marks[r.commit].summary for r in released if r.commit in marks]
        assert len(summaries) == len(released) and any(s.startswith("✗") for s in summaries)
        # Each promotion carries the tests of what it promoted, as the app's promote writes
        # them (the timeline's tests column was empty for the whole demo).
        promotions = [e for e in events if e.action == "promote"]
        recorded = history_marks(ws, "support/summarize", [e.commit for e in promotions])
        assert promotions and all(recorded[e.commit].recorded and e.tests == recorded[e.commit].summary for e in promotions)
        assert all(e.tests for e in promotions)
    assert run_app(["-C", str(root), "validate"]) == 0


def test_demo_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").write_text("keep me")
    assert run_app(["demo", str(tmp_path), "--no-open"]) == 2
    assert (tmp_path / "x").read_text() == "keep me"


def test_the_commands_the_demo_prints_can_be_pasted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A folder with a space: `workbench -C /tmp/a b/demo status` did not work when pasted."""
    root = tmp_path / "a b" / "dé mo"
    assert run_app(["demo", str(root), "--no-open"]) == 0
    lines = [line.split("#")[0].strip() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("workbench -C")]
    assert lines and all(shlex.split(line)[2] == str(root) for line in lines)


def test_a_failed_demo_in_a_temporary_folder_leaves_no_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder was read as one that existed before (it is made first), so only its contents
    went: an empty workbench-demo-XXXX stayed behind after each failed or interrupted demo."""
    import tempfile

    from workbench.services import demo

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def interrupted(self: object, config: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(demo._DemoBuilder, "build", interrupted)
    with pytest.raises(KeyboardInterrupt):
        demo.create_demo_repo()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("folder_existed", [False, True])
def test_a_demo_interrupted_half_way_leaves_nothing_and_can_run_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder_existed: bool) -> None:
    """Ctrl+C while `demo DIR` built its history left a half-built repository in DIR, and the
    same command then refused: "DIR is not empty; give a new folder"."""
    import os
    import signal
    import sys
    import time

    templates = tmp_path / "templates"
    (templates / "hooks").mkdir(parents=True)
    hook = templates / "hooks" / "pre-commit"  # holds the first commit until Ctrl+C is typed
    hook.write_text("#!/bin/sh\ntrap '' INT\n[ -e ../under-way ] || { touch ../under-way; sleep 1; }\n")
    hook.chmod(0o755)
    monkeypatch.setenv("GIT_TEMPLATE_DIR", str(templates))
    root = tmp_path / "demo"
    if folder_existed:
        root.mkdir()
    with subprocess.Popen(
        [sys.executable, "-m", "workbench", "demo", str(root), "--no-open"], start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        deadline = time.monotonic() + 60
        while not (tmp_path / "under-way").exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the demo ended before its first commit"
        os.killpg(process.pid, signal.SIGINT)  # as a terminal sends Ctrl+C: to the whole group
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130 and err.strip() == "workbench: interrupted", err
    time.sleep(1.5)  # the hook's git, had it outlived workbench, would write again by now
    assert (list(root.iterdir()) == []) if folder_existed else not root.exists()
    monkeypatch.delenv("GIT_TEMPLATE_DIR")
    assert run_app(["demo", str(root), "--no-open"]) == 0
