"""What users wait for: whole `workbench test` processes, side by side with promptfoo.

The same 200 calls (2 prompts x 100 cases) against the fake OpenAI-compatible server in its
own process, answering after 200 ms, 16 in flight; the physical limit is
ceil(200/16) x 0.2 s = 2.6 s (one prompt: 1.4 s). Every row of issue 13's table, as the
median of several fresh processes, with its ratio to its limit and the target:

    uncached  `workbench test a b -j 16 --no-cache`, whole process / 2.6 s      target <= 1.15
    cached    the same again with the cache on, 0 requests / 0.4 s             target <= 1.0
    one       `workbench test a -j 16 --no-cache` minus `workbench --version` / 1.4 s   <= 1.25
    429       10% of answers 429 with Retry-After: 1 / the ideal schedule       target <= 1.2
    faults    30% random 429 (no Retry-After) and 500 / the ideal schedule       target <= 1.5

The ideal schedule of a fault run comes from the server's own log of that run: every
attempt's latency plus every mandated wait, packed at the concurrency (see
`_server.ideal_schedule`). Two anchors run in the same loop as the workbench, so that the
machine's load at that moment shows: promptfoo on the same calls (installed from the npm
registry into a temporary folder when Node and npm are here; skipped with a message
otherwise), and two floors: a bare Python process that only imports the HTTP client and sends
the 200 requests, and the same through the official OpenAI SDK (loaded as the workbench loads
it, `workbench.evals.sdk_import.openai_sdk`): the least any run on the product's stack can take. Also printed: CPU time of each process (user + system) and the load
average before and after.

Run: python benchmarks/cli_runs.py [--runs N] [--no-promptfoo]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _server import fake_openai, ideal_schedule

CASES = 100
CONCURRENCY = 16
LATENCY = 0.2
LIMIT_TWO = math.ceil(2 * CASES / CONCURRENCY) * LATENCY
LIMIT_ONE = math.ceil(CASES / CONCURRENCY) * LATENCY
CACHED_TARGET_S = 0.4
# 0.123.1 (the anchor) needs Node >= 22.22; 0.121.20 is the newest that runs on Node 20.
PROMPTFOO_VERSIONS = (("0.123.1", (22, 22)), ("0.121.20", (20, 20)))
KEY_ENV = "BENCH_KEY"


def prompt_text(label: str) -> str:
    tests = "".join(
        f"  - description: case {i}\n    vars: {{q: 'question {i}'}}\n    assert: [{{type: icontains, value: 'question {i}'}}]\n"
        for i in range(CASES)
    )
    return (
        f"model: {{provider: openai, name: gpt-4o-mini, api_key_env: {KEY_ENV}}}\ninputs:\n  q: {{type: string}}\n"
        f"messages:\n  - {{role: user, content: '{label}: {{{{ q }}}}'}}\ntests:\n{tests}"
    )


def make_repo(root: Path) -> Path:
    repo = root / "repo"
    (repo / "prompts").mkdir(parents=True)
    for label in ("a", "b"):
        (repo / "prompts" / f"{label}.yaml").write_text(prompt_text(label), encoding="utf-8")
    (repo / ".gitignore").write_text(".workbench/\n")
    env = {**os.environ, "GIT_AUTHOR_NAME": "b", "GIT_AUTHOR_EMAIL": "b@b", "GIT_COMMITTER_NAME": "b", "GIT_COMMITTER_EMAIL": "b@b"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "bench"]):
        subprocess.run(["git", *args], cwd=repo, check=True, env=env, capture_output=True)
    return repo


def promptfoo_config(root: Path, base_url: str) -> Path:
    tests = "".join(f"  - vars: {{q: 'question {i}'}}\n    assert: [{{type: icontains, value: 'question {i}'}}]\n" for i in range(CASES))
    config = (
        "description: workbench benchmark (same 200 calls)\n"
        "prompts:\n  - id: a\n    raw: 'a: {{q}}'\n  - id: b\n    raw: 'b: {{q}}'\n"
        f"providers:\n  - id: openai:chat:gpt-4o-mini\n    config: {{apiBaseUrl: '{base_url}', apiKey: 'not-needed'}}\n"
        f"tests:\n{tests}"
    )
    path = root / "promptfooconfig.yaml"
    path.write_text(config, encoding="utf-8")
    return path


def find_promptfoo(skip: bool) -> tuple[Path, str] | None:
    """promptfoo's CLI and version: $PROMPTFOO_BIN, an earlier install in the temp folder, or a
    fresh `npm install` there of the newest anchor version this Node.js runs."""
    if skip:
        print("promptfoo: skipped (--no-promptfoo)")
        return None
    if os.environ.get("PROMPTFOO_BIN"):
        return Path(os.environ["PROMPTFOO_BIN"]), os.environ.get("PROMPTFOO_VERSION", "?")
    if not (shutil.which("node") and shutil.which("npm")):
        print("promptfoo: skipped (Node.js and npm are not installed)")
        return None
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout.strip().lstrip("v")
    have = tuple(int(part) for part in node.split(".")[:2] if part.isdigit())
    version = next((v for v, needs in PROMPTFOO_VERSIONS if have >= needs), None)
    if version is None:
        print(f"promptfoo: skipped (Node.js {node} is older than every anchor version needs)")
        return None
    folder = Path(tempfile.gettempdir()) / f"workbench-bench-promptfoo-{version}"
    binary = folder / "node_modules" / ".bin" / "promptfoo"
    if binary.exists():
        return binary, version
    print(f"promptfoo: installing promptfoo@{version} from the npm registry into {folder} ...", flush=True)
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error", f"promptfoo@{version}"],
        cwd=folder, capture_output=True, text=True, check=False,
    )
    if done.returncode != 0 or not binary.exists():
        print(f"promptfoo: skipped (npm install failed: {done.stderr.strip()[-300:]})")
        return None
    return binary, version


def timed(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU (user + system) seconds of one whole process."""
    start = time.perf_counter()
    process = subprocess.Popen(args, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0, 1, 100):  # 1: failed cases; 100: promptfoo's failed tests
        raise SystemExit(f"{args[:3]} failed ({process.returncode}): {stderr[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime


FLOOR = """
import asyncio, sys, httpx2
async def main(url):
    async with httpx2.AsyncClient(base_url=url, timeout=30) as client:
        slots = asyncio.Semaphore({concurrency})
        async def one(i):
            async with slots:
                (await client.post("/chat/completions", json={{"model": "m", "messages": [{{"role": "user", "content": f"floor {{i}}"}}]}})).json()
        await asyncio.gather(*(one(i) for i in range({calls})))
asyncio.run(main(sys.argv[1]))
"""

# The same calls through the official SDK, imported as the workbench imports it (type catalogues
# on demand, no aiohttp transport) and called as it calls it (`post(..., cast_to=object)`: the
# answer's JSON, no pydantic model): nothing of the product but that loader module.
FLOOR_SDK = """
import asyncio, sys
from workbench.evals.sdk_import import openai_sdk
async def main(url):
    async with openai_sdk().AsyncOpenAI(base_url=url, api_key="x", max_retries=0) as client:
        slots = asyncio.Semaphore({concurrency})
        async def one(i):
            async with slots:
                await client.post("/chat/completions", body={{"model": "m", "messages": [{{"role": "user", "content": f"floor {{i}}"}}]}}, cast_to=object)
        await asyncio.gather(*(one(i) for i in range({calls})))
asyncio.run(main(sys.argv[1]))
"""


def compile_workbench() -> None:
    """Write the package's bytecode, as `pip install` does for an installed (non-editable) copy."""
    import compileall

    import workbench

    compileall.compile_dir(str(Path(workbench.__file__).parent), quiet=1)


class Row:
    def __init__(self, label: str, limit: float, target: float, unit: str = "the limit") -> None:
        self.label, self.limit, self.target, self.unit = label, limit, target, unit
        self.walls: list[float] = []
        self.cpus: list[float] = []
        self.limits: list[float] = []
        self.notes: list[str] = []
        self.spans: list[float] = []  # first request to last answer, over the limit (or the ideal)

    def add(self, wall: float, cpu: float, limit: float | None = None) -> None:
        self.walls.append(wall)
        self.cpus.append(cpu)
        self.limits.append(limit if limit is not None else self.limit)

    def line(self) -> str:
        if not self.walls:
            return f"{self.label:<46} (not measured)"
        ratios = [w / lim for w, lim in zip(self.walls, self.limits, strict=True)]
        ratio = statistics.median(ratios)
        verdict = "ok" if ratio <= self.target else "OVER"
        return (
            f"{self.label:<46} {statistics.median(self.walls):6.2f} s  CPU {statistics.median(self.cpus):5.2f} s  "
            f"{statistics.median(self.limits):5.2f} s {self.unit:<14} ratio {ratio:5.2f}  target {self.target:4.2f}  {verdict}"
            + (f"  (requests only: {statistics.median(self.spans):.2f})" if self.spans else "")
            + (f"\n{'':<8}{'; '.join(dict.fromkeys(self.notes))}" if self.notes else "")
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per row (median)")
    parser.add_argument("--no-promptfoo", action="store_true")
    args = parser.parse_args()
    exe = shutil.which("workbench") or str(Path(sys.executable).with_name("workbench"))
    found = find_promptfoo(args.no_promptfoo)
    promptfoo, pf_version = found if found is not None else (None, "")
    compile_workbench()
    load_before = os.getloadavg()
    rows = {
        "floor": Row("floor: bare python + httpx2, 200 calls", LIMIT_TWO, 99),
        "floor_sdk": Row("floor: bare python + the OpenAI SDK, 200 calls", LIMIT_TWO, 99),
        "uncached": Row("workbench test a b -j16 --no-cache", LIMIT_TWO, 1.15),
        "pf_uncached": Row(f"promptfoo {pf_version} eval, same 200 calls", LIMIT_TWO, 99),
        "cached": Row("workbench cached rerun (0 requests)", CACHED_TARGET_S, 1.0, "target"),
        "pf_cached": Row(f"promptfoo {pf_version} cached rerun", CACHED_TARGET_S, 99, "target"),
        "one": Row("100 cases j16 minus --version start-up", LIMIT_ONE, 1.25),
        "one_floor_sdk": Row("floor: SDK, 100 calls minus python start-up", LIMIT_ONE, 99),
        "429": Row("10% 429 with Retry-After: 1", 0, 1.2, "ideal"),
        "faults": Row("30% random 429/500", 0, 1.5, "ideal"),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        repo = make_repo(root)
        # As installed: bytecode is written and read (a PYTHONDONTWRITEBYTECODE in the caller's
        # environment would make every run compile the workbench's modules again).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update({KEY_ENV: "not-a-real-key", "NO_COLOR": "1"})
        pf_env = {
            **env, "PROMPTFOO_CONFIG_DIR": str(root / "pf-config"), "PROMPTFOO_CACHE_PATH": str(root / "pf-cache"),
            "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_DISABLE_SHARING": "1",
            "PROMPTFOO_DISABLE_REMOTE_GENERATION": "true", "OPENAI_API_KEY": "not-needed",
        }
        floor_script = root / "floor.py"
        floor_script.write_text(FLOOR.format(concurrency=CONCURRENCY, calls=2 * CASES))
        floor_sdk_script = root / "floor_sdk.py"
        floor_sdk_script.write_text(FLOOR_SDK.format(concurrency=CONCURRENCY, calls=2 * CASES))
        one_floor_script = root / "one_floor_sdk.py"
        one_floor_script.write_text(FLOOR_SDK.format(concurrency=CONCURRENCY, calls=CASES))
        with fake_openai(LATENCY) as server:
            wb = [exe, "-C", str(repo), "test", "a", "b", "-j", str(CONCURRENCY), "--base-url", server.base_url]
            pf = None
            if promptfoo is not None:
                config = promptfoo_config(root, server.base_url)
                pf = [str(promptfoo), "eval", "-c", str(config), "-j", str(CONCURRENCY), "--no-progress-bar"]
            timed([exe, "--version"], repo, env)  # warm the file cache
            versions = []
            for _ in range(args.runs):
                for key, command, cwd in (
                    ("floor", [sys.executable, str(floor_script), server.base_url], root),
                    ("floor_sdk", [sys.executable, str(floor_sdk_script), server.base_url], root),
                    ("uncached", [*wb, "--no-cache"], repo),
                ):
                    began = time.monotonic()
                    rows[key].add(*timed(command, cwd, env))
                    window = [e for e in server.log() if e["start"] >= began]
                    rows[key].spans.append((max(e["end"] for e in window) - min(e["start"] for e in window)) / LIMIT_TWO)
                if pf is not None:
                    rows["pf_uncached"].add(*timed([*pf, "--no-cache"], root, pf_env))
                version_wall, _ = timed([exe, "--version"], repo, env)
                versions.append(version_wall)
                wall, cpu = timed([exe, "-C", str(repo), "test", "a", "-j", str(CONCURRENCY), "--no-cache", "--base-url", server.base_url], repo, env)
                rows["one"].add(wall - version_wall, cpu)
                python_wall, _ = timed([sys.executable, "-c", "pass"], root, env)
                wall, cpu = timed([sys.executable, str(one_floor_script), server.base_url], root, env)
                rows["one_floor_sdk"].add(wall - python_wall, cpu)
            timed(wb, repo, env)  # fill the cache
            if pf is not None:
                timed(pf, root, pf_env)
            before = server.requests
            for _ in range(args.runs):
                rows["cached"].add(*timed(wb, repo, env))
                if pf is not None:
                    rows["pf_cached"].add(*timed(pf, root, pf_env))
            if server.requests != before:
                rows["cached"].notes.append(f"{server.requests - before} requests reached the server")
            rows["one"].notes.append(f"--version {statistics.median(versions):.2f} s")
        for key, rate, faults in (("429", 0.10, ("429:1",)), ("faults", 0.30, ("429", "500"))):
            for seed in range(1, args.runs + 1):
                measure_faults(rows[key], exe, repo, env, rate, faults, seed)
    load_after = os.getloadavg()
    print(f"\nlimit: ceil(200/{CONCURRENCY}) x {LATENCY:.1f} s = {LIMIT_TWO:.1f} s (one prompt {LIMIT_ONE:.1f} s); medians of {args.runs} fresh processes")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} ({os.cpu_count()} cores)")
    for key, row in rows.items():
        if key.startswith("pf_") and promptfoo is None:
            continue
        print(row.line())


def measure_faults(row: Row, exe: str, repo: Path, env: dict[str, str], rate: float, faults: tuple[str, ...], seed: int) -> None:
    with fake_openai(LATENCY, rate, faults, seed) as server:
        wall, cpu = timed([exe, "-C", str(repo), "test", "a", "b", "-j", str(CONCURRENCY), "--no-cache", "--base-url", server.base_url, "--json-file", str(repo / "faults.json")], repo, env)
        log = server.log()
        ideal = ideal_schedule(log, CONCURRENCY)
        bound = ideal_schedule(log, CONCURRENCY, clairvoyant=True)
        report = json.loads((repo / "faults.json").read_text())
    cases = [c for suite in report["suites"] for c in suite["cases"]]
    errors = sum(1 for c in cases if c["status"] == "error")
    span = max(e["end"] for e in log) - min(e["start"] for e in log)
    # Whole process against the ideal makespan: the run's start-up counts against it too.
    row.add(wall, cpu, ideal)
    row.spans.append(span / ideal)
    row.notes.append(f"seed {seed}: {len(log)} requests, {len(cases)} ended, {errors} errors, ideal {ideal:.2f} s (clairvoyant bound {bound:.2f} s)")


if __name__ == "__main__":
    main()
