"""App speed: process start to first full paint, and key-to-screen latency in the history.

"First paint" is the first frame drawn with the first prompt's tree, history and diff in it;
"everything" adds what each environment runs (the tree's badges: status reads every
deployment tag) and the test summaries, i.e. every loading worker done. Both are measured
from the parent's spawn of a fresh process.
Targets (issue 13): 0.8 s on the synthetic 20k-commit repo and the demo; moving through history
under 50 ms per key. Median of several runs, headless (Textual's test driver). The child process starts as `workbench
ui` does: the first screen's Git reads (`tui/first_screen.py`) begin before Textual is imported,
and the garbage collector is paused until the first paint (`workbench/start_up.py`).

An anchor runs in the same loop: a bare Textual app (a tree, a table and a text, no Git, no
workbench) from spawn to its first paint, the floor any Textual app pays on this machine at
this moment; and a CPU gauge (a 10M-step Python loop) so figures from different moments of
this shared machine can be compared.

Bytecode: the package is compiled first (`compileall`), as `pip install` does; a checkout
run with PYTHONDONTWRITEBYTECODE=1 (this machine's agents) would otherwise compile every
workbench module from source in every process (~0.08 s on a quiet core, more here).
The first run on each repository starts with an empty verdict cache (`services.parse_cache`:
the first prompt's version is parsed, importing jsonschema and jinja2) and is printed apart;
the others reopen the repository as a user does.

Run: python benchmarks/app_startup.py
"""

from __future__ import annotations

import compileall
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import asyncio, json, sys, time
start = float(sys.argv[2])
from workbench import start_up
from workbench.tui.first_screen import ReadsAhead
start_up.pause()  # as `workbench ui` does: the collector waits for the first paint,
reads_ahead = ReadsAhead.start(sys.argv[1])  # and the first screen's reads start before Textual is imported
from textual.screen import Screen
from workbench.tui.app import make_app
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane

shown = []
first_diff = []
drawn = []
original = DiffPane.show_diff
def show_diff(self, diff):
    original(self, diff)
    self.refresh()
    shown.append(time.perf_counter())
    if not first_diff:
        first_diff.append(time.time())
DiffPane.show_diff = show_diff
compose = Screen._compositor_refresh
def compositor_refresh(self):
    compose(self)
    if first_diff and not drawn:  # the first frame with the diff in it
        drawn.append(time.time())
Screen._compositor_refresh = compositor_refresh

async def main():
    app = make_app(sys.argv[1], reads_ahead=reads_ahead)
    async with app.run_test(size=(160, 48)) as pilot:
        while True:
            await pilot.pause(0.005)
            if app.workers._workers or app.query_one(HistoryPane).row_count == 0:
                continue
            break
        await app.workers.wait_for_complete()
        await pilot.pause()
        painted = time.time() - start
        first = (drawn[0] - start) if drawn else painted
        await pilot.press("2")
        keys = []
        for index in range(16):
            before = len(shown)
            t0 = time.perf_counter()
            await pilot.press("j" if index % 2 == 0 else "k")  # down and up: every key changes the version
            while len(shown) == before:
                await asyncio.sleep(0.001)
            keys.append(shown[-1] - t0)  # key sent -> the new diff is on screen
            await app.workers.wait_for_complete()
        print(json.dumps({"first": first, "paint": painted, "keys": keys, "rows": app.query_one(HistoryPane).row_count}))

asyncio.run(main())
"""


ANCHOR = r"""
import asyncio, json, sys, time
start = float(sys.argv[1])
from textual.app import App
from textual.widgets import DataTable, Static, Tree

class Bare(App[None]):
    def compose(self):
        tree = Tree("prompts")
        for n in range(10):
            tree.root.add_leaf(f"prompt {n}")
        yield tree
        table = DataTable()
        table.add_columns("commit", "when", "message")
        for n in range(50):
            table.add_row(f"{n:07x}", "1d", "a message")
        yield table
        yield Static("a diff")

async def main():
    app = Bare()
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        print(json.dumps({"first": time.time() - start}))

asyncio.run(main())
"""


def cpu_gauge() -> float:
    """Seconds for a 10M-step Python loop: ~0.45 s on a quiet core of this machine class."""
    started = time.perf_counter()
    total = 0
    for step in range(10_000_000):
        total += step
    return time.perf_counter() - started


def anchor(runs: int = 5) -> float:
    firsts = []
    for _ in range(runs):
        start = time.time()
        out = subprocess.run([sys.executable, "-c", ANCHOR, repr(start)], capture_output=True, text=True, check=True).stdout
        firsts.append(json.loads(out.strip().splitlines()[-1])["first"])
    return statistics.median(firsts)


def run(repo: Path) -> dict:  # type: ignore[type-arg]
    start = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD, str(repo), repr(start)], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def report(label: str, repo: Path, runs: int = 5) -> None:
    shutil.rmtree(repo / ".git" / "workbench" / "parsed", ignore_errors=True)
    cold = run(repo)["first"]  # nothing checked yet: the first prompt is parsed
    results = [run(repo) for _ in range(runs)]
    floor = anchor()  # right after, so both see the same machine
    first = statistics.median(r["first"] for r in results)
    paint = statistics.median(r["paint"] for r in results)
    keys = statistics.median(k for r in results for k in r["keys"])
    print(
        f"{label:<24} first paint {first * 1000:5.0f} ms (ratio to 0.8 s: {first / 0.8:4.2f}; bare Textual app"
        f" {floor * 1000:4.0f} ms, {first / floor:4.2f}x)   everything {paint * 1000:5.0f} ms"
        f"   history key {keys * 1000:5.1f} ms (ratio to 50 ms: {keys / 0.05:4.2f})"
        f"   first paint with nothing cached {cold * 1000:5.0f} ms"
    )


def main() -> None:
    from benchmarks.gen_synthetic_repo import ensure_synthetic_repo
    from workbench.services.demo import create_demo_repo

    compileall.compile_dir(ROOT / "workbench", quiet=1)  # as pip install does
    print(f"CPU gauge: {cpu_gauge():.2f} s for a 10M-step loop (~0.45 s quiet)")
    demo = create_demo_repo(Path(tempfile.mkdtemp(prefix="wb-bench-")) / "demo")
    report("demo repository", demo)
    report("synthetic 20k commits", ensure_synthetic_repo())


if __name__ == "__main__":
    main()
