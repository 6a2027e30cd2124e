"""`history` and `monitor` for a prompt or environment that does not exist: exit 2 with the reason,
as every other command says, not exit 0 with "no deployments of nosuch" or an empty table.
A prompt that exists, was deleted, or has only production events, is an answer: exit 0."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import git
from workbench.cli.common import run_app

NAME = "support/summarize"


def cli(capsys: pytest.CaptureFixture[str], root: Path, *args: str) -> tuple[int, str, str]:
    code = run_app(["-C", str(root), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["history", "monitor"])
def test_an_unknown_prompt_is_an_error(prompt_repo: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    for extra in ((), ("--json",)):
        code, out, err = cli(capsys, prompt_repo, command, "nosuch", *extra)
        assert code == 2, out
        assert err.startswith("workbench: repository error: no prompt named 'nosuch'"), err
        assert "workbench list" in err
        assert out == ""


@pytest.mark.parametrize("command", ["history", "monitor"])
def test_an_unknown_environment_is_an_error(prompt_repo: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, _out, err = cli(capsys, prompt_repo, command, NAME, "--env", "nosuchenv")
    assert code == 2 and "unknown environment 'nosuchenv'" in err
    assert "dev, staging, prod" in err


def test_an_unknown_environment_of_every_prompt_is_an_error(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`monitor --all --env typo` said "0 of 0 prompts in typo regressed", exit 0."""
    code, _out, err = cli(capsys, prompt_repo, "monitor", "--all", "--env", "nosuchenv")
    assert code == 2 and "unknown environment 'nosuchenv'" in err
    assert cli(capsys, prompt_repo, "monitor", "--all", "--env", "prod")[0] == 0


@pytest.mark.parametrize("command", ["history", "monitor"])
def test_a_prompt_never_deployed_is_an_answer(prompt_repo: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    code, out, _err = cli(capsys, prompt_repo, command, NAME)
    assert code == 0 and NAME in out


def test_a_deleted_prompt_keeps_its_history(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, prompt_repo, "promote", NAME, "--env", "dev", "-m", "first")[0] == 0
    git(prompt_repo, "rm", "-q", f"prompts/{NAME}.yaml")
    git(prompt_repo, "commit", "-qm", "Retire summarize")
    code, out, _ = cli(capsys, prompt_repo, "history", NAME, "--json")
    assert code == 0 and [e["reason"] for e in json.loads(out)] == ["first"]
    git(prompt_repo, "rm", "-q", "prompts/support/triage_ticket.yaml")
    git(prompt_repo, "commit", "-qm", "Retire triage")
    code, out, _ = cli(capsys, prompt_repo, "history", "support/triage_ticket")  # in the history, never deployed
    assert code == 0 and "no deployments of support/triage_ticket" in out


def test_an_environment_left_out_of_workbench_yaml_keeps_its_events(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, prompt_repo, "promote", NAME, "--env", "staging", "-m", "first")[0] == 0
    (prompt_repo / "workbench.yaml").write_text("environments: [dev, prod]\n")
    code, out, _ = cli(capsys, prompt_repo, "history", NAME, "--env", "staging", "--json")
    assert code == 0 and [e["env"] for e in json.loads(out)] == ["staging"]


def test_a_prompt_known_only_from_production_events(prompt_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = {"call_id": "c1", "ts": 1_700_000_000, "name": "served/elsewhere", "version": "served/elsewhere@v1", "env": "prod", "latency_ms": 100.0}
    log = tmp_path / "events.jsonl"
    log.write_text(json.dumps(event) + "\n")
    assert cli(capsys, prompt_repo, "monitor", "ingest", str(log))[0] == 0
    code, out, err = cli(capsys, prompt_repo, "monitor", "served/elsewhere", "--since", "1000w")
    assert code == 0, err
    assert "served/elsewhere in prod" in out
