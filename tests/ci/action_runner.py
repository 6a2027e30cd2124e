"""Runs the steps of `action.yml` the way a GitHub runner runs a composite action, locally.

Each `run:` step is the very text of action.yml, run with `bash --noprofile --norc -eo pipefail`
(GitHub's `shell: bash`), in its `working-directory`, with its `env` after `${{ }}` is
evaluated, and with the runner's files (GITHUB_OUTPUT per step, GITHUB_STEP_SUMMARY) and
variables (GITHUB_ACTION_PATH, GITHUB_REPOSITORY, GITHUB_BASE_REF, RUNNER_TEMP, ...). A step
without `if:` is skipped once a step failed; `if: always()` runs anyway. A `uses:` step (setup
-python, cache, upload-artifact) is not run: it is recorded with its evaluated `with:`.

Only context lookups (`inputs.x`, `github.event.pull_request.number`, `steps.check.outputs.y`)
are evaluated in `env`, `with` and `working-directory`: a run step's own text must hold no
expression at all (an input spliced into a script is a shell injection), and its `if:` may
only be `always()`.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.S)
LOOKUP = re.compile(r"[a-z_]+(\.[A-Za-z0-9_-]+)+")


def load() -> dict[str, Any]:
    data = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def evaluate(text: Any, context: dict[str, Any]) -> str:
    def lookup(match: re.Match[str]) -> str:
        expr = match[1]
        assert LOOKUP.fullmatch(expr), f"the local runner evaluates context lookups only, not {expr!r}"
        value: Any = context
        for part in expr.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)

    return EXPRESSION.sub(lookup, str(text))


def read_outputs(path: Path) -> dict[str, str]:
    """GITHUB_OUTPUT: `name=value` lines and `name<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines() if path.exists() else [])
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            block = []
            for value in lines:
                if value == delimiter:
                    break
                block.append(value)
            outputs[name] = "\n".join(block)
        elif "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
    return outputs


@dataclass
class Step:
    id: str | None
    ran: bool
    code: int | None = None
    stdout: str = ""
    stderr: str = ""
    uses: str | None = None
    with_: dict[str, str] = field(default_factory=dict)


@dataclass
class ActionRun:
    steps: list[Step]
    outputs: dict[str, str]
    summary: str

    @property
    def failed(self) -> bool:
        return any(s.code not in (None, 0) for s in self.steps)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)

    def used(self, action: str) -> Step:
        return next(s for s in self.steps if s.uses and s.uses.split("@")[0] == action)


def run_action(
    workspace: Path, tmp: Path, inputs: dict[str, str], *, env: dict[str, str], github: dict[str, Any]
) -> ActionRun:
    """Run action.yml in `workspace` (the checkout) with these inputs, environment and
    `github` context (`event`, `repository`, `base_ref`, `sha`, ...)."""
    action = load()
    github = {"action_path": str(ROOT), "token": "ghs_fake-workflow-token", "workspace": str(workspace), **github}
    context: dict[str, Any] = {"github": github, "runner": {"temp": str(tmp), "os": "Linux"}, "steps": {}}
    declared = action["inputs"]
    unknown = set(inputs) - set(declared)
    assert not unknown, f"not inputs of action.yml: {unknown}"
    context["inputs"] = {name: inputs.get(name, evaluate(spec.get("default", ""), context)) for name, spec in declared.items()}
    summary = tmp / "step_summary.md"
    summary.touch()
    base_env = {
        **env,
        "GITHUB_ACTION_PATH": str(ROOT),
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_REPOSITORY": str(github.get("repository", "")),
        "GITHUB_BASE_REF": str(github.get("base_ref", "")),
        "GITHUB_EVENT_NAME": str(github.get("event_name", "pull_request")),
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_RUN_ID": "4242",
        "GITHUB_SHA": str(github.get("sha", "")),
        "GITHUB_STEP_SUMMARY": str(summary),
        "RUNNER_TEMP": str(tmp),
    }
    steps: list[Step] = []
    failed = False
    for index, spec in enumerate(action["runs"]["steps"]):
        step_id = spec.get("id")
        if "uses" in spec:
            steps.append(Step(step_id, False, uses=spec["uses"], with_={k: evaluate(v, context) for k, v in (spec.get("with") or {}).items()}))
            continue
        condition = spec.get("if")
        assert condition in (None, "always()"), f"step {step_id}: the local runner knows `if: always()` only, not {condition!r}"
        assert "${{" not in spec["run"], f"step {step_id}: an expression inside `run:` (pass it through env)"
        assert spec["shell"] == "bash"
        if failed and condition is None:
            steps.append(Step(step_id, False))
            continue
        output = tmp / f"output_{index}"
        output.touch()
        step_env = {**base_env, "GITHUB_OUTPUT": str(output), **{k: evaluate(v, context) for k, v in (spec.get("env") or {}).items()}}
        cwd = workspace / evaluate(spec.get("working-directory", "."), context)
        script = tmp / f"step_{index}.sh"
        script.write_text(spec["run"], encoding="utf-8")
        done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=step_env, capture_output=True, text=True)
        steps.append(Step(step_id, True, done.returncode, done.stdout, done.stderr))
        if step_id:
            context["steps"][step_id] = {"outputs": read_outputs(output), "outcome": "failure" if done.returncode else "success"}
        failed = failed or done.returncode != 0
    outputs = {name: evaluate(spec["value"], context) for name, spec in (action.get("outputs") or {}).items()}
    return ActionRun(steps, outputs, summary.read_text(encoding="utf-8"))


def base_environment(extra: dict[str, str]) -> dict[str, str]:
    """The test process's (isolated) environment without anything GitHub or key-like."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "RUNNER_", "INPUT_", "GH_")) and not re.search(r"KEY|TOKEN|SECRET", k)}
    return {**keep, **extra}
