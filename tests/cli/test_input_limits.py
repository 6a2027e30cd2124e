"""Every input ends: a file a command reads is read to at most its limit plus one byte,
whatever it is (a regular file, a FIFO, process substitution, a device).

`render --vars-file /dev/zero` grew past 5 GB and never ended, and `validate /dev/zero` and
`report merge /dev/zero` said "unexpected error: MemoryError" under a memory limit; a FIFO
under prompts/ made `validate` and `list` wait for a writer for ever. The runs that used to
eat memory run in a subprocess with an address-space limit and a timeout, so that on the old
code they fail in seconds instead of taking the machine's memory.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, git
from workbench.cli.common import run_app

MEMORY = 1536 * 1024 * 1024  # address space for one `workbench` process: far more than it needs, far less than "all of it"
PROMPT = "description: hi\ninputs:\n  user_name: {type: string}\nmessages:\n  - role: user\n    content: 'Hello {{ user_name }}'\n"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))


def workbench(root: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`workbench -C root ARGV...` in its own process, under the memory limit."""
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(root), *argv], capture_output=True, text=True, timeout=timeout, preexec_fn=_limited, env=env
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    (root / "prompts" / "hello.yaml").write_text(PROMPT)
    return root


@contextmanager
def fifo_fed(path: Path, data: bytes, *, endless: bool = False) -> Iterator[Path]:
    """A FIFO at `path` that a thread fills with `data` (again and again when `endless`, until the
    reader closes it), as `<(...)` does."""
    os.mkfifo(path)

    def feed() -> None:
        try:
            with path.open("wb") as pipe:
                pipe.write(data)
                while endless:
                    pipe.write(data)
        except (BrokenPipeError, OSError):
            pass  # the reader closed it: what a reader that stops at its limit does

    thread = threading.Thread(target=feed, daemon=True)
    thread.start()
    try:
        yield path
    finally:
        if thread.is_alive():  # nobody opened it: open it ourselves so the writer returns
            with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK)):
                thread.join(5)


def assert_refused(done: subprocess.CompletedProcess[str], *words: str) -> None:
    assert "unexpected error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("workbench: error: "), done.stderr
    assert done.stderr.count("\n") == 2 and "\n  hint: " in done.stderr, done.stderr  # one line and its hint
    for word in words:
        assert word in done.stderr, done.stderr


# --------------------------------------------------------------------------- render --vars-file


def test_a_vars_file_that_never_ends_is_refused_at_its_limit(repo: Path) -> None:
    done = workbench(repo, "render", "hello", "--vars-file", "/dev/zero")
    assert done.returncode == 2
    assert_refused(done, "/dev/zero", "16 MiB", "16,777,216 bytes")


def test_a_vars_fifo_fed_for_ever_is_refused_at_its_limit(repo: Path) -> None:
    with fifo_fed(repo.parent / "vars.fifo", b"user_name: Ada\n" + b"#" * 65535 + b"\n", endless=True) as fifo:
        done = workbench(repo, "render", "hello", "--vars-file", str(fifo))
    assert done.returncode == 2
    assert_refused(done, str(fifo), "16 MiB")


def test_a_vars_file_from_process_substitution_is_still_read(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with fifo_fed(repo.parent / "vars.fifo", b"user_name: Ada\n") as fifo:
        assert run_app(["-C", str(repo), "render", "hello", "--vars-file", str(fifo)]) == 0
    assert "Hello Ada" in capsys.readouterr().out


def test_a_regular_vars_file_past_the_limit_is_refused_naming_it(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = repo.parent / "big.yaml"
    big.write_bytes(b"user_name: Ada\n" + b"#" * (16 * 1024 * 1024) + b"\n")
    assert run_app(["-C", str(repo), "render", "hello", "--vars-file", str(big)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"workbench: error: {big}: more than 16,777,216 bytes"), err
    just_under = repo.parent / "ok.yaml"
    just_under.write_bytes(b"user_name: Ada\n" + b"#" * (16 * 1024 * 1024 - 17) + b"\n")  # 16 MiB exactly
    assert run_app(["-C", str(repo), "render", "hello", "--vars-file", str(just_under)]) == 0


# --------------------------------------------------------------------------- validate, list


def test_validate_of_a_device_is_a_problem_not_a_memory_error(repo: Path) -> None:
    done = workbench(repo, "validate", "/dev/zero")
    assert done.returncode == 1, done.stderr
    assert "unexpected error" not in done.stderr
    assert done.stdout == "/dev/zero: error: cannot read: not a regular file\n"


def test_a_fifo_under_prompts_does_not_make_validate_or_list_wait(repo: Path) -> None:
    os.mkfifo(repo / "prompts" / "planted.yaml")  # nobody will ever write into it
    done = workbench(repo, "validate", timeout=30)
    assert done.returncode == 1, done.stderr
    assert done.stdout == "prompts/planted.yaml: error: cannot read: not a regular file\n"
    listed = workbench(repo, "list", "--json", timeout=30)
    assert listed.returncode == 0, listed.stderr
    assert [(row["name"], row["valid"]) for row in json.loads(listed.stdout)] == [("hello", True), ("planted", False)]


def test_a_prompt_file_past_the_byte_limit_is_refused_at_1_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A prompt file is YAML of at most 1,048,576 characters: at most 4 bytes each, so it is read
    to 4 MiB and one byte; a file within the character limit is judged by its characters."""
    (repo / "prompts" / "huge.yaml").write_bytes(PROMPT.encode() + b"#" * (4 * 1024 * 1024))
    (repo / "prompts" / "long.yaml").write_bytes(PROMPT.encode() + b"#" * (1024 * 1024))
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "prompts/huge.yaml:1:1: error: the file is more than 4,194,304 bytes long; the limit is 1,048,576 characters\n" in out, out
    assert f"prompts/long.yaml:1:1: error: the file is {len(PROMPT) + 1024 * 1024:,} characters long; the limit is 1,048,576\n" in out, out


# --------------------------------------------------------------------------- report merge


def _report(tmp_path: Path) -> bytes:
    path = tmp_path / "one.json"
    git(tmp_path, "init", "-q")
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "p.yaml").write_text(PROMPT + "tests:\n  - vars: {user_name: Ada}\n    assert: [{type: contains, value: Ada}]\n")
    assert run_app(["-C", str(tmp_path), "test", "p", "--provider", "echo", "--json-file", str(path)]) == 0
    return path.read_bytes()


def test_report_merge_of_a_device_is_refused_at_its_limit(repo: Path) -> None:
    done = workbench(repo, "report", "merge", "/dev/zero")
    assert done.returncode == 2
    assert_refused(done, "/dev/zero: not a readable workbench report", "more than 268,435,456 bytes", "256 MiB")


def test_report_merge_reads_a_report_from_a_fifo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _report(tmp_path)
    capsys.readouterr()
    with fifo_fed(tmp_path / "shard.fifo", data) as fifo:
        assert run_app(["-C", str(tmp_path), "report", "merge", str(fifo), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["suites"][0]["prompt"] == "p"
