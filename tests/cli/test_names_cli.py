"""Names and references through the CLI: option-like names are invalid, nothing outside prompts/ is read."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from workbench.cli.common import run_app

PROMPT = "messages:\n  - {role: user, content: hi}\n"
SECRET = "TOP-SECRET-CONTENT-42"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "prompts").mkdir(parents=True)
    (root / "prompts" / "ok.yaml").write_text(PROMPT)
    (tmp_path / "outside.yaml").write_text(f"messages:\n  - {{role: user, content: {SECRET}}}\n")
    return root


@pytest.mark.parametrize("filename", ["-x.yaml", "--file=x.yaml", "sub/-y.yml"])
def test_option_like_file_names_are_positioned_validate_errors(repo: Path, filename: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = repo / "prompts" / filename
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(PROMPT)
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert f"prompts/{filename}:1:1: error: invalid prompt name" in out
    assert "option" in out


def test_list_marks_option_like_names_invalid(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "prompts" / "-x.yaml").write_text(PROMPT)
    assert run_app(["-C", str(repo), "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["-x"]["valid"] is False and rows["ok"]["valid"] is True


@pytest.mark.parametrize("name", ["../outside", "../../outside", "prompts/../../outside", "-x", "x\x1b[2J"])
def test_render_refuses_names_outside_prompts(repo: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "prompts" / "-x.yaml").write_text(PROMPT)
    assert run_app(["-C", str(repo), "render", "--", name]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "invalid prompt name" in captured.err
    assert "\x1b" not in captured.err


def test_render_refuses_absolute_paths(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    absolute = str(tmp_path / "outside")
    assert run_app(["-C", str(repo), "render", absolute]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "absolute" in captured.err


@pytest.mark.parametrize("command", ["test", "compare"])
def test_eval_commands_refuse_names_outside_prompts(repo: Path, command: str, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)
    assert run_app(["-C", str(repo), command, "../../outside"]) == 2
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    assert "invalid prompt name" in captured.err


@pytest.mark.parametrize(
    ("ref", "why"),
    [("file://../cases.yaml", "outside prompts/"), ("file:///etc/passwd.yaml", "relative"), ("file://../../outside.yaml", "outside the repository")],
)
def test_tests_references_cannot_leave_prompts(repo: Path, ref: str, why: str, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "cases.yaml").write_text(f"- description: {SECRET}\n  vars: {{}}\n  assert: [{{type: equalz}}]\n")
    (repo / "prompts" / "p.yaml").write_text(PROMPT + f"tests: {ref}\n")
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "prompts/p.yaml:3:8: error: " in out and why in out
    assert SECRET not in out and "equalz" not in out


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_tests_references_cannot_escape_through_a_symlink(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outside = repo / "cases.yaml"  # in the repository, but not under prompts/
    outside.write_text(f"- description: {SECRET}\n  vars: {{}}\n  assert: [{{type: equalz}}]\n")
    (repo / "prompts" / "link.tests.yaml").symlink_to(outside)
    (repo / "prompts" / "p.yaml").write_text(PROMPT + "tests: file://link.tests.yaml\n")
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "prompts/p.yaml:3:8: error: " in out and "outside prompts/" in out
    assert SECRET not in out and "equalz" not in out


def test_validate_shows_control_characters_in_file_names_as_visible_symbols(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "prompts" / "x\x1b[2Jy.yaml").write_text(PROMPT)
    (repo / "prompts" / "[reverse]z.yaml").write_text(PROMPT)
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert "prompts/x␛[2Jy.yaml:1:1: error: invalid prompt name" in out
    assert "[reverse]z" not in out  # a valid name: no problem to report


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symlinks")
def test_a_prompt_file_that_links_outside_prompts_is_never_read(repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A link named like a prompt (prompts/evil.yaml -> a file outside): `test`, `render`,
    `diff` and `list` read it as if it were one, and `validate` said all was well."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "prompts" / "evil.yaml").symlink_to(tmp_path / "outside.yaml")
    for args in (["validate"], ["list"], ["render", "evil"], ["test", "evil", "--provider", "echo", "--show-outputs"], ["diff", "evil"]):
        code = run_app(["-C", str(repo), *args])
        captured = capsys.readouterr()
        assert SECRET not in captured.out + captured.err, args
        assert str(tmp_path) not in captured.out, args  # named where it is, not where it points
        if args[0] in ("validate", "render", "test"):
            assert code != 0 and "outside prompts/" in captured.out + captured.err, args


def test_validate_reads_paths_as_git_c_does_and_reports_any_workbench_yaml_it_is_given(
    repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The pre-commit hook runs `validate workbench.yaml`: a non-UTF-8 file crashed it
    ("unexpected error"), a missing one passed, and -C was ignored for the paths."""
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(tmp_path)
    assert run_app(["-C", str(repo), "validate", "prompts/ok.yaml"]) == 0
    assert "1 prompt files: 0 errors" in capsys.readouterr().err
    (repo / "workbench.yaml").write_bytes(b"environments: [dev]\n# caf\xe9\n")
    assert run_app(["-C", str(repo), "validate", "workbench.yaml"]) == 1
    assert "workbench.yaml: error: " in capsys.readouterr().out
    assert run_app(["-C", str(repo), "validate", "nowhere/workbench.yaml"]) == 1
    assert "cannot read" in capsys.readouterr().out


