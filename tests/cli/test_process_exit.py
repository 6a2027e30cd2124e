"""How the `workbench` process ends: the exit hooks run and output is flushed, but the
interpreter's teardown of every module and object is skipped (0.1-0.15 s of a CLI run)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from workbench import __version__

# A program that ends the way the console script does (`workbench.cli.main`), with a hook
# registered with atexit and an object whose finalizer only the interpreter's teardown runs.
PROBE = """
import atexit, os, sys, threading, time
import workbench.cli

class TornDown:
    def __del__(self, write=os.write):
        write(2, b"torn down\\n")

KEPT = TornDown()
atexit.register(lambda: sys.stderr.write("atexit ran\\n"))
{extra}
sys.argv = ["workbench", *{argv!r}]
workbench.cli.main()
"""


def run_probe(argv: list[str], extra: str = "", cwd: Path | None = None, stdout: Any = subprocess.PIPE) -> subprocess.CompletedProcess[str]:
    code = PROBE.format(argv=argv, extra=textwrap.dedent(extra))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # output buffered, as a user's is
    return subprocess.run(
        [sys.executable, "-c", code], stdout=stdout, stderr=subprocess.PIPE, text=True, timeout=120, cwd=cwd, check=False, env=env
    )


def test_the_exit_hooks_run_and_the_teardown_is_skipped() -> None:
    done = run_probe(["--version"])
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"workbench {__version__}\n"
    assert "atexit ran" in done.stderr
    assert "torn down" not in done.stderr


def test_the_exit_code_is_the_commands(tmp_path: Path) -> None:
    done = run_probe(["-C", str(tmp_path), "render", "nothing/here"])
    assert done.returncode == 2
    assert "workbench:" in done.stderr
    assert "atexit ran" in done.stderr


def test_output_bigger_than_a_pipe_reaches_the_reader_whole(tmp_path: Path) -> None:
    prompts = tmp_path / "prompts"
    for i in range(400):
        folder = prompts / f"area{i % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"prompt{i}.yaml").write_text(f"name: prompt{i}\ndescription: '{'x' * 200}'\ntemplate: 'Say {{{{ q }}}} {i}'\n")
    done = run_probe(["-C", str(tmp_path), "list", "--json"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout) > 65536  # more than a pipe holds
    assert len(json.loads(done.stdout)) == 400


def test_a_thread_still_working_is_waited_for() -> None:
    # A non-daemon thread still running: the process ends the ordinary way, after it.
    extra = """
    def late():
        time.sleep(0.5)
        sys.stdout.write("thread finished\\n")
    threading.Thread(target=late).start()
    """
    done = run_probe(["--version"], extra)
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("thread finished\n")
    assert "atexit ran" in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_output_the_disk_cannot_take_is_an_error_not_a_success(tmp_path: Path) -> None:
    # A small output waits in the buffer until the end: its write failing there (a full disk)
    # must not read as success, or a `workbench list --json > out.json` leaves an empty file
    # and exit 0. Python's own exit says 120; the workbench names the problem and exits 2.
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "one.yaml").write_text("name: one\ntemplate: 'Say {{ q }}'\n")
    with open("/dev/full", "w") as full:
        done = run_probe(["-C", str(tmp_path), "list", "--json"], stdout=full)
    assert done.returncode == 2, done.stderr
    assert "workbench: cannot write the output: " in done.stderr
    assert "No space left on device" in done.stderr
    assert "atexit ran" in done.stderr


def test_an_error_with_stderr_closed_still_exits_2(tmp_path: Path) -> None:
    # `2>&-`: Python starts with sys.stderr None; writing the error message raised
    # AttributeError out of the handler and the process ended 1, which reads as "findings".
    code = PROBE.format(argv=["-C", str(tmp_path), "render", "nothing/here"], extra="").replace(
        'atexit.register(lambda: sys.stderr.write("atexit ran\\n"))', ""
    )
    done = subprocess.run(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, timeout=120, check=False, preexec_fn=lambda: os.close(2)
    )
    assert done.returncode == 2
    assert done.stdout == ""


# Ctrl+C arriving while `import workbench.cli` runs (Typer, Rich, our modules: the first
# ~0.15 s): a finder that interrupts that import, as the signal would.
INTERRUPTED_IMPORT = """
import sys

class Interrupt:
    def find_spec(self, name, path=None, target=None):
        if name == "typer":
            raise KeyboardInterrupt

sys.meta_path.insert(0, Interrupt())
sys.argv = ["workbench", "--version"]
from workbench.console import main
main()
"""


def test_ctrl_c_while_the_cli_is_imported_is_interrupted_not_a_traceback() -> None:
    done = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 130
    assert done.stderr == "workbench: interrupted\n"


def test_the_console_script_is_the_interruptible_entry() -> None:
    """The installed `workbench` and `python -m workbench` start in `workbench.console`."""
    from importlib.metadata import entry_points

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "workbench"]
    assert script.value == "workbench.console:main"
    done = subprocess.run([sys.executable, "-m", "workbench", "--version"], capture_output=True, text=True, timeout=120, check=False)
    assert done.stdout == f"workbench {__version__}\n"


GC_PROBE = """
import atexit, gc, sys
atexit.register(lambda: sys.stderr.write(f"gc enabled={gc.isenabled()} frozen={gc.get_freeze_count() > 0}\\n"))
sys.argv = ["workbench", "--version"]
from workbench.console import main
main()
"""


def test_the_collector_is_paused_for_the_imports_and_resumed_for_the_command(tmp_path: Path) -> None:
    """The objects Typer, Rich and our modules build at import live until the exit: collecting
    them while they are built found nothing (workbench/start_up.py). The command runs with the
    collector on, and without rescanning them."""
    done = subprocess.run([sys.executable, "-c", GC_PROBE], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "gc enabled=True frozen=True" in done.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["--version"], ["list"], ["list", "--json"]])
def test_output_to_a_full_disk_is_said_in_one_line(prompt_repo: Path, args: list[str]) -> None:
    """Written whole as it is printed, a lost output is a clean error, exit 2: `--version` said
    "unexpected error: OSError"."""
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "workbench", "-C", str(prompt_repo), *args], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == ["workbench: error: cannot write the output: [Errno 28] No space left on device"], done.stderr
