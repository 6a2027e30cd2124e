"""Writes killed outright (`kill -9` of the whole job: a CI cancel, the OOM killer, a power cut),
where nothing can clean up: the same command, run again, finishes what was left."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from vcs_helpers import pre_commit_hook_in_new_repositories, run_git

from workbench.cli import run_app


def _killed_once_under_way(cwd: Path, *args: str) -> None:
    """Run `workbench ARGS` in a process group of its own and kill the group (git's processes
    too) with SIGKILL once a hook has written `under-way`."""
    with subprocess.Popen(
        [sys.executable, "-m", "workbench", *args], cwd=cwd, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ) as process:
        deadline = time.monotonic() + 60
        while not any(cwd.rglob("under-way")) and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "the command ended before the hook ran"
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_init_killed_before_its_first_commit_is_finished_by_the_next(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder kept prompts/, workbench.yaml, .gitignore and a `.git` with no commit, and a
    second `init` refused: "already holds a prompt repository; open it with workbench -C PATH"."""
    for key, value in pre_commit_hook_in_new_repositories(tmp_path, "#!/bin/sh\ntouch under-way\nsleep 30\n").items():
        monkeypatch.setenv(key, value)
    target = tmp_path / "new"
    _killed_once_under_way(tmp_path, "init", str(target))
    (target / "under-way").unlink()
    (target / ".git" / "hooks" / "pre-commit").unlink()
    monkeypatch.delenv("GIT_TEMPLATE_DIR")  # the second `git init` would copy the hook in again
    assert (target / "workbench.yaml").exists() and subprocess.run(["git", "rev-parse", "-q", "--verify", "HEAD"], cwd=target).returncode != 0
    assert run_app(["init", str(target)]) == 0
    assert run_git(target, "log", "--format=%s").splitlines() == ["Initial prompt repository"]
    assert set(run_git(target, "ls-files").split()) == {".gitignore", "prompts/example/greeting.yaml", "workbench.yaml"}
    assert run_git(target, "status", "--porcelain") == "" and (target / ".gitignore").read_text() == ".workbench/\n"


@pytest.mark.parametrize(
    "leftover",
    [
        {"prompts/mine.yaml": "description: mine\n"},  # a prompt of the user's
        {"workbench.yaml": "environments: [qa]\n"},  # settings of the user's
        {"prompts/example/greeting.yaml": "description: edited\n"},  # the example, edited
    ],
)
def test_a_folder_that_is_not_an_unfinished_init_is_still_refused(tmp_path: Path, leftover: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "repo"
    for path, text in leftover.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_text(text)
    assert run_app(["init", str(target)]) == 2
    assert "already holds a prompt repository" in capsys.readouterr().err
    assert not (target / ".git").exists()


def test_an_unfinished_init_with_a_commit_is_a_repository(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Only a `.git` with no commit is init's leftover: one with a commit is the user's."""
    target = tmp_path / "repo"
    assert run_app(["init", str(target)]) == 0
    assert run_app(["init", str(target)]) == 2
    assert "already holds a prompt repository" in capsys.readouterr().err


def test_a_prompts_folder_that_is_a_link_is_refused_without_walking_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Whether a folder is an unfinished init was decided after listing all of prompts/, the
    link followed: `prompts -> /usr` took 7.5 s to refuse (140,000 entries). A link is not
    what init makes, and the walk stops at the first entry init would not have made."""
    target = tmp_path / "repo"
    target.mkdir()
    walked: list[Path] = []
    real = tmp_path / "elsewhere"
    (real / "a").mkdir(parents=True)
    (target / "prompts").symlink_to(real)
    original = Path.rglob

    def counted(self: Path, pattern: str) -> object:
        for found in original(self, pattern):
            walked.append(found)
            yield found

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "rglob", counted)
        assert run_app(["init", str(target)]) == 2
    assert "already holds a prompt repository" in capsys.readouterr().err
    assert walked == []
