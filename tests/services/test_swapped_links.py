"""Every place that reads a working-copy file a prompt names reads it with `read_inside`.

Each resolved the path, checked that it was inside the repository (or prompts/), then opened
it again by name: a link swapped in between (here: just before the file is opened, after every
check) led the read to a file outside. Real repositories in `tmp_path`.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.core import limited_read
from workbench.core.model import Assertion
from workbench.evals.assertions import GradingContext, check
from workbench.services import prompt_files, prompts, suite_files
from workbench.services.session import RepoSession

pytestmark = pytest.mark.skipif(not limited_read.WALKS, reason="the walk needs dir_fd and O_NOFOLLOW (Linux, macOS)")

SECRET = "TOP-SECRET-7431"
PROMPT = """\
model: {provider: echo}
messages:
  - role: user
    content: "{% include 'shared/policy.jinja' %} hi"
tests: file://reply.tests.yaml
"""
TESTS = """\
- vars: {}
  assert:
    - {type: python, value: "file://checks/grade.py:check"}
"""
GRADE = "def check(output, context):\n    return True\n"


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    files = {
        "prompts/support/reply.yaml": PROMPT,
        "prompts/support/reply.tests.yaml": TESTS,
        "prompts/shared/policy.jinja": "Be kind.\n",
        "checks/grade.py": GRADE,
        ".gitignore": ".workbench/\n",
    }
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "a prompt")
    marker = tmp_path / "ran"
    (tmp_path / "secret.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ndef check(output, context):\n    return {SECRET!r}\n")
    (tmp_path / "secret.txt").write_text(f"{SECRET}\n")
    return root


@pytest.fixture
def swap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[[Path, Path], None]:
    """`swap(file, target)`: the moment `file` is opened (every check before made), it becomes a
    link to `target`, as another process could make it."""

    def arm(file: Path, target: Path) -> None:
        real_open = os.open

        def swap_then_open(path: str | Path, flags: int, *args: object, **kwargs: object) -> int:
            if os.path.basename(path) == file.name and not file.is_symlink():
                file.unlink()
                file.symlink_to(target)
            return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "open", swap_then_open)

    return arm


def test_a_suites_check_swapped_for_a_link_out_is_unreadable(repo: Path, tmp_path: Path, swap: Callable[[Path, Path], None]) -> None:
    """`suite_files`: the id of a file a suite reads (and the text a diff shows)."""
    swap(repo / "checks" / "grade.py", tmp_path / "secret.txt")
    with RepoSession.open(repo) as session:
        found = suite_files.look_up(session, ["checks/grade.py"], None)["checks/grade.py"]
    assert found.id == suite_files.UNREADABLE and found.data is None


def test_a_python_check_swapped_for_a_link_out_is_not_run(repo: Path, tmp_path: Path, swap: Callable[[Path, Path], None]) -> None:
    """`assert_values.read_repo_file`: a `python` assertion's file (and a `file://` value)."""
    swap(repo / "checks" / "grade.py", tmp_path / "secret.py")
    result = asyncio.run(check(Assertion("python", "file://checks/grade.py:check"), "x", GradingContext(vars={}, root=repo)))
    assert not result.passed and "outside the repository" in result.reason, result.reason
    assert not (tmp_path / "ran").exists()


def test_a_partial_swapped_for_a_link_out_is_not_read(repo: Path, tmp_path: Path, swap: Callable[[Path, Path], None]) -> None:
    """`prompts.read_confined`: partials and tests files, for the loader and the app."""
    swap(repo / "prompts" / "shared" / "policy.jinja", tmp_path / "secret.txt")
    with pytest.raises(ValueError, match="outside prompts/"):
        prompts.read_confined(repo, "prompts/shared/policy.jinja")
    with RepoSession.open(repo) as session:
        assert prompt_files.partials_of(session, PROMPT, None) == {"prompts/shared/policy.jinja": None}


