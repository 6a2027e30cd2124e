"""A known API key and a URL password go through every path that writes or prints; none of
them may hold either afterwards: reports, the results store, the response cache, the git
note (and every Git object), stdout and stderr."""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app

KEY = "sk-live-Secret0123456789ABCDEFghij"
PASSWORD = "hunter2-Url-Pass-42"
PROMPT = """\
model: {provider: openai, name: gpt-4o-mini, api_key_env: CI_SECRET_KEY}
inputs:
  q: {type: string, required: true}
messages:
  - {role: user, content: "{{ q }}"}
tests:
  - {description: alpha, vars: {q: alpha}, assert: [{type: icontains, value: alpha}]}
  - {description: beta, vars: {q: beta}, assert: [{type: icontains, value: beta}]}
  - {description: gamma, vars: {q: gamma}, assert: [{type: icontains, value: gamma}]}
"""
FORBIDDEN = {
    "the key": KEY,
    "the URL password": PASSWORD,
    "the URL credentials in Basic auth": base64.b64encode(f"user:{PASSWORD}".encode()).decode(),
}


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CI_SECRET_KEY", KEY)
    (prompt_repo / "prompts" / "q.yaml").write_text(PROMPT)
    (prompt_repo / "workbench.yaml").write_text("max_attempts: 1\n")  # no retries: each scripted answer is used once
    git(prompt_repo, "add", "-A")
    git(prompt_repo, "commit", "-qm", "Add q")
    return prompt_repo


def _written(repo: Path, out: Path) -> dict[str, str]:
    """Every file written and every Git object, as text."""
    texts = {str(p): p.read_bytes().decode("latin-1") for p in out.rglob("*") if p.is_file()}
    texts |= {str(p): p.read_bytes().decode("latin-1") for p in (repo / ".workbench").rglob("*") if p.is_file()}
    texts["git note"] = git(repo, "notes", "--ref=workbench", "show", "HEAD")
    texts["git objects"] = subprocess.run(
        ["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo, check=True, capture_output=True
    ).stdout.decode("latin-1")
    return texts


def _assert_clean(texts: dict[str, str]) -> None:
    for where, text in texts.items():
        for what, secret in FORBIDDEN.items():
            assert secret not in text, f"{what} leaked into {where}"
            # Nor a part of it (a message cut to length after the secret started).
            for start in range(0, len(secret) - 10):
                assert secret[start : start + 10] not in text, f"part of {what} leaked into {where}"


@pytest.mark.parametrize("credentials", [False, True], ids=["key", "url-password"])
def test_no_secret_is_written_or_printed(repo: Path, tmp_path: Path, credentials: bool, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with FakeOpenAI(script=["echo-headers-401", "echo-headers-500", "echo-headers"]) as server:
        url = server.base_url.replace("http://", f"http://user:{PASSWORD}@") if credentials else server.base_url
        reports = ["--json-file", str(out / "r.json"), "--junit", str(out / "j.xml"), "--markdown", str(out / "r.md")]
        code = run_app(["-C", str(repo), "test", "q", "--rev", "HEAD", "--base-url", url, "--no-cache", "--show-outputs", *reports])
        assert code == 1  # two cases errored
        assert server.requests == 3
        printed = capsys.readouterr()
        assert "Incorrect API key" in printed.out and "headers:" in printed.out  # the bodies are shown, minus the secrets
        run_app(["-C", str(repo), "test", "q", "--rev", "HEAD", "--base-url", url, "--json"])  # from the cache
        json_printed = capsys.readouterr()
        run_app(["-C", str(repo), "report", "merge", str(out / "r.json"), "--markdown", str(out / "merged.md"), "--junit", str(out / "merged.xml")])
    texts = _written(repo, out)
    texts |= {"stdout": printed.out, "stderr": printed.err, "--json stdout": json_printed.out, "--json stderr": json_printed.err}
    texts |= {"stdout (merge)": capsys.readouterr().out}
    assert "***" in texts[str(out / "r.json")]  # redacted, not dropped
    if credentials:
        assert "http://***@127.0.0.1" in texts["git note"]
    _assert_clean(texts)


def test_an_unreachable_url_with_credentials_is_not_echoed(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://user:{PASSWORD}@127.0.0.1:9/v1"  # the discard port: connection refused
    code = run_app(["-C", str(repo), "test", "q", "--base-url", url, "--no-cache", "--json-file", str(tmp_path / "r.json")])
    assert code == 1
    printed = capsys.readouterr()
    texts = {"stdout": printed.out, "stderr": printed.err, "report": (tmp_path / "r.json").read_text()}
    texts |= {str(p): p.read_bytes().decode("latin-1") for p in (repo / ".workbench").rglob("*") if p.is_file()}
    _assert_clean(texts)
