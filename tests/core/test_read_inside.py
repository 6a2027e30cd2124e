"""`core.limited_read.read_inside`: a working-copy file read without leaving its repository.

The checks that resolved a path, compared it with the root and then opened it again left a
moment in which a link swapped in led the open outside (to ~/.ssh/id_rsa, /dev/zero, a FIFO).
Real folders in `tmp_path`; every read that could wait runs in a thread joined with a time-out.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.core import limited_read
from workbench.core.limited_read import Outside, TooLarge, read_inside

pytestmark = pytest.mark.skipif(not limited_read.WALKS, reason="the walk needs dir_fd and O_NOFOLLOW (Linux, macOS)")

RULE = "the test's limit"


def in_time(read: Callable[[], bytes], seconds: float = 10) -> bytes | BaseException:
    """What `read` returned or raised, failing the test when it has not ended in `seconds`."""
    outcome: list[bytes | BaseException] = []

    def run() -> None:
        try:
            outcome.append(read())
        except BaseException as err:  # handed to the test
            outcome.append(err)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    assert outcome, f"the read was still waiting after {seconds} s"
    return outcome[0]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "prompts" / "shared").mkdir(parents=True)
    (root / "checks").mkdir()
    (root / "prompts" / "a.yaml").write_text("a\n")
    (root / "prompts" / "shared" / "p.jinja").write_text("partial\n")
    (root / "checks" / "grade.py").write_text("grade\n")
    (tmp_path / "secret").write_text("a secret outside the repository\n")
    return root


def test_reads_a_file_and_links_that_stay_inside(repo: Path) -> None:
    (repo / "prompts" / "link.jinja").symlink_to("shared/p.jinja")
    (repo / "prompts" / "up.jinja").symlink_to("../prompts/shared/p.jinja")
    (repo / "prompts" / "abs.jinja").symlink_to(repo / "prompts" / "shared" / "p.jinja")
    (repo / "prompts" / "folder").symlink_to("shared")
    (repo / "checks" / "via-root.py").symlink_to("../../repo/checks/grade.py")  # out by name, back in
    assert read_inside(repo, "prompts/a.yaml", 100, RULE) == b"a\n"
    for path in ("prompts/link.jinja", "prompts/up.jinja", "prompts/abs.jinja", "prompts/folder/p.jinja", "prompts/./shared/../shared/p.jinja"):
        assert read_inside(repo, path, 100, RULE, within="prompts") == b"partial\n", path
    assert read_inside(repo, "checks/via-root.py", 100, RULE) == b"grade\n"
    assert read_inside(str(repo), str(repo / "checks" / "grade.py"), 100, RULE) == b"grade\n"  # absolute, inside


def test_links_and_dots_that_lead_out_are_refused(repo: Path, tmp_path: Path) -> None:
    (repo / "checks" / "out.py").symlink_to(tmp_path / "secret")
    (repo / "checks" / "up.py").symlink_to("../../secret")
    (repo / "checks" / "gone.py").symlink_to(tmp_path / "nothing-there")
    (repo / "hop").symlink_to("checks/out.py")  # a link to a link out
    (repo / "dir").symlink_to(tmp_path)
    for path in ("checks/out.py", "checks/up.py", "checks/gone.py", "hop", "dir/secret", "../secret", str(tmp_path / "secret")):
        with pytest.raises(Outside):
            read_inside(repo, path, 100, RULE)
    (repo / "prompts" / "cases.yaml").symlink_to("../checks/grade.py")  # inside the repository, not prompts/
    assert read_inside(repo, "prompts/cases.yaml", 100, RULE) == b"grade\n"
    with pytest.raises(Outside):
        read_inside(repo, "prompts/cases.yaml", 100, RULE, within="prompts")
    with pytest.raises(Outside):
        read_inside(repo, "checks/grade.py", 100, RULE, within="prompts")


def test_missing_folders_too_large_and_loops_are_the_systems_errors(repo: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_inside(repo, "prompts/none.yaml", 100, RULE)
    (repo / "prompts" / "dangling.yaml").symlink_to("none.yaml")
    with pytest.raises(FileNotFoundError):
        read_inside(repo, "prompts/dangling.yaml", 100, RULE)
    with pytest.raises(IsADirectoryError):
        read_inside(repo, "prompts/shared", 100, RULE)
    with pytest.raises(NotADirectoryError):
        read_inside(repo, "prompts/a.yaml/x", 100, RULE)
    with pytest.raises(TooLarge):
        read_inside(repo, "prompts/a.yaml", 1, RULE)
    (repo / "loop").symlink_to("loop")
    with pytest.raises(OSError, match="symbolic links"):
        read_inside(repo, "loop", 100, RULE)


def test_a_fifo_or_a_device_is_refused_without_waiting_or_reading(repo: Path) -> None:
    os.mkfifo(repo / "checks" / "fifo.py")  # nobody will ever write into it
    refused = in_time(lambda: read_inside(repo, "checks/fifo.py", 100, RULE))
    assert isinstance(refused, OSError) and "not a regular file" in str(refused), refused
    if os.path.exists("/dev/zero"):
        os.symlink("/dev/zero", repo / "checks" / "zero.py")
        assert isinstance(in_time(lambda: read_inside(repo, "checks/zero.py", 2**40, RULE)), Outside)


@pytest.mark.parametrize("swapped_to", ["secret", "/dev/zero", "fifo"])
def test_a_link_swapped_in_just_before_the_open_is_not_followed_out(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, swapped_to: str
) -> None:
    """Whatever is at the path when it is opened decides: the walk opens each part without
    following a link, so a link swapped in after any check is seen, and refused, as a link."""
    if swapped_to == "fifo":
        os.mkfifo(tmp_path / "fifo")
    target = swapped_to if swapped_to.startswith("/") else str(tmp_path / swapped_to)
    real_open = os.open

    def swap_then_open(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == "grade.py" and not os.path.islink(repo / "checks" / "grade.py"):
            (repo / "checks" / "grade.py").unlink()
            os.symlink(target, repo / "checks" / "grade.py")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(limited_read.os, "open", swap_then_open)
    assert isinstance(in_time(lambda: read_inside(repo, "checks/grade.py", 2**40, RULE)), Outside)


def test_a_folder_swapped_for_a_link_out_is_not_entered(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "grade.py").write_text("outside\n")
    real_open = os.open

    def swap_then_open(path: str, flags: int, *args: object, **kwargs: object) -> int:
        if path == "checks" and (repo / "checks").is_dir() and not (repo / "checks").is_symlink():
            (repo / "checks").rename(tmp_path / "old-checks")
            os.symlink(tmp_path / "elsewhere", repo / "checks")
        return real_open(path, flags, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(limited_read.os, "open", swap_then_open)
    with pytest.raises(Outside):
        read_inside(repo, "checks/grade.py", 100, RULE)


def test_without_the_walk_a_resolved_check_still_refuses_links_out(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where `os.open` takes no `dir_fd` (Windows), the path is resolved and checked, then read."""
    monkeypatch.setattr(limited_read, "WALKS", False)
    (repo / "checks" / "out.py").symlink_to(tmp_path / "secret")
    (repo / "prompts" / "link.jinja").symlink_to("shared/p.jinja")
    assert read_inside(repo, "prompts/link.jinja", 100, RULE, within="prompts") == b"partial\n"
    with pytest.raises(Outside):
        read_inside(repo, "checks/out.py", 100, RULE)
    with pytest.raises(Outside):
        read_inside(repo, "checks/grade.py", 100, RULE, within="prompts")
    os.mkfifo(repo / "checks" / "fifo.py")
    assert isinstance(in_time(lambda: read_inside(repo, "checks/fifo.py", 100, RULE)), OSError)


