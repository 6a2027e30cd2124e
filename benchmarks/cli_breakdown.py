"""Where every millisecond of `workbench test a b -j 16` goes, uncached and cached.

Runs the command in fresh processes under a small harness that imports what the command
will import (timed as one block, split by package with `-X importtime`), then wraps the
functions that mark each phase (opening the repository, reading each file, building the
HTTP client, the first request, the last answer, storing, printing) and records when each
was first entered and last left. Each phase's duration is printed as the median over runs;
"unaccounted" is what the marks do not cover (typer's parsing, event-loop set-up, interpreter
start and exit). The same 200 calls as benchmarks/cli_runs.py (server in its own process,
200 ms per answer).

Run: python benchmarks/cli_breakdown.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import fake_openai
from cli_runs import CONCURRENCY, KEY_ENV, LATENCY, compile_workbench, make_repo

# What `workbench test` imports, in the order it imports it (the HTTP client is left out: it
# is imported by the run itself, in a worker thread, and shows as "HTTP client built").
IMPORTS = [
    "workbench.cli",
    "workbench.evals.reports",
    "workbench.services.evals",
    "rich.console",
    "rich.progress",
]

HARNESS = r"""
import json, sys, threading, time
T0 = time.perf_counter()
marks = {}
lock = threading.Lock()

def first(name):
    with lock:
        marks.setdefault(name, time.perf_counter() - T0)

def last(name):
    with lock:
        marks[name] = time.perf_counter() - T0

import importlib
from workbench import start_up
start_up.pause()  # as the console script does: no collections, dataclasses' kept methods
for module in IMPORTS:
    importlib.import_module(module)
start_up.resume()
last("imports done")

import workbench.cli.eval_cmds as ec
import workbench.evals.cache as ca
import workbench.evals.providers as pv
import workbench.evals.runner as rn
import workbench.services.evals as se
import workbench.services.session as sw

def wrap(owner, attr, begin, end, *, is_async=False, static=False, once=False):
    original = getattr(owner, attr)
    done = first if once else last  # once: the first call's end, not the last call's
    if is_async:
        async def wrapper(*args, **kwargs):
            first(begin)
            try:
                return await original(*args, **kwargs)
            finally:
                done(end)
    else:
        def wrapper(*args, **kwargs):
            first(begin)
            try:
                return original(*args, **kwargs)
            finally:
                done(end)
    setattr(owner, attr, staticmethod(wrapper) if static else wrapper)

wrap(ec, "_settings", "command entered", "command entered")
wrap(sw.RepoSession, "open", "repository open: start", "repository open: end", static=True)
wrap(se, "_read_target", "files read: start", "files read: end")
wrap(rn, "render_prompt", "cases rendered: start", "cases rendered: end")  # up front (a cache to read) or just in time
wrap(ca.ResponseCache, "get_many", "cache read: start", "cache read: end")
wrap(pv.OpenAIProvider, "_sdk_client", "HTTP client built: start", "HTTP client built: end", once=True)
wrap(pv.OpenAIProvider, "complete", "requests: first sent", "requests: last answered", is_async=True)
wrap(rn.SuiteRun, "run", "suites: start", "suites: end", is_async=True)
wrap(se, "_record", "results stored: start", "results stored: end")
wrap(ec, "_print_suite", "printed: start", "printed: end")
wrap(ec, "_write_reports", "reports: start", "reports: end")

