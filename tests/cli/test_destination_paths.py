"""Folders a command writes into (`export DIR`, `init DIR`, `demo DIR`) that cannot be written
are an error naming the path, exit 2, never "unexpected error".

`export /dev/full --env prod` said "unexpected error: NotADirectoryError: ... '/dev/full/prompts/
analytics'", `init /proc/x` "unexpected error: FileNotFoundError". A destination that cannot be
a folder is refused before anything is written; a file that fails all the same is named.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.cli.common import run_app

NAME = "support/summarize"


@pytest.fixture
def deployed(prompt_repo: Path) -> Path:
    assert run_app(["-C", str(prompt_repo), "promote", NAME, "--env", "dev", "-m", "first"]) == 0
    return prompt_repo


def _error(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """The error line and its hint line; there is nothing else on stderr."""
    err = capsys.readouterr().err
    assert "unexpected" not in err, err
    first, hint, end = err.split("\n")
    assert end == "" and hint.startswith("  hint: "), err
    return first, hint


@pytest.mark.parametrize("fmt", [[], ["--format", "prompty"]], ids=["files", "prompty"])
def test_export_to_a_path_that_cannot_be_a_folder_is_refused_before_writing(deployed: Path, tmp_path: Path, fmt: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    assert run_app(["-C", str(deployed), "export", str(a_file), "--env", "dev", *fmt]) == 2
    assert _error(capsys)[0] == f"workbench: error: cannot write {a_file}: {a_file} is a file, not a folder"
    assert run_app(["-C", str(deployed), "export", str(a_file / "out"), "--env", "dev", *fmt]) == 2
    assert _error(capsys)[0] == f"workbench: error: cannot write {a_file / 'out'}: {a_file} is a file, not a folder"
    assert a_file.read_text() == "keep me"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_export_to_a_device_is_refused(deployed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert run_app(["-C", str(deployed), "export", "/dev/full", "--env", "dev"]) == 2
    assert _error(capsys)[0] == "workbench: error: cannot write /dev/full: /dev/full is a file, not a folder"


def test_an_export_file_that_cannot_be_written_is_named(deployed: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    out = tmp_path / "out"
    out.mkdir()
    (out / "prompts").write_text("a file where the export needs a folder")
    assert run_app(["-C", str(deployed), "export", str(out), "--env", "dev"]) == 2
    first, hint = _error(capsys)
    assert first == f"workbench: error: cannot write {out / 'prompts' / 'support' / 'summarize.yaml'}: {out / 'prompts'} is a file, not a folder"
    assert "manifest.json is written last" in hint
    assert sorted(p.name for p in out.iterdir()) == ["prompts"]  # no manifest: the export is visibly unfinished


def test_init_and_demo_into_a_path_that_cannot_be_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("keep me")
    assert run_app(["init", str(a_file)]) == 2
    assert _error(capsys)[0] == f"workbench: error: cannot write {a_file}: {a_file} is a file, not a folder"
    assert run_app(["init", str(a_file / "repo")]) == 2
    assert _error(capsys)[0] == f"workbench: error: cannot write {a_file / 'repo'}: {a_file} is a file, not a folder"
    assert run_app(["demo", str(a_file / "demo"), "--no-open"]) == 2
    assert _error(capsys)[0] == f"workbench: error: cannot write {a_file / 'demo'}: {a_file} is a file, not a folder"
    assert a_file.read_text() == "keep me"


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs /proc")
@pytest.mark.parametrize("command", [["init"], ["demo", "--no-open"]])
def test_init_and_demo_where_no_folder_can_be_made(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """/proc is a folder, but nothing can be made in it (even by root): found only by trying."""
    assert run_app([command[0], "/proc/workbench-x", *command[1:]]) == 2
    assert _error(capsys)[0] == "workbench: error: cannot write /proc/workbench-x: No such file or directory"


@pytest.mark.parametrize("command", [["test", NAME, "--provider", "echo"], ["monitor", NAME], ["monitor", "ingest", "events.jsonl"]])
def test_a_state_folder_that_is_a_file_is_named(prompt_repo: Path, command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`.workbench` (results, cache, monitor store) a file: "unexpected error: FolderError"."""
    (prompt_repo / "events.jsonl").write_text("")
    state = prompt_repo / ".workbench"
    if state.is_dir():
        import shutil

        shutil.rmtree(state)
    state.write_text("not a folder")
    capsys.readouterr()
    assert run_app(["-C", str(prompt_repo), *command]) == 2
    first, _hint = _error(capsys)
    assert first == f"workbench: error: cannot create the folder {state}: {state} is a file, not a folder"


def test_init_that_cannot_finish_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`git init && workbench init` wrote prompts/, workbench.yaml and .gitignore, then said the
    folder was already a repository; with no Git identity it wrote them and a `.git`, then failed
    to commit, and a second `init` refused: "already holds a prompt repository"."""
    import subprocess

    existing = tmp_path / "existing"
    existing.mkdir()
    subprocess.run(["git", "init", "-q", str(existing)], check=True)
    assert run_app(["init", str(existing)]) == 2
    assert sorted(p.name for p in existing.iterdir()) == [".git"]
    nobody = tmp_path / "nobody.gitconfig"
    nobody.write_text("[user]\n\tuseConfigOnly = true\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(nobody))
    for var in ("EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL"):
        monkeypatch.delenv(var, raising=False)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / ".gitignore").write_text("node_modules/\n")
    capsys.readouterr()
    assert run_app(["init", str(fresh)]) == 2
    assert "does not know who you are" in capsys.readouterr().err
    assert sorted(p.name for p in fresh.iterdir()) == [".gitignore"] and (fresh / ".gitignore").read_text() == "node_modules/\n"
    nobody.write_text("[user]\n\tname = Ada\n\temail = ada@example.com\n")
    assert run_app(["init", str(fresh)]) == 0
