"""`workbench import promptfoo`: promptfoo's example configs convert without loss and give the
same pass/fail per case as `promptfoo eval` (both with the echo provider; promptfoo's verdicts
are in tests/fixtures/promptfoo_examples/verdicts.json, recorded by
scripts/promptfoo_conformance.py)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from workbench.cli.common import run_app
from workbench.core.formats import Source, formats
from workbench.core.formats.promptfoo_tests import assertion_from_string

EXAMPLES = Path(__file__).resolve().parent.parent / "fixtures" / "promptfoo_examples"
VERDICTS: dict[str, list[dict[str, Any]]] = json.loads((EXAMPLES / "verdicts.json").read_text(encoding="utf-8"))["examples"]
# What each example may legitimately not carry over (nothing for promptfoo's own examples but
# the extra providers; the kitchen sink has a javascript assertion on purpose).
EXPECTED_LOSSES = {
    "getting-started": ["only the first provider is carried over"],
    "simple-csv": [],
    "csv-metadata": [],
    "kitchen-sink": ["assertion type 'javascript' not carried over"],
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def run(root: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = run_app(["-C", str(root), *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("example", sorted(VERDICTS))
def test_example_imports_and_gives_promptfoos_verdicts(example: str, repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / example
    shutil.copytree(EXAMPLES / example, source)
    code, out, _ = run(repo, "import", "promptfoo", str(source / "promptfooconfig.yaml"), "--json", capsys=capsys)
    assert code == 0, out
    report = json.loads(out)
    lost = [p["message"] for p in report["not_carried_over"]]
    assert len(lost) == len(EXPECTED_LOSSES[example]) and all(any(e in m for m in lost) for e in EXPECTED_LOSSES[example]), lost
    assert [p for p in report["validation"]] == [], report["validation"]

    # Importing again changes nothing.
    code, out, _ = run(repo, "import", "promptfoo", str(source / "promptfooconfig.yaml"), "--json", capsys=capsys)
    again = json.loads(out)
    assert again["written"] == [] and sorted(again["unchanged"]) == sorted(report["written"])

    code, out, _ = run(repo, "test", "--all", "--provider", "echo", "--no-cache", "--json", capsys=capsys)
    suites = json.loads(out)["suites"]
    prompt_files = [p for p in report["written"] if not p.endswith(".tests.yaml")]
    assert len(suites) == len(prompt_files)
    by_prompt = {s["prompt"]: s["cases"] for s in suites}
    promptfoo_rows = VERDICTS[example]
    for prompt_index, path in enumerate(prompt_files):
        name = path.removeprefix("prompts/").removesuffix(".yaml")
        ours = [case["status"] for case in by_prompt[name]]
        theirs = [row["status"] for row in promptfoo_rows if row["prompt"] == prompt_index]
        assert ours == theirs, f"{name}: workbench {ours} vs promptfoo {theirs}"


def test_lost_fields_name_file_line_and_field(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "promptfooconfig.yaml"
    config.write_text(
        "prompts: ['Hi {{name}}']\n"
        "providers:\n  - id: openai:chat:gpt-4o-mini\n    config: {apiKey: sk-secret, temperature: 0}\n"
        "redteam: {purpose: x}\n"
        "tests:\n  - vars: {name: Ana}\n    options: {transform: output.trim()}\n    assert:\n      - type: javascript\n        value: output.length > 1\n      - type: factuality\n        value: x\n",
        encoding="utf-8",
    )
    code, out, err = run(repo, "import", "promptfoo", str(config), capsys=capsys)
    assert code == 0
    assert "wrote     prompts/" in out
    assert ":4:" in out and "literal API key" in out and "sk-secret" not in out + err
    assert ":5:1:" in out and "`redteam` not carried over" in out
    assert "options.transform` in JavaScript" in out
    assert "'javascript' not carried over" in out and "'factuality' not carried over" in out
    written = next((repo / "prompts").rglob("*.yaml")).read_text(encoding="utf-8")
    assert "temperature: 0" in written and "sk-secret" not in written


def test_default_config_name_and_unknown_format(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(repo, "import", "promptfoo", capsys=capsys)
    assert code == 2 and "no promptfooconfig.yaml here" in err
    code, _, err = run(repo, "import", "langchain", capsys=capsys)
    assert code == 2 and "unknown import format" in err and "promptfoo" in err
    (tmp_path / "promptfooconfig.yaml").write_text("prompts: ['x {{a}}']\ntests: [{vars: {a: 1}}]\n", encoding="utf-8")
    code, out, _ = run(repo, "import", "promptfoo", "--prefix", "team/x", capsys=capsys)
    assert code == 0 and "prompts/team/x/prompt-1.yaml" in out


def test_conversion_is_pure_and_positions_problems() -> None:
    files = {"p.json": '[{"role": "system", "content": "Be {{tone}}"}, {"role": "user", "content": "{{q}}"}]'}
    text = "prompts:\n  - file://p.json\n  - file://fn.py:make\ntests:\n  - vars: {tone: [calm, brisk], q: hi}\n"

    def read(path: str) -> str:
        return files[path]

    conversion = formats()["promptfoo"].convert(Source("cfg.yaml", text, read, "demo"))
    assert [f.path for f in conversion.files] == ["prompts/demo/p.yaml"]
    assert "calm" in conversion.files[0].text and "brisk" in conversion.files[0].text  # array vars expand
    [problem] = conversion.problems
    assert (problem.path, problem.line) == ("cfg.yaml", 3) and "function" in problem.message


def test_array_vars_that_expand_past_the_case_limit_are_an_error_at_their_line() -> None:
    """Four vars of 60 values each (a 2 KB config) expanded to 12,960,000 cases in memory: two
    minutes and 2.3 GB, then killed, with nothing said. The count is known before expanding."""
    values = "[" + ", ".join(str(i) for i in range(60)) + "]"
    text = f"prompts: ['{{{{a}}}}{{{{b}}}}{{{{c}}}}{{{{d}}}}']\ntests:\n  - description: ok\n  - vars: {{a: {values}, b: {values}, c: {values}, d: {values}}}\n  - description: after\n"
    conversion = formats()["promptfoo"].convert(Source("cfg.yaml", text, lambda path: "", "demo"))
    [problem] = [p for p in conversion.problems if "cases" in p.message]
    assert (problem.path, problem.line, problem.severity.value) == ("cfg.yaml", 4, "error")
    assert "12,960,000 cases" in problem.message and "10,000" in problem.message
    assert "after" in conversion.files[0].text  # a test after the refused one is not refused with it


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("icontains:bonjour", {"type": "icontains", "value": "bonjour"}),
        ("contains: algorithm", {"type": "contains", "value": "algorithm"}),
        ("not-contains-any:a, \"b, c\"", {"type": "not-contains-any", "value": ["a", "b, c"]}),
        ("similar(0.9):hello", {"type": "similar", "value": "hello", "threshold": 0.9}),
        ("levenshtein:abc", {"type": "levenshtein", "value": "abc", "threshold": 0.75}),
        ("grade:is polite", {"type": "llm-rubric", "value": "is polite"}),
        ("javascript: output.length > 2", {"type": "javascript", "value": "output.length > 2"}),
        ("file://check.py:fn", {"type": "python", "value": "check.py:fn"}),
        ("is-json", {"type": "is-json"}),
        ("plain text", {"type": "equals", "value": "plain text"}),
    ],
)
def test_csv_expected_cells(cell: str, expected: dict[str, Any]) -> None:
    assert assertion_from_string(cell) == expected


def test_provider_tools_and_response_format_become_top_level_fields(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
    config = {
        "prompts": ["Weather in {{city}}?"],
        "providers": [{"id": "openai:gpt-4o-mini", "config": {"temperature": 0, "tools": tools, "tool_choice": "required", "response_format": {"type": "json_object"}}}],
        "tests": [{"vars": {"city": "Paris"}, "assert": [{"type": "is-valid-openai-tools-call"}]}],
    }
    (tmp_path / "promptfooconfig.yaml").write_text(json.dumps(config))
    code, out, _ = run(repo, "import", "promptfoo", str(tmp_path / "promptfooconfig.yaml"), "--json", capsys=capsys)
    report = json.loads(out)
    assert code == 0 and report["validation"] == []
    import yaml

    written = yaml.safe_load((repo / report["written"][0]).read_text())
    assert written["tools"] == tools and written["tool_choice"] == "required" and written["response_format"] == {"type": "json_object"}
    assert written["model"]["parameters"] == {"temperature": 0}


def test_references_are_read_only_from_the_configs_folder_or_the_repository(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prompts: [file:///etc/passwd]` copied the file into prompts/ (then a commit away from a
    remote), and `file:///dev/zero` read until memory ran out. promptfoo reads any path its
    config names; an imported config is someone else's file, so the workbench reads references
    only inside the config's folder or the repository, and only regular files of at most 16 MiB."""
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42 {{x}}\n")
    config_dir = tmp_path / "z"
    config_dir.mkdir()
    (config_dir / "ok.txt").write_text("Hello {{x}}\n")
    (repo / "shared.txt").write_text("Shared {{x}}\n")
    big = config_dir / "big.txt"
    big.write_bytes(b"a" * (16 * 1024 * 1024 + 1))
    os.mkfifo(config_dir / "fifo.txt")  # a read would wait for a writer for ever
    refs = [f"file://{secret}", "file://../secret.txt", "file:///dev/zero", "file://fifo.txt", "file://big.txt", "file://ok.txt", f"file://{repo / 'shared.txt'}"]
    config = config_dir / "promptfooconfig.yaml"
    config.write_text("prompts:\n" + "".join(f"  - '{ref}'\n" for ref in refs) + "providers: [echo]\ntests:\n  - vars: {x: 1}\n", encoding="utf-8")
    _, out, err = run(repo, "import", "promptfoo", str(config), capsys=capsys)
    written = "".join(p.read_text(encoding="utf-8") for p in (repo / "prompts").rglob("*.yaml"))
    assert "TOP-SECRET-42" not in written + out + err
    assert "Hello" in written and "Shared" in written, (out, err)
    assert out.count("outside the config's folder and the repository") == 3, out
    assert "not a regular file" in out and "too large" in out, out


