"""Fault drill for the local stores: inject faults many times and count what survived.

- kill -9 of `workbench monitor ingest` at random moments (a real subprocess);
- kill -9 of a process writing test results (a real subprocess);
- a random damaged page in results.sqlite, cache.sqlite and monitor.sqlite;
- torn, wrong-typed and hostile lines in an event log.
After each fault the next command must work and nothing already stored may be lost.
Prints one row per fault kind (the README's fault-suite table).

Run: python scripts/fault_drill.py [ROUNDS]   (default 10 per fault kind)
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.evals.cache import ResponseCache
from workbench.evals.providers import Completion
from workbench.evals.runner import CaseResult
from workbench.evals.store import ResultsStore
from workbench.monitor.store import BATCH, MonitorStore

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 10
rng = random.Random(11)
LINE = '{{"call_id":"{p}{i}","ts":{ts},"name":"p","version":"p@v1","env":"prod","latency_ms":{lat},"input_tokens":10,"output_tokens":5,"error":null,"score":0.5}}\n'


def log(path: Path, n: int, prefix: str) -> Path:
    with path.open("w") as handle:
        handle.writelines(LINE.format(p=prefix, i=i, ts=1_700_000_000 + i, lat=100 + i % 50) for i in range(n))
    return path


def counts(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM events").fetchone()[0], db.execute("SELECT coalesce(sum(calls),0) FROM rollup").fetchone()[0]
    finally:
        db.close()


def damage(path: Path, page: int) -> None:
    db = sqlite3.connect(path)
    size = db.execute("PRAGMA page_size").fetchone()[0]
    db.close()
    with path.open("r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(bytes(rng.randrange(256) for _ in range(size)))


def pages(path: Path) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute("PRAGMA page_count").fetchone()[0])
    finally:
        db.close()


def row(fault: str, injected: int, survived: str) -> None:
    print(f"| {fault} | {injected} | {survived} |")


def drill_ingest_kills(tmp: Path) -> None:
    root = tmp / "repo"
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    big = log(tmp / "big.jsonl", 3 * BATCH, "c")
    before = log(tmp / "before.jsonl", 1000, "old")
    mid = consistent = restored = partial = 0
    for _ in range(ROUNDS):
        shutil.rmtree(root / ".workbench", ignore_errors=True)
        subprocess.run([sys.executable, "-m", "workbench", "-C", str(root), "monitor", "ingest", str(before)], check=True, capture_output=True)
        process = subprocess.Popen([sys.executable, "-m", "workbench", "-C", str(root), "monitor", "ingest", str(big)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 6.0))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            mid += 1
        process.wait()
        stored, counted = counts(root / ".workbench" / "monitor.sqlite")
        consistent += stored == counted and stored >= 1000 and (stored - 1000) % BATCH == 0
        partial += 1000 < stored < 1000 + 3 * BATCH
        subprocess.run([sys.executable, "-m", "workbench", "-C", str(root), "monitor", "ingest", str(big)], check=True, capture_output=True)
        restored += counts(root / ".workbench" / "monitor.sqlite") == (1000 + 3 * BATCH, 1000 + 3 * BATCH)
    row("`kill -9` during `monitor ingest` (300,000 events, random moment)", mid,
        f"{partial} killed after 1 or 2 of its 3 batches had committed; {consistent}/{ROUNDS} stores with every stored event counted, whole batches only, the 1,000 earlier events kept; {restored}/{ROUNDS} complete after the next ingest")


WRITER = """
import sys, pathlib
from workbench.evals.runner import CaseResult
from workbench.evals.store import ResultsStore
store = ResultsStore(pathlib.Path(sys.argv[1]))
results = [CaseResult(f"k{i}", "", 0, True, 1.0, output="y" * 2000) for i in range(300)]
while True:
    store.record(prompt="p", revision="k", commit=None, blob=None, provider="echo", model=None, parameters={}, results=results, started=1.0)