def test_a_prompt_or_tests_file_linked_out_is_not_shown(repo: Path, tmp_path: Path) -> None:
    """`prompt_files.read_at` and `tests_file` read the working copy's prompt and tests file by
    name, with no check at all: a link under prompts/ to an outside file was shown."""
    for path in ("prompts/support/reply.yaml", "prompts/support/reply.tests.yaml"):
        (repo / path).unlink()
        (repo / path).symlink_to(tmp_path / "secret.txt")
    with RepoSession.open(repo) as session:
        found = prompt_files.target(session, "support/reply", None)
        assert prompt_files.read_at(session, "support/reply", found) == ("prompts/support/reply.yaml", None)
        assert prompt_files.tests_file(session, "prompts/support/reply.yaml", PROMPT, None) == ("prompts/support/reply.tests.yaml", None)


def test_an_imported_configs_reference_swapped_for_a_link_out_is_not_read(repo: Path, tmp_path: Path, swap: Callable[[Path, Path], None]) -> None:
    """`importing.convert_file`: the files a foreign config references."""
    from workbench.services.importing import convert_file, get_format

    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "prompt.txt").write_text("Hello {{x}}\n")
    config = config_dir / "promptfooconfig.yaml"
    config.write_text("prompts:\n  - file://prompt.txt\nproviders: [echo]\ntests:\n  - vars: {x: 1}\n")
    swap(config_dir / "prompt.txt", tmp_path / "secret.txt")
    conversion = convert_file(repo, get_format("promptfoo"), config, None)
    shown = repr(conversion)
    assert SECRET not in shown and "outside the config's folder and the repository" in shown


def test_the_editor_saves_in_the_folder_it_checked_though_a_link_is_swapped_in(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`save_text` checked the folder (`resolve`), then wrote by path: a folder swapped for a link
    out in between took the write outside. It writes relative to the folder it opened now."""
    from workbench.services import atomic_files, editing

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    folder = repo / "prompts" / "support"
    real_write = atomic_files.write_atomically_at

    def swap_then_write(descriptor: int, name: str, data: str | bytes) -> None:
        folder.rename(repo / "prompts" / "support.kept")
        folder.symlink_to(outside)
        real_write(descriptor, name, data)

    monkeypatch.setattr(editing, "write_atomically_at", swap_then_write)
    with RepoSession.open(repo) as session:
        editing.save_text(session, "prompts/support/reply.yaml", "# saved\n")
    assert list(outside.iterdir()) == []
    assert (repo / "prompts" / "support.kept" / "reply.yaml").read_text() == "# saved\n"


def test_the_editor_refuses_a_folder_that_leads_out_and_replaces_a_link_it_saves(repo: Path, tmp_path: Path) -> None:
    from workbench.errors import WorkbenchError
    from workbench.services import editing

    (tmp_path / "elsewhere").mkdir()
    (repo / "prompts" / "out").symlink_to(tmp_path / "elsewhere")
    (repo / "prompts" / "support" / "alias.yaml").symlink_to("reply.yaml")
    (repo / "prompts" / "support" / "reply.yaml").chmod(0o640)
    with RepoSession.open(repo) as session:
        with pytest.raises(WorkbenchError, match=r"cannot save prompts/out/x\.yaml"):
            editing.save_text(session, "prompts/out/x.yaml", "# no\n")
        editing.save_text(session, "prompts/support/alias.yaml", "# alias\n")
        editing.save_text(session, "prompts/support/reply.yaml", "# reply\n")
    assert list((tmp_path / "elsewhere").iterdir()) == []
    alias = repo / "prompts" / "support" / "alias.yaml"
    assert not alias.is_symlink() and alias.read_text() == "# alias\n"
    assert (repo / "prompts" / "support" / "reply.yaml").read_text() == "# reply\n"
    assert (repo / "prompts" / "support" / "reply.yaml").stat().st_mode & 0o777 == 0o640
    assert not [p for p in (repo / "prompts" / "support").iterdir() if p.name.endswith(".tmp")]
