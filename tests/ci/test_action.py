"""`action.yml`: valid against the GitHub Actions schema, and its shell steps run here.

The steps run as a runner runs them (`action_runner.py`) on a clone left the way
actions/checkout leaves a pull request (detached, no local main), against the local
OpenAI-protocol server and a fake `gh` on PATH that records the API calls (`fake_gh.py`).
`pip install` is recorded, not run (no network in tests); the installed workbench is this
checkout's.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import jsonschema
import pytest
from action_runner import ROOT, ActionRun, base_environment, load, run_action
from ci_repo import build, git, reply
from fake_gh import calls, comments, install
from fake_openai import FakeOpenAI

SCHEMA = Path(__file__).parent / "schema" / "github-action.json"
MARKER = "<!-- prompt-workbench:ci-check . -->"
KEY = "sk-ci-action-secret-0123456789"
HUMAN_WITH_MARKER = {"id": 7, "body": f"{MARKER}\nquoted by a person", "user": {"login": "alice", "type": "User"}}


def test_action_yml_is_a_valid_composite_action() -> None:
    action = load()
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft7Validator(schema).validate(action)
    assert action["runs"]["using"] == "composite"
    for step in action["runs"]["steps"]:
        if "run" in step:  # the shell lives in scripts the tests run too
            script = step["run"].split('"$GITHUB_ACTION_PATH/', 1)[1].split('"', 1)[0]
            assert (ROOT / script).is_file(), script
    assert {"base", "working-directory", "secret-names", "fail-on-regression", "comment"} <= set(action["inputs"])


def test_the_schema_rejects_a_broken_action() -> None:
    action = load()
    action["runs"]["steps"][1] = {"run": "echo hi"}  # a composite run step needs a shell
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8"))).validate(action)


@dataclass
class Runner:
    tmp: Path
    checkout: Path
    server: FakeOpenAI
    env: dict[str, str]
    state: Path
    log: Path

    def run(self, head: str, number: int | None = 12, **inputs: str) -> ActionRun:
        git(self.checkout, "switch", "-q", "--detach", f"origin/{head}")
        event = {"pull_request": {"number": number}} if number else {}
        defaults = {
            "secret-names": "FAKE_KEY",
            "secrets": json.dumps({"FAKE_KEY": KEY, "DEPLOY_PASSWORD": "hunter2-deploy", "github_token": "ghs_other"}),
            "args": f"--base-url {self.server.base_url}",
        }
        temp = self.tmp / f"runner-{len(list(self.tmp.glob('runner-*')))}"
        temp.mkdir()
        github = {"event": event, "repository": "acme/prompts", "base_ref": "main" if number else "", "event_name": "pull_request" if number else "push"}
        return run_action(self.checkout, temp, {**defaults, **inputs}, env=self.env, github=github)

    def bot_comments(self) -> list[dict[str, object]]:
        return [c for c in comments(self.state) if c["user"]["login"] == "github-actions[bot]"]  # type: ignore[index]


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    origin = build(tmp_path / "origin")
    checkout = tmp_path / "checkout"
    git(tmp_path, "clone", "-q", str(origin), str(checkout))
    git(checkout, "switch", "-q", "--detach", "origin/regress")
    git(checkout, "branch", "-q", "-D", "main")
    git(checkout, "update-ref", "-d", "refs/remotes/origin/main")  # the script fetches the base
    bin_dir = tmp_path / "bin"
    state, log = tmp_path / "gh-state.json", tmp_path / "gh-calls.jsonl"
    people = [{"id": 5, "body": "LGTM", "user": {"login": "bob", "type": "User"}}, HUMAN_WITH_MARKER]
    fake = install(bin_dir, state, log, people)
    real = Path(sys.executable).parent / "workbench"
    (bin_dir / "workbench").write_text(  # records the environment the workbench gets
        f'#!/bin/sh\nenv > "{tmp_path}/workbench-env"\nexec "{real}" "$@"\n', encoding="utf-8"
    )
    (bin_dir / "python3").write_text(  # `python3 -m pip ...` is recorded, anything else runs
        f'#!/bin/sh\nif [ "$1" = -m ] && [ "$2" = pip ]; then echo "$*" >> "{tmp_path}/pip.log"; exit 0; fi\nexec "{sys.executable}" "$@"\n',
        encoding="utf-8",
    )
    for tool in ("workbench", "python3"):
        (bin_dir / tool).chmod(0o755)
    env = base_environment({**fake, "PATH": f"{bin_dir}:{base_environment({})['PATH']}"})
    with FakeOpenAI(reply=reply) as server:
        yield Runner(tmp_path, checkout, server, env, state, log)


def test_first_run_creates_the_comment_and_the_second_updates_it(runner: Runner) -> None:
    first = runner.run("regress")
    assert first.step("install").code == 0
    assert (runner.tmp / "pip.log").read_text().split() == ["-m", "pip", "install", "--disable-pip-version-check", "--quiet", str(ROOT)]
    check = first.step("check")
    assert check.code == 1 and first.failed, check.stdout + check.stderr  # a regression fails the job
    assert first.outputs["exit-code"] == "1"
    assert runner.server.requests == 6
    made = [(c["method"], c["endpoint"]) for c in calls(runner.log)]
    assert made == [
        ("GET", "user"),
        ("GET", "repos/acme/prompts/issues/12/comments?per_page=100"),
        ("POST", "repos/acme/prompts/issues/12/comments"),
    ]
    assert all(c["token"] for c in calls(runner.log))
    (posted,) = runner.bot_comments()
    markdown = Path(first.outputs["markdown"]).read_text(encoding="utf-8")
    assert posted["body"] == f"{MARKER}\n{markdown}"
    assert "## ❌ Prompt Workbench: `support/reply` regressed" in markdown
    assert first.summary == markdown  # the job summary
    assert first.outputs["comment-url"] == f"https://github.com/acme/prompts/pull/12#issuecomment-{posted['id']}"
    upload = first.used("actions/upload-artifact")
    junit = ET.parse(Path(upload.with_["path"]) / "junit.xml").getroot()
    assert [c.get("name") for c in junit.iter("testcase")] == ["polite", "brief", "mentions the policy"]
    assert upload.with_["name"] == "prompt-workbench"
    seen = dict(line.split("=", 1) for line in (runner.tmp / "workbench-env").read_text().splitlines() if "=" in line)
    assert seen["FAKE_KEY"] == KEY and seen["WORKBENCH_ALLOWED_KEY_ENVS"] == "FAKE_KEY"
    assert not {"DEPLOY_PASSWORD", "INPUT_SECRETS", "GH_TOKEN", "github_token"} & set(seen)
    assert "hunter2" not in json.dumps(seen)
    assert KEY not in check.stdout + check.stderr + markdown

    second = runner.run("improve")
    assert second.step("check").code == 0 and not second.failed
    made = [(c["method"], c["endpoint"]) for c in calls(runner.log)][3:]
    assert made[-1] == ("PATCH", f"repos/acme/prompts/issues/comments/{posted['id']}")
    assert [m for m, _ in made].count("POST") == 0
    (updated,) = runner.bot_comments()
    assert updated["id"] == posted["id"] and "## ✅ Prompt Workbench: 1 changed prompt, no regression" in str(updated["body"])
    assert HUMAN_WITH_MARKER in comments(runner.state)  # someone else's comment with the marker: untouched
    assert second.outputs["comment-url"].endswith(f"#issuecomment-{posted['id']}")


def test_no_comment_when_turned_off_or_not_a_pull_request(runner: Runner) -> None:
    off = runner.run("improve", comment="false")
    assert off.step("comment").stdout.strip() == "comment: off"
    push = runner.run("improve", number=None, base="origin/main")
    assert "not a pull request" in push.step("comment").stdout
    assert calls(runner.log) == [] and runner.bot_comments() == []
    assert push.step("check").code == 0 and "no regression" in push.summary


def test_a_read_only_token_warns_and_the_check_decides(runner: Runner) -> None:
    runner.env["FAKE_GH_READ_ONLY"] = "1"  # a pull request from a fork
    result = runner.run("improve")
    comment = result.step("comment")
    assert comment.code == 0 and "::warning title=Prompt Workbench::could not post the pull-request comment" in comment.stdout
    assert not result.failed and result.summary.startswith("## ✅")


def test_regressions_reported_without_failing_and_the_budget_refuses(runner: Runner) -> None:
    report_only = runner.run("regress", **{"fail-on-regression": "false"})
    assert report_only.step("check").code == 0 and "⚠️" in report_only.summary
    refused = runner.run("improve", **{"max-calls": "1", "comment": "false"})
    assert refused.outputs["exit-code"] == "2" and refused.failed
    assert "more than --max-calls 1" in refused.step("check").stderr
    assert runner.server.requests == 6  # the regress run only


def test_a_check_that_did_not_finish_still_comments(runner: Runner) -> None:
    result = runner.run("improve", install="false", args="--no-such-option")
    assert result.step("check").code == 2
    (posted,) = runner.bot_comments()
    assert "the check did not finish" in str(posted["body"]) and "acme/prompts/actions/runs/4242" in str(posted["body"])
