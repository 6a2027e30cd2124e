"""Hostile input to `workbench import`: names that try to leave prompts/, YAML bombs, malformed
front matter, non-UTF-8 and oversized files. Each gets a clear message naming the file; nothing
is written outside prompts/ and nothing crashes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from format_helpers import cli, import_into, new_repo

BOMB = "".join(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9 if i else ['"x"'] * 9) + "]\n" for i in range(8))
SOURCES = {
    "prompty": ("x.prompty", "---\n{front}---\nuser:\nhi\n"),
    "dotprompt": ("x.prompt", "---\n{front}---\nhi\n"),
    "github-models": ("x.prompt.yml", "{front}messages: [{{role: user, content: hi}}]\n"),
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def files_outside_prompts(root: Path) -> list[str]:
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and ".git" not in p.parts and p.parts[len(root.parts)] != "prompts" and p.name != ".gitignore")


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_yaml_bomb_is_refused_by_the_safe_loader(fmt: str, repo: Path, tmp_path: Path) -> None:
    name, shape = SOURCES[fmt]
    source = tmp_path / name
    source.write_text(shape.format(front=BOMB), encoding="utf-8")
    report = import_into(repo, fmt, source)
    assert report.written == []
    assert any("aliases" in p.message and p.path.endswith(name) for p in report.errors), [p.format() for p in report.problems]


@pytest.mark.parametrize("fmt", sorted(SOURCES))
def test_malformed_front_matter_names_file_and_line(fmt: str, repo: Path, tmp_path: Path) -> None:
    name, shape = SOURCES[fmt]
    source = tmp_path / name
    source.write_text(shape.format(front="model: [unclosed\n"), encoding="utf-8")
    code, out, err = cli(repo, "import", fmt, str(source))
    assert code == 1 and f"{name}:" in out and "invalid YAML" in out, out + err
    assert list((repo / "prompts").rglob("*.yaml")) == []


@pytest.mark.parametrize("fmt", [*sorted(SOURCES), "langfuse"])
def test_non_utf8_file_is_a_clear_error(fmt: str, repo: Path, tmp_path: Path) -> None:
    source = tmp_path / ("x.json" if fmt == "langfuse" else SOURCES[fmt][0])
    source.write_bytes(b"---\nmodel: gpt-4\n---\nuser:\nh\xe9llo\n")
    code, out, err = cli(repo, "import", fmt, str(source))
    assert code == 2 and "not UTF-8" in err and "x." in err and "unexpected" not in err, out + err


def test_oversized_file_is_refused_before_reading(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "big.prompty"
    source.write_text("---\nmodel: gpt-4\n---\nuser:\n" + "x" * (17 * 1024 * 1024), encoding="utf-8")
    code, out, err = cli(repo, "import", "prompty", str(source))
    assert code == 2 and "big.prompty" in err and "too large" in err, out + err


def test_deeply_nested_json_is_a_problem_not_a_crash(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "deep.json"
    source.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    code, out, err = cli(repo, "import", "langfuse", str(source))
    assert code == 1 and "deep.json:1:1" in out and "unexpected" not in err, out + err


def test_hostile_names_stay_inside_prompts(repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "evil.json"
    names = ["../x", "a/../../b", "..", "/etc/passwd", "-rf", ".hidden/y", "c\\..\\..\\d"]
    source.write_text(json.dumps([{"name": n, "version": 1, "type": "text", "prompt": "hi", "labels": ["production"]} for n in names]), encoding="utf-8")
    code, out, err = cli(repo, "import", "langfuse", str(source), "--prefix", "", "--json")
    assert code == 0, out + err
    written = sorted(json.loads(out)["written"])
    assert len(written) == len(names)
    assert all(".." not in n.split("/") and not n.startswith(("/", "-", ".")) and "\\" not in n for n in written), written
    assert files_outside_prompts(repo) == []
    # Each name is one a prompt may have: `workbench validate` accepts them all.
    code, out, err = cli(repo, "validate")
    assert code == 0, out + err


@pytest.mark.parametrize("prefix", ["../escape", "a/../../..", "/abs"])
def test_a_prefix_that_leaves_prompts_is_refused(prefix: str, repo: Path, tmp_path: Path) -> None:
    source = tmp_path / "ok.prompty"
    source.write_text("---\nmodel: gpt-4\n---\nuser:\nhi\n", encoding="utf-8")
    code, out, err = cli(repo, "import", "prompty", str(source), "--prefix", prefix)
    assert code == 2 and "prefix" in err, out + err
    assert files_outside_prompts(repo) == [] and list((repo / "prompts").rglob("*.yaml")) == []


def test_hostile_file_names_become_safe_prompt_names(repo: Path, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "-rf.prompty").write_text("---\nmodel: gpt-4\n---\nuser:\nhi\n", encoding="utf-8")
    (folder / "we@ird name.prompty").write_text("---\nmodel: gpt-4\n---\nuser:\nhi\n", encoding="utf-8")
    report = import_into(repo, "prompty", folder)
    assert report.errors == [] and len(report.written) == 2
    assert all(not Path(p).name.startswith("-") and "@" not in p for p in report.written), report.written


def _dotprompt(folder: Path, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "summarize.prompt"
    source.write_text(f"---\nmodel: openai/gpt-4o\n---\n{text}\n", encoding="utf-8")
    return source


def test_an_import_never_overwrites_uncommitted_changes_without_force(repo: Path, tmp_path: Path) -> None:
    """It replaced a prompt file and the user's unsaved work in it without a word."""
    import subprocess

    first = _dotprompt(tmp_path / "one", "hello")
    assert cli(repo, "import", "dotprompt", "--prefix", "support", str(first))[0] == 0
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "imported"], cwd=repo, check=True)
    target = repo / "prompts" / "support" / "summarize.yaml"
    target.write_text(target.read_text() + "# my work\n")
    second = _dotprompt(tmp_path / "two", "bonjour")
    code, _, err = cli(repo, "import", "dotprompt", "--prefix", "support", str(second))
    assert code == 2 and "uncommitted changes in prompts/support/summarize.yaml" in err and "--force" in err
    assert target.read_text().endswith("# my work\n")
    assert cli(repo, "import", "dotprompt", "--prefix", "support", "--force", str(second))[0] == 0
    assert "bonjour" in target.read_text()
    # A committed file is replaced, as a checkout would: Git has it.
    subprocess.run(["git", "commit", "-qam", "bonjour"], cwd=repo, check=True)
    assert cli(repo, "import", "dotprompt", "--prefix", "support", str(first))[0] == 0
    assert "hello" in target.read_text()