"""


def drill_results_kills(tmp: Path) -> None:
    whole = kept = 0
    for round_ in range(ROUNDS):
        path = tmp / f"kill-{round_}" / "results.sqlite"
        path.parent.mkdir()
        store = ResultsStore(path)
        store.record(prompt="p", revision="before", commit=None, blob=None, provider="echo", model=None, parameters={}, results=[CaseResult("a", "", 0, True, 1.0)], started=0.0)
        store.close()
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 2.5))
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        store = ResultsStore(path)
        runs = store.runs("p", limit=100_000)
        whole += all(len(store.cases(r.id)) == r.summary.total for r in runs) and not store.warnings
        kept += "before" in {r.revision for r in runs}
        store.close()
    row("`kill -9` of a process writing test results (random moment)", ROUNDS, f"{whole}/{ROUNDS} stores hold whole runs only and open without a warning; {kept}/{ROUNDS} kept the earlier run")


def drill_damaged_pages(tmp: Path) -> None:
    base = tmp / "results-base.sqlite"
    store = ResultsStore(base)
    for run in range(40):
        store.record(prompt="p", revision=f"r{run}", commit=None, blob=None, provider="echo", model=None, parameters={},
                     results=[CaseResult(f"c{i}", "", 0, True, 1.0, output="z" * 300) for i in range(20)], started=float(run))
    store.close()
    worked = runs_kept = detected = cases_kept = 0
    total_runs = 0
    for round_ in range(ROUNDS):
        path = tmp / f"damaged-{round_}" / "results.sqlite"
        path.parent.mkdir()
        shutil.copy(base, path)
        damage(path, rng.randrange(2, pages(path) + 1))
        store = ResultsStore(path)
        for run in store.runs("p", limit=1000):
            store.cases(run.id)
        new = store.record(prompt="p", revision="new", commit=None, blob=None, provider="echo", model=None, parameters={}, results=[CaseResult("n", "", 0, True, 1.0)], started=99.0)
        detected += any("corrupt" in w for w in store.warnings)
        store.close()
        again = ResultsStore(path)
        runs = again.runs("p", limit=1000)
        worked += new != 0 and runs[0].revision == "new" and not again.warnings
        runs_kept += len(runs) - 1
        cases_kept += sum(len(again.cases(r.id)) for r in runs[1:])
        total_runs += 40
        again.close()
    row("a random damaged page in results.sqlite (40 runs × 20 cases)", ROUNDS,
        f"{detected} found corrupt and moved aside; {worked}/{ROUNDS}: the next run stored and the store clean afterwards; {runs_kept}/{total_runs} earlier runs and {cases_kept:,}/{total_runs * 20:,} of their cases still readable")

    cache_ok = cache_found = 0
    for round_ in range(ROUNDS):
        path = tmp / f"cache-{round_}" / "cache.sqlite"
        path.parent.mkdir()
        cache = ResponseCache(path)
        for i in range(200):
            cache.put(f"k{i}", Completion("w" * 400, 1, 1, 1.0, None))
        cache.close()
        damage(path, rng.randrange(1, pages(path) + 1))
        cache = ResponseCache(path)
        for i in range(200):
            cache.get(f"k{i}")
        cache.put("fresh", Completion("ok", 1, 1, 1.0, None))
        cache_ok += cache.get("fresh") is not None or bool(cache.warnings)
        cache_found += any("corrupt" in w for w in cache.warnings)
        cache.close()
    row("a random damaged page in cache.sqlite", ROUNDS, f"{cache_found} found corrupt, moved aside and rebuilt; {cache_ok}/{ROUNDS} runs went on and cached again")

    root = tmp / "monitor-base"
    store = MonitorStore(root / "monitor.sqlite")
    store.ingest([log(tmp / "m.jsonl", 50_000, "m")])
    store.close()
    ingest_ok = salvaged = found = 0
    for round_ in range(ROUNDS):
        folder = tmp / f"monitor-{round_}"
        shutil.copytree(root, folder)
        path = folder / "monitor.sqlite"
        damage(path, rng.randrange(2, pages(path) + 1))
        store = MonitorStore(path)
        report = store.ingest([log(tmp / f"n{round_}.jsonl", 100, f"n{round_}-")])
        stored, counted = store.count(), store.db.execute("SELECT sum(calls) FROM rollup").fetchone()[0]
        ingest_ok += report.added == 100 and stored == counted
        found += any("corrupt" in w for w in report.warnings)
        salvaged += stored - 100
        store.close()
    row("a random damaged page in monitor.sqlite (50,000 events)", ROUNDS,
        f"{found} found by the check before writing and moved aside; {ingest_ok}/{ROUNDS}: the next ingest stored its events, counts consistent; {salvaged:,}/{ROUNDS * 50_000:,} earlier events still there (re-ingest restores the rest)")


def drill_lines(tmp: Path) -> None:
    good = [json.loads(line) for line in log(tmp / "g.jsonl", 1000, "g").read_text().splitlines()]
    hostile = []
    for i in range(1000):
        event = dict(good[i], call_id=f"h{i}")
        field = rng.choice(["ts", "score", "version", "input_tokens", "latency_ms", "name", "call_id", "env", "error", "feedback"])
        event[field] = rng.choice(["abc", {}, {"a": [1]}, [1, 2], 10**30, -5, True, None, "", 1e308])
        hostile.append(json.dumps(event))
    hostile += ["[" * 5000 + "]" * 5000, "{" * 3000, "\x00\x01garbage", '{"call_id": "t", "name": "p", "ts": 1']
    path = tmp / "hostile.jsonl"
    lines = [json.dumps(e) for e in good] + hostile
    rng.shuffle(lines)
    path.write_text("\n".join(lines))
    store = MonitorStore(tmp / "lines.sqlite")
    report = store.ingest([path])
    stored, counted = store.count(), store.db.execute("SELECT sum(calls) FROM rollup").fetchone()[0]
    row("torn, wrong-typed and hostile event lines (1,004 among 1,000 good)", len(hostile),
        f"{report.problem_count} reported as `file:line: reason` and skipped, {report.added - 1000} valid after all (null or in-range values, any `error`), "
        f"{report.duplicates} duplicate call ids; "
        f"all 1,000 good lines stored; stored = counted: {stored == counted}; 0 crashes")


def main() -> None:
    print("| fault | injected | what survived |")
    print("| --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for drill in (drill_lines, drill_damaged_pages, drill_results_kills, drill_ingest_kills):
            folder = Path(tmp) / drill.__name__
            folder.mkdir()
            drill(folder)


if __name__ == "__main__":
    main()
