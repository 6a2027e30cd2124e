"""Pinning what prompt files may make a run do: providers, endpoint hosts, key variables and
python assertions, from workbench.yaml and from the environment (for CI)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app
from workbench.core.config import WorkbenchConfig, parse_config
from workbench.core.model import ModelSpec
from workbench.core.trust import TrustPolicy, policy_for
from workbench.errors import ProviderError
from workbench.evals.providers import make_provider

KEY = "sk-ci-secret-value-123456"


def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def _prompt(model: str, extra_assert: str = "") -> str:
    return (
        f"model: {model}\nmessages:\n  - {{role: user, content: hello}}\n"
        f"tests:\n  - {{description: one, assert: [{{type: icontains, value: hello}}{extra_assert}]}}\n"
    )


@pytest.fixture
def repo(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp-not-for-models-0000")
    return prompt_repo


def _commit(repo: Path) -> None:
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "change")


def test_config_reads_the_allow_lists() -> None:
    config, problems = parse_config(
        "allowed_providers: [openai, 'python:checks.*']\nallowed_hosts: [api.openai.com, '*.openai.azure.com', 'localhost:8080']\n"
        "allowed_key_envs: [OPENAI_API_KEY]\nallow_python_assertions: false\n"
    )
    assert not problems
    assert config.allowed_providers == ("openai", "python:checks.*")
    assert config.allowed_hosts == ("api.openai.com", "*.openai.azure.com", "localhost:8080")
    assert config.allowed_key_envs == ("OPENAI_API_KEY",) and config.allow_python_assertions is False
    _, problems = parse_config("allowed_hosts: api.openai.com\n")
    assert problems and "expected array" in problems[0].message


@pytest.mark.parametrize(
    ("spec", "allowed"),
    [
        (ModelSpec("openai", "m", None, None), True),  # the default endpoint is api.openai.com
        (ModelSpec("openai", "m", "https://api.openai.com/v1", None), True),
        (ModelSpec("openai", "m", "https://x.openai.azure.com/openai", None), True),
        (ModelSpec("openai", "m", "http://localhost:8080/v1", None), True),
        (ModelSpec("openai", "m", "http://localhost:9999/v1", None), False),
        (ModelSpec("openai", "m", "https://attacker.example/v1", None), False),
        (ModelSpec("openai", "m", "https://api.openai.com.attacker.example/v1", None), False),
        (ModelSpec("openai", "m", "https://user:pw@attacker.example/v1", None), False),
        (ModelSpec("openai", "m", None, "GITHUB_TOKEN"), False),
        (ModelSpec("python:checks.fake:reply", None), True),
        (ModelSpec("python:os:system", None), False),
        (ModelSpec("local", None), False),
        (ModelSpec("echo", None), False),
    ],
)
def test_policy_check(spec: ModelSpec, allowed: bool) -> None:
    policy = TrustPolicy(
        providers=("openai", "python:checks.*"), hosts=("api.openai.com", "*.openai.azure.com", "localhost:8080"), key_envs=("OPENAI_API_KEY",)
    )
    assert (policy.problem(spec) is None) is allowed, policy.problem(spec)


def test_environment_pins_apply_on_top_of_the_file() -> None:
    config = WorkbenchConfig(allowed_hosts=("*",))
    policy = policy_for(config, {"WORKBENCH_ALLOWED_HOSTS": "api.openai.com", "WORKBENCH_ALLOW_PYTHON_ASSERTIONS": "0"})
    problem = policy.problem(ModelSpec("openai", "m", "https://attacker.example/v1"))
    assert problem is not None and "WORKBENCH_ALLOWED_HOSTS" in problem
    assert policy.python_assertions is False
    assert policy_for(WorkbenchConfig(), {}).problem(ModelSpec("openai", "m", "https://anything.example")) is None


def test_make_provider_refuses_before_reading_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKBENCH_ALLOWED_HOSTS", "api.openai.com")
    with pytest.raises(ProviderError) as err:
        make_provider(ModelSpec("openai", "m", "https://attacker.example/v1", "OPENAI_API_KEY"))
    assert "attacker.example" in err.value.message and "not allowed" in err.value.message
    assert err.value.hint and "WORKBENCH_ALLOWED_HOSTS" in err.value.hint


def test_a_prompt_cannot_send_the_ci_key_to_its_own_host(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as attacker:
        (repo / "prompts" / "exfil.yaml").write_text(_prompt(f"{{provider: openai, name: m, base_url: '{attacker.base_url}', api_key_env: OPENAI_API_KEY}}"))
        _commit(repo)
        monkeypatch.setenv("WORKBENCH_ALLOWED_HOSTS", "api.openai.com")
        assert run_app(["-C", str(repo), "test", "exfil"]) == 2
        err = capsys.readouterr().err
        assert "not allowed" in err and "127.0.0.1" in err and "WORKBENCH_ALLOWED_HOSTS" in err
        assert attacker.requests == 0  # the key never left


def test_workbench_yaml_pins_hosts_and_key_variables(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as server:
        (repo / "workbench.yaml").write_text("allowed_hosts: [127.0.0.1]\nallowed_key_envs: [OPENAI_API_KEY]\n")
        (repo / "prompts" / "ok.yaml").write_text(_prompt(f"{{provider: openai, name: m, base_url: '{server.base_url}'}}"))
        (repo / "prompts" / "token.yaml").write_text(_prompt(f"{{provider: openai, name: m, base_url: '{server.base_url}', api_key_env: GITHUB_TOKEN}}"))
        _commit(repo)
        assert run_app(["-C", str(repo), "test", "ok"]) == 0  # allowed: it runs
        assert server.requests == 1
        assert run_app(["-C", str(repo), "test", "token"]) == 2
        assert "GITHUB_TOKEN" in capsys.readouterr().err and server.requests == 1


def test_python_providers_can_be_refused_before_import(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "imported"
    (repo / "evil_provider.py").write_text(f"open({str(marker)!r}, 'w').write('x')\ndef reply(prompt, context):\n    return 'hello'\n")
    (repo / "prompts" / "py.yaml").write_text(_prompt("{provider: 'python:evil_provider:reply'}"))
    _commit(repo)
    monkeypatch.setenv("WORKBENCH_ALLOWED_PROVIDERS", "openai,echo")
    assert run_app(["-C", str(repo), "test", "py"]) == 2
    assert "python:evil_provider:reply" in capsys.readouterr().err and not marker.exists()


def test_python_assertions_can_be_disabled(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').write('x') or True"
    (repo / "prompts" / "pa.yaml").write_text(_prompt("{provider: echo}", f', {{type: python, value: "{code}"}}, {{type: not-python, value: "{code}"}}'))
    _commit(repo)
    monkeypatch.setenv("WORKBENCH_ALLOW_PYTHON_ASSERTIONS", "0")
    assert run_app(["-C", str(repo), "test", "pa"]) == 1
    out = capsys.readouterr().out
    assert "python assertions are disabled" in out and not marker.exists()
    monkeypatch.delenv("WORKBENCH_ALLOW_PYTHON_ASSERTIONS")
    run_app(["-C", str(repo), "test", "pa", "--no-cache"])
    assert marker.exists()  # allowed by default