def test_an_import_into_a_repository_git_refuses_says_so(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Before, Git's refusal read as "no Git here": every file counted as unsaved work."""
    import subprocess

    first = _dotprompt(tmp_path / "one", "hello")
    assert cli(repo, "import", "dotprompt", "--prefix", "support", str(first))[0] == 0
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run(["git", "commit", "-qm", "imported"], cwd=repo, check=True)
    monkeypatch.setenv("GIT_TEST_ASSUME_DIFFERENT_OWNER", "1")  # Git's own ownership check
    code, _, err = cli(repo, "import", "dotprompt", "--prefix", "support", str(_dotprompt(tmp_path / "two", "bonjour")))
    assert code == 2 and "detected dubious ownership" in err and "uncommitted" not in err, err
    assert "hello" in (repo / "prompts" / "support" / "summarize.yaml").read_text()
    # Outside any repository, nothing can be had back from Git: an existing file is refused.
    monkeypatch.delenv("GIT_TEST_ASSUME_DIFFERENT_OWNER")
    plain = tmp_path / "plain"
    (plain / "prompts" / "support").mkdir(parents=True)
    (plain / "prompts" / "support" / "summarize.yaml").write_text("messages: [{role: user, content: mine}]\n")
    code, _, err = cli(plain, "import", "dotprompt", "--prefix", "support", str(first))
    assert code == 2 and "uncommitted changes in prompts/support/summarize.yaml" in err, err


def test_two_sources_that_become_one_prompt_file_are_refused(repo: Path, tmp_path: Path) -> None:
    """The second silently replaced the first, and both were reported as written."""
    one, two = _dotprompt(tmp_path / "a" / "sub", "one"), _dotprompt(tmp_path / "b" / "sub", "two")
    code, _, err = cli(repo, "import", "dotprompt", "--prefix", "same", str(one), str(two))
    assert code == 2 and "would both become prompts/same/summarize.yaml" in err
    assert not (repo / "prompts" / "same").exists()  # nothing written


def test_two_langfuse_prompts_that_make_one_name_stay_two_prompts() -> None:
    """`Foo Bar` and `foo-bar` both became `lf/foo-bar`: one history of two unrelated prompts,
    `foo-bar` version 1 released as v2, and prod running the other one's text."""
    from workbench.core.formats import langfuse
    from workbench.core.formats.base import Source

    text = json.dumps([
        {"name": "Foo Bar", "version": 1, "type": "text", "prompt": "FOO BAR {{x}}", "labels": ["production"]},
        {"name": "foo-bar", "version": 1, "type": "text", "prompt": "foo-bar {{y}}", "labels": ["latest"]},
    ])
    conversion = langfuse.convert(Source("lf.json", text, lambda _path: None, "lf"))
    assert sorted((v.prompt, v.number) for v in conversion.versions) == [("lf/foo-bar", 1), ("lf/foo-bar-2", 1)]
    assert any("'foo-bar' becomes foo-bar-2" in p.message for p in conversion.problems)


def test_promptfoo_labels_made_distinct_never_take_a_label_in_use() -> None:
    """Labels `greet`, `greet`, `greet-2`: the second became `greet-2`, the third's name, and the
    import refused the one config as "two sources" that "would both become greet-2"."""
    from workbench.core.formats import promptfoo
    from workbench.core.formats.base import Source

    config = "prompts:\n" + "".join(f"  - label: {label}\n    raw: 'Hello {n} {{{{name}}}}'\n" for n, label in enumerate(["greet", "greet", "greet-2"]))
    config += "providers: [echo]\ntests:\n  - vars: {name: bob}\n"
    conversion = promptfoo.convert(Source("promptfooconfig.yaml", config, lambda _path: None, "src"))
    assert sorted(f.path for f in conversion.files if f.path.endswith(".yaml") and "tests" not in f.path) == [
        "prompts/src/greet-2.yaml", "prompts/src/greet-3.yaml", "prompts/src/greet.yaml"
    ]


def test_a_link_in_an_imported_folder_that_leaves_it_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`dp/leak.prompt -> ../secret/id.prompt` was read, then the import said "unexpected error:
    ValueError: ... is not in the subpath of ...": nothing imported, no file named."""
    from workbench.cli.common import run_app

    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "id.prompt").write_text("TOP SECRET\n")
    source = tmp_path / "dp"
    source.mkdir()
    (source / "hello.prompt").write_text("---\nmodel: googleai/gemini-1.5-flash\n---\nHello {{name}}\n")
    (source / "leak.prompt").symlink_to("../secret/id.prompt")
    repo = tmp_path / "repo"
    assert run_app(["init", str(repo)]) == 0
    capsys.readouterr()
    assert run_app(["-C", str(repo), "import", "dotprompt", str(source)]) == 2
    err = capsys.readouterr().err
    assert "unexpected" not in err and "leak.prompt is a link to" in err and "outside" in err
    assert not (repo / "prompts" / "dp").exists()


