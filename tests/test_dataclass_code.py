"""Dataclasses' compiled methods kept between processes (workbench/dataclass_code.py): a second
process compiles none of them again, its classes behave exactly as compiled ones do, and a bad
file is ignored and replaced, never trusted."""

from __future__ import annotations

import importlib.util
import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# Classes that use what dataclasses generates: defaults, factories, frozen, order, slots,
# keyword-only fields, InitVar and __post_init__. The output is their behaviour, line by line.
CLASSES = """
import dataclasses, json
from dataclasses import InitVar, dataclass, field

@dataclass(frozen=True, order=True)
class Point:
    x: int
    y: int = 2
    tags: tuple[str, ...] = ()

@dataclass
class Bag:
    items: list[int] = field(default_factory=list)
    hidden: int = field(default=7, repr=False, compare=False)
    seed: InitVar[int] = 0
    total: int = field(init=False, default=0)

    def __post_init__(self, seed: int) -> None:
        self.total = seed + len(self.items)

@dataclass(slots=True, kw_only=True)
class Named:
    name: str
    size: float = 1.5

def behaviour() -> list[str]:
    out = [repr(Point(1)), repr(Point(1, 3, ("a",))), str(Point(1) == Point(1, 2)), str(Point(1) < Point(1, 3))]
    out.append(str(hash(Point(4)) == hash(Point(4))))
    try:
        Point(1).x = 5
    except dataclasses.FrozenInstanceError as err:
        out.append(f"frozen: {err}")
    a, b = Bag(), Bag()
    a.items.append(1)
    out += [repr(a), repr(b), repr(Bag([1, 2], seed=3)), str(Bag(hidden=1) == Bag(hidden=2))]
    out += [repr(Named(name="n")), str(hasattr(Named(name="n"), "__dict__"))]
    try:
        Named("positional")
    except TypeError as err:
        out.append(f"kw_only: {err}")
    return out
"""

PROBE = """
import sys
from pathlib import Path
{install}
{classes}
import workbench.core.model, workbench.evals.run_model
from workbench import dataclass_code
print("compiled now:", len(dataclass_code._new))
for line in behaviour():
    print(line)
{save}
"""


def run_probe(cache: Path | None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    install = save = ""
    if cache is not None:
        install = f"from workbench import dataclass_code\ndataclass_code.install(Path({str(cache)!r}))"
        save = f"dataclass_code.save(Path({str(cache)!r}))"
    code = PROBE.format(install=install, classes=textwrap.dedent(CLASSES), save=save)
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    environment.update(env or {})
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False, env=environment)
    assert done.returncode == 0, done.stderr
    return done


def compiled_now(done: subprocess.CompletedProcess[str]) -> int:
    return int(done.stdout.splitlines()[0].split(": ")[1])


def behaviour(done: subprocess.CompletedProcess[str]) -> list[str]:
    return done.stdout.splitlines()[1:]


def test_a_second_process_compiles_no_dataclass_method_and_its_classes_behave_the_same(tmp_path: Path) -> None:
    cache = tmp_path / "methods.marshal"
    plain = run_probe(None)
    first = run_probe(cache)
    assert compiled_now(first) > 50  # ours and the probe's classes
    assert cache.is_file()
    written = cache.stat().st_mtime_ns
    second = run_probe(cache)
    assert compiled_now(second) == 0
    assert cache.stat().st_mtime_ns == written  # nothing new: not written again
    assert behaviour(first) == behaviour(second) == behaviour(plain)
    assert any(line.startswith("frozen: cannot assign to field 'x'") for line in behaviour(second))


@pytest.mark.parametrize(
    "content",
    [
        b"not marshal data at all",
        b"\x00\x00\x00\x00" + marshal.dumps({"def f(): pass": "not code"}),  # another Python's magic
        importlib.util.MAGIC_NUMBER + b"\xff\xfe truncated",
        importlib.util.MAGIC_NUMBER + marshal.dumps(["a", "list"]),
        importlib.util.MAGIC_NUMBER + marshal.dumps({"def f(): pass": 42, 7: compile("x = 1", "<s>", "exec")}),
    ],
    ids=["garbage", "other-magic", "truncated", "not-a-dict", "not-code"],
)
def test_a_bad_file_is_ignored_and_replaced(tmp_path: Path, content: bytes) -> None:
    cache = tmp_path / "methods.marshal"
    cache.write_bytes(content)
    done = run_probe(cache)
    assert compiled_now(done) > 50
    assert behaviour(done) == behaviour(run_probe(None))
    assert cache.read_bytes().startswith(importlib.util.MAGIC_NUMBER)
    assert compiled_now(run_probe(cache)) == 0


def test_a_planted_fifo_or_oversized_file_does_not_hang_or_load(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.marshal"
    os.mkfifo(fifo)
    done = run_probe(fifo)  # a read would wait for a writer for ever (the probe's timeout)
    assert compiled_now(done) > 50
    big = tmp_path / "big.marshal"
    big.write_bytes(importlib.util.MAGIC_NUMBER + b"\0" * (4 * 1024 * 1024 + 1))
    assert compiled_now(run_probe(big)) > 50


def test_nothing_is_written_under_pythondontwritebytecode_or_where_it_cannot_be(tmp_path: Path) -> None:
    cache = tmp_path / "methods.marshal"
    run_probe(cache, env={"PYTHONDONTWRITEBYTECODE": "1"})
    assert not cache.exists()
    blocked = tmp_path / "a-file"
    blocked.write_text("a file where the folder would be")
    run_probe(blocked / "methods.marshal")  # cannot be written: the process still succeeds


def test_the_console_script_uses_the_kept_methods() -> None:
    probe = (
        "import atexit, dataclasses, sys\n"
        "from workbench import dataclass_code\n"
        "atexit.register(lambda: sys.stderr.write(f'cached exec={dataclasses.exec is dataclass_code._cached_exec}\\n'))\n"
        "sys.argv = ['workbench', '--version']\n"
        "from workbench.console import main\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    assert done.returncode == 0, done.stderr
    assert "cached exec=True" in done.stderr