from workbench.cli.common import run_app
from workbench.cli.process_exit import exit_process
code = run_app(ARGV)
last("command returned")
sys.stderr.write("MARKS " + json.dumps(marks) + "\n")
exit_process(code)  # as the console script ends
"""

PHASES = [
    ("imports (see the split below)", None, "imports done"),
    ("typer: parse arguments", "imports done", "command entered"),
    ("open the repository (GitPython, workbench.yaml)", "repository open: start", "repository open: end"),
    ("read, parse, validate both files (worker thread)", "files read: start", "files read: end"),
    ("render 200 cases (first -> last; uncached: each when its call has a slot)", "cases rendered: start", "cases rendered: end"),
    ("read the cache (one query per suite)", "cache read: start", "cache read: end"),
    ("build the SDK client (openai import, worker thread)", "HTTP client built: start", "HTTP client built: end"),
    ("start of command -> first request on the wire", "command entered", "requests: first sent"),
    ("requests: first sent -> last answered", "requests: first sent", "requests: last answered"),
    ("suites: start -> end (grading included)", "suites: start", "suites: end"),
    ("store results + git note", "results stored: start", "results stored: end"),
    ("print 200 rows", "printed: start", "printed: end"),
    ("reports", "reports: start", "reports: end"),
    ("after the last phase -> command returned", "reports: end", "command returned"),
]


def run_harness(argv: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, dict[str, float]]:
    code = HARNESS.replace("IMPORTS", repr(IMPORTS)).replace("ARGV", repr(argv))
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, _, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    assert process.stderr is not None
    stderr = process.stderr.read()
    line = next((x for x in stderr.splitlines() if x.startswith("MARKS ")), None)
    if line is None:
        raise SystemExit("the harness did not report its marks:\n" + stderr[-2000:])
    return wall, usage.ru_utime + usage.ru_stime, json.loads(line[6:])


def import_split(env: dict[str, str], runs: int) -> list[tuple[str, float]]:
    """Self time of each top-level package imported by the command, from -X importtime (median)."""
    per_run: list[dict[str, float]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "import " + ", ".join(IMPORTS)],
            env=env, capture_output=True, text=True, check=True,
        )
        totals: dict[str, float] = {}
        for row in done.stderr.splitlines():
            match = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", row)
            if match:
                package = match.group(2).split(".")[0]
                totals[package] = totals.get(package, 0.0) + int(match.group(1)) / 1e6
        per_run.append(totals)
    packages = {p for run in per_run for p in run}
    medians = [(p, statistics.median(run.get(p, 0.0) for run in per_run)) for p in packages]
    return sorted(medians, key=lambda item: -item[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    compile_workbench()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update({KEY_ENV: "not-a-real-key", "NO_COLOR": "1"})
    exe = shutil.which("workbench") or str(Path(sys.executable).with_name("workbench"))
    bare = []
    for _ in range(args.runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        bare.append(time.perf_counter() - start)
    load_before = os.getloadavg()[0]
    results: dict[str, list[tuple[float, float, dict[str, float]]]] = {"uncached": [], "cached": []}
    plain: dict[str, list[float]] = {"uncached": [], "cached": []}
    with tempfile.TemporaryDirectory() as tmp, fake_openai(LATENCY) as server:
        repo = make_repo(Path(tmp))
        argv = ["-C", str(repo), "test", "a", "b", "-j", str(CONCURRENCY), "--base-url", server.base_url]
        subprocess.run([exe, *argv], env=env, capture_output=True, check=False)  # fill the cache
        for _ in range(args.runs):
            for mode, extra in (("uncached", ["--no-cache"]), ("cached", [])):
                results[mode].append(run_harness([*argv, *extra], repo, env))
                start = time.perf_counter()
                subprocess.run([exe, *argv, *extra], env=env, capture_output=True, check=False)
                plain[mode].append(time.perf_counter() - start)
    split = import_split(env, args.runs)
    print(f"load average {load_before:.2f} -> {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); medians of {args.runs} runs")
    print(f"interpreter start + exit (python -c pass): {statistics.median(bare) * 1000:.0f} ms\n")
    print(f"{'phase (ms)':<56} {'uncached':>9} {'cached':>9}")
    for label, begin, end in PHASES:
        cells = []
        for mode in ("uncached", "cached"):
            values = [m[end] - (m[begin] if begin else 0.0) for _, _, m in results[mode] if end in m and (begin is None or begin in m)]
            cells.append(f"{statistics.median(values) * 1000:9.0f}" if values else f"{'-':>9}")
        print(f"{label:<56} {cells[0]} {cells[1]}")
    for mode in ("uncached", "cached"):
        walls = [w for w, _, _ in results[mode]]
        cpus = [c for _, c, _ in results[mode]]
        returned = [m["command returned"] for _, _, m in results[mode]]
        print(
            f"{mode}: harness process {statistics.median(walls) * 1000:.0f} ms wall, {statistics.median(cpus) * 1000:.0f} ms CPU; "
            f"command returned at {statistics.median(returned) * 1000:.0f} ms; plain `workbench` process {statistics.median(plain[mode]) * 1000:.0f} ms"
        )
    print("\nimport self time by package (-X importtime, ms):")
    print("  " + ", ".join(f"{package} {seconds * 1000:.0f}" for package, seconds in split if seconds >= 0.002))


if __name__ == "__main__":
    main()