def test_vars_that_repeat_a_long_value_in_every_expanded_case_are_refused_before_expanding(repo: Path, tmp_path: Path) -> None:
    """A 200 KB promptfoo config (one 200,000-character var beside two 50-value arrays) took 5 min
    20 s and 1 GB to write a 500 MB prompt file that the workbench then refused to read (1 MiB):
    2,500 cases each repeating the long value. That test is refused at its vars' line before
    expanding (as one past the case limit is); the rest is written."""
    numbers = ", ".join(str(i) for i in range(6))
    source = tmp_path / "promptfooconfig.yaml"
    long_value = "x" * 200_000
    source.write_text(
        f'prompts: ["{{{{a}}}} {{{{b}}}} {{{{long}}}}"]\ntests:\n  - vars:\n      long: "{long_value}"\n      a: [{numbers}]\n      b: [{numbers}]\n',
        encoding="utf-8",
    )
    report = import_into(repo, "promptfoo", source)
    assert [len(p.read_text()) < 1000 for p in (repo / "prompts").rglob("*.yaml")] == [True]
    errors = [p for p in report.errors if "36 cases" in p.message and "1,048,576" in p.message]
    assert errors and errors[0].line == 3, [p.format() for p in report.problems]


def test_a_converted_file_over_what_a_prompt_file_holds_is_not_written(repo: Path, tmp_path: Path) -> None:
    """A 3 MB Prompty file (under the 4 MiB a source may be) became a prompt file that every
    command then refused to read (over 1 MiB): nothing is written, the error names the file."""
    source = tmp_path / "long.prompty"
    source.write_text("---\nmodel: gpt-4\n---\nuser:\n" + "word " * 600_000, encoding="utf-8")
    report = import_into(repo, "prompty", source)
    assert report.written == [] and list((repo / "prompts").rglob("*.yaml")) == []
    assert any("long" in p.path and "1,048,576" in p.message for p in report.errors), [p.format() for p in report.problems]


def test_a_source_whose_partial_is_too_long_writes_none_of_its_files(repo: Path, tmp_path: Path) -> None:
    """Only the too-long file was dropped: the prompt that includes that Dotprompt partial was
    written and then failed to load. A conversion is written whole or not at all."""
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "a.prompt").write_text("---\nmodel: googleai/gemini-2.0-flash\n---\nHello {{> big}}\n", encoding="utf-8")
    (folder / "_big.prompt").write_text("word " * 250_000, encoding="utf-8")
    report = import_into(repo, "dotprompt", folder / "a.prompt")
    assert report.written == [] and [p for p in (repo / "prompts").rglob("*") if p.is_file()] == []
    assert any("1,048,576" in p.message for p in report.errors), [p.format() for p in report.problems]