def test_a_config_that_is_a_device_is_refused_not_read_for_ever(repo: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "workbench", "-C", str(repo), "import", "promptfoo", "/dev/zero"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "not a regular file" in done.stderr, done.stderr


def test_var_files_past_what_a_prompt_file_holds_are_an_error_and_not_read_on() -> None:
    """Every `file://` item of an array var was read whole (16 MiB each) and inlined: a config
    naming a 4 MiB file 20 times took 99 s and 600 MB and wrote a 167 MB prompt, with nothing
    said. What the vars' files hold is counted: past the 1 MiB a prompt file holds, the import
    says so at the var, keeps the `file://` text, and reads no further file."""
    reads: list[str] = []

    def read(path: str) -> str:
        reads.append(path)
        return "x" * (600 * 1024)

    items = ", ".join(f"file://big{i}.txt" for i in range(20))
    text = f"prompts: ['{{{{ctx}}}}']\ntests:\n  - vars: {{ctx: [{items}]}}\n"
    conversion = formats()["promptfoo"].convert(Source("cfg.yaml", text, read, "demo"))
    [problem] = [p for p in conversion.problems if "1 MiB" in p.message]
    assert (problem.path, problem.line, problem.severity.value) == ("cfg.yaml", 3, "error")
    assert "big1.txt" in problem.message
    assert reads == ["big0.txt", "big1.txt"]  # the second passes the limit: none read after it
    assert sum(len(f.text) for f in conversion.files) < 2 * 1024 * 1024


def test_var_values_are_the_ones_promptfoo_renders() -> None:
    """promptfoo's renderPrompt trims a `file://` text var and reads a `.yaml` one as its JSON text
    (defaultTest's and array items too), and JavaScript has one number type (`2.0` prints `2`);
    a var mixing types prints as Nunjucks prints it (`true`, nothing for null). The import kept
    the file's last newline, left `.yaml` and array items as `file://` text, kept `2.0`, and
    wrote `True` / `None`; a `.py` var (a script promptfoo runs) became its source code. Checked
    against promptfoo 0.121.20 `eval -r echo`: `flag=true n=2 c=hello d={"a":[1,2]} g=x`."""
    import yaml

    files = {"ctx.txt": "hello\n\n", "data.yaml": "a: [1, 2.0]\n", "gen.py": "def get_var(*a):\n    return {'output': 'x'}\n"}
    text = (
        'prompts: ["flag={{ flag }} n={{ n }} c={{ ctx }} d={{ d }} g={{ g }}"]\n'
        "defaultTest: {vars: {n: 2.0, d: file://data.yaml}}\n"
        "tests:\n"
        "  - {description: one, vars: {flag: true, ctx: file://ctx.txt, g: x}}\n"
        "  - {description: two, vars: {flag: null, ctx: [file://ctx.txt, plain], g: file://gen.py}}\n"
    )
    conversion = formats()["promptfoo"].convert(Source("cfg.yaml", text, files.__getitem__, "demo"))
    document = yaml.safe_load(conversion.files[0].text)
    assert document["defaultTest"]["vars"] == {"n": 2, "d": '{"a":[1,2]}'}
    assert [t["vars"] for t in document["tests"]] == [
        {"flag": "true", "ctx": "hello", "g": "x"},
        {"flag": "", "ctx": "hello", "g": "file://gen.py"},
        {"flag": "", "ctx": "plain", "g": "file://gen.py"},
    ]
    [lost] = [p for p in conversion.problems if "gen.py" in p.message]
    assert lost.line == 5 and "script promptfoo runs" in lost.message


def test_one_long_value_among_many_short_ones_is_counted_once() -> None:
    """Each array was counted at its longest value for every case: one 900,000-character value
    among 999 short ones read as 900 MB and refused, where the cases hold ~0.9 MB."""
    from workbench.core.formats.promptfoo_tests import cases_chars

    values = ["x" * 900_000, *[str(i) for i in range(999)]]
    assert 900_000 < cases_chars({"v": values, "w": "fixed"}) < 1_048_576
    assert cases_chars({"a": [1, 2], "b": ["x", "yy", "zzz"], "c": "k"}) == sum(
        len(json.dumps({"c": "k"})) + len(json.dumps(a)) + len(json.dumps(b)) for a in [1, 2] for b in ["x", "yy", "zzz"]
    )