def test_a_prompts_folder_linked_from_elsewhere_is_trusted_as_given(repo: Path, tmp_path: Path) -> None:
    """`within` is trusted as `root` is: a repository whose prompts/ is a link to a shared folder
    outside it read its prompts before `read_inside`, then none (listed, never read). Links in
    that folder must still stay in it."""
    shared = tmp_path / "shared-prompts"
    (shared / "sub").mkdir(parents=True)
    (shared / "p.yaml").write_text("shared\n")
    (shared / "back.jinja").symlink_to(repo / "checks" / "grade.py")  # out of prompts/, into the repository
    (repo / "linked").mkdir()
    (repo / "linked" / "prompts").symlink_to(shared)
    for path in ("prompts/p.yaml", "prompts/sub/../p.yaml"):
        assert read_inside(repo / "linked", path, 100, RULE, within="prompts") == b"shared\n"
    for path in ("prompts/back.jinja", "checks/grade.py", "../repo/checks/grade.py"):
        with pytest.raises(Outside):
            read_inside(repo / "linked", path, 100, RULE, within="prompts")


def test_an_absolute_link_through_another_name_of_the_root_stays_inside(repo: Path, tmp_path: Path) -> None:
    """A link written with the repository's path through a linked parent (a home folder that is
    a link) leads inside, as `Path.resolve` finds; it was refused when `root` was the real path."""
    (tmp_path / "alias").symlink_to(tmp_path)
    (repo / "prompts" / "abs.jinja").symlink_to(tmp_path / "alias" / "repo" / "prompts" / "shared" / "p.jinja")
    assert read_inside(repo, "prompts/abs.jinja", 100, RULE, within="prompts") == b"partial\n"
    (repo / "prompts" / "out.jinja").symlink_to(tmp_path / "alias" / "secret")
    with pytest.raises(Outside):
        read_inside(repo, "prompts/out.jinja", 100, RULE, within="prompts")