@pytest.mark.parametrize("pattern", ["*", ":(glob)**", "prompts/o?.yaml", "[.]env"])
def test_commit_takes_paths_literally_never_as_git_patterns(prompt_repo: Path, pattern: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`workbench commit -m m '*'` committed every changed file, an untracked `.env` too: git
    read the name as a pattern (and `is_tracked('*')` said such a file exists)."""
    (prompt_repo / ".env").write_text("AWS_SECRET_ACCESS_KEY=x\n")
    summarize = prompt_repo / "prompts" / "support" / "summarize.yaml"
    summarize.write_text(summarize.read_text() + "# edit\n")
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=prompt_repo, capture_output=True, text=True, check=True).stdout
    assert run_app(["-C", str(prompt_repo), "commit", "-m", "edit", pattern]) == 2
    err = capsys.readouterr().err
    assert "no prompt or file named" in err or "Git reads it as a wildcard" in err, err
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=prompt_repo, capture_output=True, text=True, check=True).stdout
    staged = subprocess.run(["git", "diff", "--cached", "--name-only"], cwd=prompt_repo, capture_output=True, text=True, check=True).stdout
    assert after == head and staged == ""


def test_a_backslash_in_a_file_name_is_an_invalid_name_everywhere(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prompts/q"uo\\te.yaml` was listed and validated as the prompt `q"uo/te` (the backslash
    read as a folder separator), which no command could then address ("no prompt named
    'q\\"uo/te'", did you mean the same), while status called it `q"uo\\te`. A name is its path
    under prompts/ as it is, and names.py refuses a backslash: list and validate flag it."""
    (repo / "prompts" / 'q"uo\\te.yaml').write_text(PROMPT)
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "prompts/q\"uo\\te.yaml:1:1: error: invalid prompt name 'q\"uo\\te': the prompt name contains '\\'" in out
    assert run_app(["-C", str(repo), "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows['q"uo\\te']["valid"] is False and 'q"uo/te' not in rows


def _commit_all(root: Path) -> None:
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["-c", "user.name=A", "-c", "user.email=a@x", "commit", "-q", "-m", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


def test_a_file_name_that_is_not_utf8_is_an_invalid_name_everywhere(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prompts/bad\\xff.yaml` was listed and validated as the valid prompt 'bad\\udcff' (the
    byte read with surrogateescape); `test` then crashed ("unexpected error: UnicodeEncodeError")
    and `log`/`tag` said "does not exist". A name must be UTF-8 text: list and validate flag it,
    every command refuses it with the reason, and the name git gives is the one the disk gives."""
    (repo / "prompts" / "bad\udcff.yaml").write_text(PROMPT)
    _commit_all(repo)
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "prompts/bad\ufffd.yaml:1:1: error: invalid prompt name 'bad\ufffd': the prompt name is not valid UTF-8 text (the byte 0xFF" in out
    assert run_app(["-C", str(repo), "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["bad\ufffd"]["valid"] is False and rows["ok"]["valid"] is True  # JSON holds text, never a lone surrogate
    for args in (["test", "bad\udcff", "--provider", "echo"], ["render", "bad\udcff"], ["log", "bad\udcff"], ["tag", "bad\udcff"], ["diff", "bad\udcff"]):
        assert run_app(["-C", str(repo), *args]) == 2, args
        err = capsys.readouterr().err
        assert "invalid prompt name" in err and "not valid UTF-8" in err and "unexpected" not in err, (args, err)
    # The name git gives (ls-tree, status: `-z` output) is the name the disk gives (os.walk).
    from workbench.core.versions import WorkingState
    from workbench.services import prompt_files
    from workbench.services.session import RepoSession

    with RepoSession.open(repo) as session:  # the app's tree: committed and unchanged, still invalid
        assert prompt_files.working_states(session) == {"bad\udcff": WorkingState.INVALID, "ok": WorkingState.CLEAN}
    (repo / "prompts" / "bad\udcff.yaml").write_text(PROMPT + "# edited\n")
    with RepoSession.open(repo) as session:
        assert [ref.name for ref in prompt_files.list_prompts(session, "HEAD")] == ["bad\udcff", "ok"]
        assert [ref.name for ref in prompt_files.list_prompts(session, None)] == ["bad\udcff", "ok"]
        assert prompt_files.working_states(session) == {"bad\udcff": WorkingState.INVALID, "ok": WorkingState.CLEAN}


def test_a_name_typed_in_another_unicode_normalisation_finds_the_prompt(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`prompts/uni/eéccc.yaml` written by macOS (e + U+0301), typed with U+00E9: render and log
    said "no prompt named 'uni/eéccc'" / "did you mean 'uni/eéccc'?". A typed name NFC-equal to
    exactly one prompt is that prompt; its release tag keeps the file's own spelling."""
    decomposed, typed = "uni/ee\u0301ccc", "uni/e\u00e9ccc"
    (repo / "prompts" / "uni").mkdir()
    (repo / "prompts" / f"{decomposed}.yaml").write_text(PROMPT)
    _commit_all(repo)
    for args in (["render", typed], ["log", typed], ["test", typed, "--provider", "echo"], ["tag", typed]):
        assert run_app(["-C", str(repo), *args]) == 0, (args, capsys.readouterr().err)
    capsys.readouterr()
    tags = subprocess.run(["git", "tag", "--list"], cwd=repo, capture_output=True, check=True).stdout.decode()
    assert tags.split() == [f"{decomposed}@v1"]  # the file's bytes, as `tag` with the file's name makes
    # A second file that is the same name once normalised: validate flags both spellings as one name.
    (repo / "prompts" / f"{typed}.yaml").write_text(PROMPT)
    assert run_app(["-C", str(repo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "differ only in Unicode normalisation" in out and "e\\u0301" in out, out


def test_an_ambiguous_normalised_name_is_not_chosen_and_the_hint_shows_the_difference(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "prompts" / "A\u030a.yaml").write_text(PROMPT)  # A + combining ring
    (repo / "prompts" / "\u212b.yaml").write_text(PROMPT)  # ANGSTROM SIGN: NFC is U+00C5 too
    assert run_app(["-C", str(repo), "render", "\u00c5"]) == 2
    err = capsys.readouterr().err
    assert "no prompt named" in err and "A\\u030a" in err, err


def test_commit_finds_a_name_typed_in_another_unicode_normalisation(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`workbench commit uni/eéccc` (U+00E9) said "no prompt or file named" for the macOS file
    `prompts/uni/ee\\u0301ccc.yaml`, which `render` of the same name found."""
    decomposed, typed = "uni/ee\u0301ccc", "uni/e\u00e9ccc"
    _commit_all(repo)
    (repo / "prompts" / "uni").mkdir()
    (repo / "prompts" / f"{decomposed}.yaml").write_text(PROMPT)
    for key, value in (("user.name", "A"), ("user.email", "a@x")):
        subprocess.run(["git", "config", key, value], cwd=repo, check=True)
    assert run_app(["-C", str(repo), "commit", typed, "-m", "macOS file"]) == 0, capsys.readouterr().err
    committed = subprocess.run(["git", "show", "-z", "--name-only", "--format=", "HEAD"], cwd=repo, capture_output=True, check=True).stdout
    assert committed.decode().split("\0") == [f"prompts/{decomposed}.yaml", ""]
