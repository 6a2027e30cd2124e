"""Files a suite's assertions read (`file://` values, python checks, transforms): part of the
stored results' key, and read at the revision under test.

Real repositories in `tmp_path`; the suites run with the echo provider (its answer is the
rendered prompt).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path

import pytest

from workbench.services import evals, test_results
from workbench.services.session import RepoSession
from workbench.services.suite_files import content_id

NAME = "support/summarize"
PROMPT = """\
model: {provider: echo}
inputs:
  ticket: {type: string, required: true}
messages:
  - role: user
    content: "Ticket: {{ ticket }}"
TESTS
"""
INLINE = """\
tests:
  - description: names the topic
    vars: {ticket: refund please}
    assert:
      - {type: icontains, value: file://checks/topic.txt}
"""
IN_A_FILE = "tests: file://summarize.tests.yaml\n"
SUITE_FILE = """\
- description: names the topic
  vars: {ticket: refund please}
  options: {transform: "file://checks/shape.py:tidy"}
  assert:
    - type: python
      value: file://checks/grade.py:check
"""
TIDY = "def tidy(output, context):\n    return output.lower()\n"
GRADE = "def check(output, context):\n    return 'refund' in output\n"
STRICTER = "def check(output, context):\n    return 'sorry' in output\n"


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def commit(root: Path, files: dict[str, str], message: str, day: int) -> str:
    write(root, files)
    date = f"2026-01-0{day}T12:00:00Z"
    env = dict(os.environ, GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", "commit", "-qm", message], cwd=root, check=True, env=env)
    return git(root, "rev-parse", "HEAD").strip()


def repo(root: Path, files: dict[str, str]) -> str:
    root.mkdir(parents=True)
    git(root, "init", "-q", "-b", "main")
    return commit(root, {".gitignore": ".workbench/\n", **files}, "a prompt and its checks", 1)


def run(root: Path, rev: str | None) -> evals.SuiteOutcome:
    with RepoSession.open(root) as session:
        return asyncio.run(evals.run_tests(session, NAME, rev))


def summaries(root: Path, commits: list[str]) -> dict[str, str]:
    with RepoSession.open(root) as session:
        return {commit: mark.label for commit, mark in test_results.history_marks(session, NAME, commits).items()}


def key(root: Path, rev: str | None) -> str | None:
    with RepoSession.open(root) as session:
        return content_id(session, NAME, rev)


def test_a_changed_value_file_is_a_new_suite(tmp_path: Path) -> None:
    """`icontains: file://checks/topic.txt`: the key covered the prompt file only, so the commit
    that made the checked word `sorry` kept the ✓ 1/1 of the run that checked `refund`."""
    root = tmp_path / "repo"
    first = repo(root, {"prompts/support/summarize.yaml": PROMPT.replace("TESTS", INLINE), "checks/topic.txt": "refund\n"})
    assert run(root, "HEAD").summary.short == "✓ 1/1"
    before = key(root, None)
    (root / "checks/topic.txt").write_text("sorry\n")
    assert key(root, None) != before  # the working copy's suite is another one now
    second = commit(root, {}, "check for an apology", 2)
    assert key(root, second) == key(root, None) != key(root, first)
    assert summaries(root, [first, second]) == {first: "✓ 1/1"}


def suite_in_a_file() -> dict[str, str]:
    """A prompt whose `tests: file://` suite names a python check and a transform."""
    return {
        "prompts/support/summarize.yaml": PROMPT.replace("TESTS", IN_A_FILE),
        "prompts/support/summarize.tests.yaml": SUITE_FILE,
        "checks/shape.py": TIDY,
        "checks/grade.py": GRADE,
    }


def test_python_checks_and_transforms_of_a_tests_file_are_in_the_key(tmp_path: Path) -> None:
    """The same for the files a `tests: file://` suite's python assertion and transform name."""
    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    assert run(root, "HEAD").summary.short == "✓ 1/1"
    stricter = commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    assert summaries(root, [first, stricter]) == {first: "✓ 1/1"}
    shape = commit(root, {"checks/shape.py": TIDY.replace("lower", "upper")}, "another transform", 3)
    assert len({key(root, first), key(root, stricter), key(root, shape)}) == 3


def test_a_suite_without_assertion_files_keeps_its_key(tmp_path: Path) -> None:
    """A suite that reads no file keeps the prompt file's blob id as its key: results stored
    before stay found."""
    root = tmp_path / "repo"
    plain = INLINE.replace("file://checks/topic.txt", "refund")
    first = repo(root, {"prompts/support/summarize.yaml": PROMPT.replace("TESTS", plain)})
    assert key(root, first) == git(root, "rev-parse", f"{first}:prompts/support/summarize.yaml").strip()


def test_a_run_of_a_revision_reads_its_assertion_files_as_they_were_there(tmp_path: Path) -> None:
    """`workbench test --rev HEAD` with the checks edited in the working copy (not committed):
    the python check, the transform and the expected value were read from the working copy, so
    HEAD was recorded as failing (on its note, for every clone) by checks it never had."""
    from workbench.cli.common import run_app

    root = tmp_path / "repo"
    files = {
        "prompts/support/summarize.yaml": PROMPT.replace("TESTS", IN_A_FILE),
        "prompts/support/summarize.tests.yaml": SUITE_FILE.replace("assert:\n", "assert:\n    - {type: icontains, value: file://checks/topic.txt}\n"),
        "checks/shape.py": TIDY,
        "checks/grade.py": GRADE,
        "checks/topic.txt": "refund\n",
    }
    head = repo(root, files)
    write(root, {"checks/grade.py": STRICTER, "checks/shape.py": "def tidy(output, context):\n    return 'nothing'\n", "checks/topic.txt": "sorry\n"})
    assert run(root, None).summary.short == "✗ 0/1"  # the working copy's checks
    at_head = run(root, "HEAD")
    assert at_head.summary.short == "✓ 1/1", at_head.results[0].error or at_head.results[0].asserts
    assert run_app(["-C", str(root), "test", NAME, "--rev", head[:10]]) == 0
    assert summaries(root, [head]) == {head: "✓ 1/1"}


def test_a_file_missing_at_the_revision_is_not_read_from_the_working_copy(tmp_path: Path) -> None:
    """A check added in the working copy only does not exist at HEAD: the case errs there."""
    root = tmp_path / "repo"
    repo(root, {"prompts/support/summarize.yaml": PROMPT.replace("TESTS", INLINE)})
    write(root, {"checks/topic.txt": "refund\n"})
    assert run(root, None).summary.short == "✓ 1/1"
    error = run(root, "HEAD").results[0].error
    assert error is not None and "checks/topic.txt" in error and "does not exist at" in error


def test_history_lists_a_commit_that_changed_only_a_check(tmp_path: Path) -> None:
    """History listed the commits of the prompt file, its tests file and its partials: a commit
    that only made a check stricter was no row of its own, so the row above it (the version
    before, with its ✓) read as the newest version's result."""
    from workbench.services import history

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    assert run(root, "HEAD").summary.short == "✓ 1/1"
    commit(root, {"README.md": "unrelated\n"}, "an unrelated change", 2)
    stricter = commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 3)
    with RepoSession.open(root) as session:
        rows = [entry.commit.sha for entry in history.history(session, NAME)]
        assert rows == [stricter, first]
        assert [entry.commit.sha for entry in history.branch_history(session, NAME).entries] == [stricter, first]
    assert summaries(root, rows) == {first: "✓ 1/1"}


def test_a_branch_that_changed_only_a_check_changes_its_prompt_for_review_and_ci(tmp_path: Path) -> None:
    """History listed the commit that made a check stricter, but the review screen and `ci check`
    (`changes_since`) said no prompt changed: the stricter suite was never compared in CI. One
    rule for what a prompt depends on now answers both."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    stricter = commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    with RepoSession.open(root) as session:
        review = diffing.changes_since(session, first, stricter)
    assert [(item.name, [c.sha for c in item.commits]) for item in review.items] == [("support/summarize", [stricter])]


def test_a_check_committed_as_a_link_inside_the_repository_is_followed_at_a_revision(tmp_path: Path) -> None:
    """`checks/grade.py -> ../shared/grade.py`: the working copy's run followed the link, a run
    of HEAD read the link's own text (`../shared/grade.py`) as the check and erred, and the two
    keys differed (the link's blob against the target's), so neither found the other's result.
    A link out of the repository is not followed at a revision either (as in the working copy)."""
    root = tmp_path / "repo"
    files = {**suite_in_a_file(), "shared/grade.py": GRADE}
    del files["checks/grade.py"]
    root.mkdir(parents=True)
    (root / "checks").mkdir()
    os.symlink("../shared/grade.py", root / "checks" / "grade.py")
    git(root, "init", "-q", "-b", "main")
    head = commit(root, {".gitignore": ".workbench/\n", **files}, "a check behind a link", 1)
    at_head = run(root, "HEAD")
    assert at_head.summary.short == "✓ 1/1", at_head.results[0].error or at_head.results[0].asserts
    assert key(root, head) == key(root, None)
    os.unlink(root / "checks" / "grade.py")
    os.symlink("/etc/hostname", root / "checks" / "grade.py")
    outside = commit(root, {}, "a link out of the repository", 2)
    assert run(root, outside).summary.short != "✓ 1/1"


CHECK_NOTE = "prompt unchanged; changed a file its assertions read: checks/grade.py"


def test_the_diff_of_a_commit_that_changed_only_a_check_names_it_with_its_diff(tmp_path: Path) -> None:
    """History lists the commit that made a check stricter, but its diff was "no differences":
    the prompt's fields are the same, and the check is no field. It now says which file changed
    and shows that file's diff (its patch in `--unified` too)."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    stricter = commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    with RepoSession.open(root) as session:
        shown = diffing.diff(session, NAME, first, stricter)
    assert shown.changed and shown.notes[0] == CHECK_NOTE
    [section] = shown.changed_sections
    assert (section.key, section.title, section.status) == ("file:checks/grade.py", "file checks/grade.py", "changed")
    assert [(p.left, p.right) for p in section.diff.pairs if p.kind != "equal"] == [("    return 'refund' in output", "    return 'sorry' in output")]
    assert "--- a/checks/grade.py" in shown.unified and "+    return 'sorry' in output" in shown.unified
    assert shown.to_dict()["files"] == ["checks/grade.py"]


def test_the_review_of_a_branch_that_changed_only_a_check_shows_the_check(tmp_path: Path) -> None:
    """The review screen and `ci check` listed the prompt with an empty diff."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    stricter = commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    with RepoSession.open(root) as session:
        [item] = diffing.changes_since(session, first, stricter).items
    assert item.diff.changed and item.diff.notes[0] == CHECK_NOTE
    assert [s.key for s in item.diff.changed_sections] == ["file:checks/grade.py"]


def test_ci_check_names_the_check_among_what_changed(tmp_path: Path) -> None:
    """`ci check` compared the prompt, but its report's "changed" column was empty."""
    from workbench.services import ci

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    with RepoSession.open(root) as session:
        check = ci.plan_check(session, ci.validate(root), base=first)
    assert [(p.name, p.fields) for p in check.prompts] == [(NAME, ("file checks/grade.py",))]


def test_a_check_changed_with_the_prompt_is_named_after_the_prompts_fields(tmp_path: Path) -> None:
    """Both changed: the prompt's sections first, then the check, and the note says "also"."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    files = suite_in_a_file()
    first = repo(root, files)
    both = commit(root, {"checks/grade.py": STRICTER, "prompts/support/summarize.yaml": files["prompts/support/summarize.yaml"].replace("Ticket:", "Ticket text:")}, "both", 2)
    with RepoSession.open(root) as session:
        shown = diffing.diff(session, NAME, first, both)
    assert "also changed a file its assertions read: checks/grade.py" in shown.notes
    assert [s.key for s in shown.changed_sections] == ["message:1", "file:checks/grade.py"]


MORE_CASES = "- description: more\n  vars: {ticket: refund}\n  assert: [{type: icontains, value: refund}]\n"
LISTED = """\
tests:
  - description: inline
    vars: {ticket: refund}
    assert: [{type: icontains, value: refund}]
  - file://more.tests.yaml
"""


def test_a_tests_file_listed_among_the_cases_is_shown_when_only_it_changed(tmp_path: Path) -> None:
    """`tests: [..., file://more.tests.yaml]`: its cases are no test sections, so a commit that
    changed only that file showed an empty field diff."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    first = repo(root, {"prompts/support/summarize.yaml": PROMPT.replace("TESTS", LISTED), "prompts/support/more.tests.yaml": MORE_CASES})
    second = commit(root, {"prompts/support/more.tests.yaml": MORE_CASES.replace("more", "other")}, "other cases", 2)
    with RepoSession.open(root) as session:
        shown = diffing.diff(session, NAME, first, second)
    assert shown.notes[0] == "prompt unchanged; changed a file its tests read: prompts/support/more.tests.yaml"
    assert [s.key for s in shown.changed_sections] == ["file:prompts/support/more.tests.yaml"]
    assert shown.unified.count("a/prompts/support/more.tests.yaml") == 1  # its patch once


def test_a_tests_file_whose_cases_are_test_sections_is_not_shown_twice(tmp_path: Path) -> None:
    """`tests: file://summarize.tests.yaml`: its cases are the test sections already."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    second = commit(root, {"prompts/support/summarize.tests.yaml": SUITE_FILE.replace("names the topic", "names the subject")}, "renamed case", 2)
    with RepoSession.open(root) as session:
        shown = diffing.diff(session, NAME, first, second)
    assert not shown.notes
    assert [s.key for s in shown.changed_sections] == ["test:names the subject", "test:names the topic"]


def test_workbench_diff_names_the_check_a_commit_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`workbench diff NAME A B` printed `no differences` for the commit that made a check stricter."""
    from workbench.cli.common import run_app

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    stricter = commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    capsys.readouterr()
    assert run_app(["-C", str(root), "diff", NAME, first, stricter]) == 0
    out = capsys.readouterr().out
    assert CHECK_NOTE in out and "no differences" not in out
    assert "file checks/grade.py (changed)" in out and "return 'sorry' in output" in out
    assert run_app(["-C", str(root), "diff", NAME, first, stricter, "--unified"]) == 0
    assert "+++ b/checks/grade.py" in capsys.readouterr().out


def test_the_diff_shows_the_working_copys_check_as_it_was_read_for_its_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The working copy's check was read twice: once for its id (inside the repository), once
    more for the diff pane, resolved again without the repository check. A link swapped in
    between showed a file from outside the repository in the diff. One read gives both now."""
    from workbench.services import diffing, suite_files

    root = tmp_path / "repo"
    repo(root, suite_in_a_file())
    outside = tmp_path / "secret.txt"
    outside.write_text("a secret from outside the repository\n")
    write(root, {"checks/grade.py": STRICTER})
    real = suite_files.read_inside
    reads: list[str] = []

    def read_then_swap(top: Path | str, path: str, *args: object, **kwargs: object) -> bytes:
        data = real(top, path, *args, **kwargs)  # type: ignore[arg-type]
        reads.append(str(path))
        if str(path).endswith("grade.py"):  # the link is swapped in once the file was read
            (root / "checks" / "grade.py").unlink()
            os.symlink(outside, root / "checks" / "grade.py")
        return data

    monkeypatch.setattr(suite_files, "read_inside", read_then_swap)
    with RepoSession.open(root) as session:
        shown = diffing.diff(session, NAME, "HEAD", None)
    assert "secret" not in shown.unified and "secret" not in str(shown.right_files)
    assert shown.right_files == {"checks/grade.py": STRICTER}
    assert [read for read in reads if read.endswith("grade.py")] == ["checks/grade.py"]


def test_a_diff_of_two_commits_looks_up_each_sides_files_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The files a suite reads were looked up at each commit (`followed_blobs`: a git process
    each), then looked up again, one process per changed file and side, to show their texts;
    and again on every diff of the session (History's every move)."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    stricter = commit(root, {"checks/grade.py": STRICTER, "checks/shape.py": TIDY.replace("lower", "upper")}, "two checks", 2)
    with RepoSession.open(root) as session:
        looked_up: list[str] = []
        real = session.store.followed_blobs

        def counted(rev: str, paths: list[str]) -> list[tuple[str, int] | None]:
            looked_up.append(rev)
            return real(rev, paths)

        monkeypatch.setattr(session.store, "followed_blobs", counted)
        shown = diffing.diff(session, NAME, first, stricter)
        assert diffing.diff(session, NAME, first, stricter) == shown  # a commit's files never change: not looked up again
    assert [s.key for s in shown.changed_sections] == ["file:checks/grade.py", "file:checks/shape.py"]
    assert sorted(looked_up) == sorted([first, stricter])


def counted_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths `core.loader.load_prompt` parses from now on."""
    from workbench.core import loader

    parsed: list[str] = []
    real = loader.load_prompt

    def counting(text: str, path: str, *args: object, **kwargs: object) -> object:
        parsed.append(path)
        return real(text, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(loader, "load_prompt", counting)
    return parsed


def test_a_version_checked_before_is_not_parsed_again_to_learn_what_its_suite_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every diff of a prompt whose suite names a file parsed it (`load_path`) to learn which
    files its assertions name: the working copy's on every History move, each commit's once a
    session. Which files they are is remembered with the version's verdict (`parse_cache`)."""
    from workbench.services import diffing, history

    root = tmp_path / "repo"
    first = repo(root, suite_in_a_file())
    commit(root, {"checks/grade.py": STRICTER}, "a stricter check", 2)
    write(root, {"checks/shape.py": TIDY.replace("lower", "upper")})
    with RepoSession.open(root) as session:
        shown = diffing.diff(session, NAME, "HEAD", None)  # the first look at each version parses it
        before = diffing.diff(session, NAME, first, "HEAD")
    assert [s.key for s in shown.changed_sections] == ["file:checks/shape.py"]
    parsed = counted_parses(monkeypatch)
    with RepoSession.open(root) as session:
        again = [diffing.diff(session, NAME, "HEAD", None) for _ in range(3)]
        assert diffing.diff(session, NAME, first, "HEAD") == before
        assert len(history.history(session, NAME)) == 2
        assert key(root, None) != key(root, "HEAD")
    assert parsed == []
    assert all(diff == shown for diff in again)


def test_a_diff_reads_each_tests_file_and_partial_of_a_side_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A side's tests file and partials were read for the diff, again for what the suite reads
    and again by the parse that found its assertion files: three reads of each, per side."""
    from workbench.services import diffing

    root = tmp_path / "repo"
    files = suite_in_a_file()
    files["prompts/support/summarize.yaml"] = files["prompts/support/summarize.yaml"].replace("Ticket:", "{% include 'shared/tone.jinja' %} Ticket:")
    files["prompts/shared/tone.jinja"] = "Be kind."
    first = repo(root, files)
    second = commit(root, {"checks/grade.py": STRICTER, "prompts/shared/tone.jinja": "Be brief."}, "a stricter check, a briefer tone", 2)
    monkeypatch.setattr(diffing, "partial_users", lambda *_args: {})  # reads every prompt's partials: not this test's subject
    for checked_before in (False, True):
        with RepoSession.open(root) as session:
            specs: list[str] = []
            real = session.store.read_object

            def counted(spec: str, real=real, specs=specs) -> tuple[str, str, bytes] | None:  # type: ignore[no-untyped-def]
                specs.append(spec)
                return real(spec)

            monkeypatch.setattr(session.store, "read_object", counted)
            shown = diffing.diff(session, NAME, first, second)
        assert [s.key for s in shown.changed_sections] == ["partial:prompts/shared/tone.jinja", "file:checks/grade.py"], checked_before
        for rev in (first, second):
            for path in ("prompts/support/summarize.tests.yaml", "prompts/shared/tone.jinja"):
                assert specs.count(f"{rev}:{path}") == 1, (checked_before, rev, path, specs)


TOP = """\
model: {provider: echo}
messages:
  - role: user
    content: "{% include 'shared/topic.jinja' %}"
tests:
  - description: names the topic
    assert:
      - type: icontains
        value: file://shared/topic.jinja
"""


def test_a_reference_that_names_a_partial_is_one_rule_for_history_and_the_results_key(tmp_path: Path) -> None:
    """`file://shared/topic.jinja` in `prompts/top.yaml`: from the prompt's folder it is the
    partial it includes, from the repository root (an assertion's value) another file. The
    results key counted only files that are no partial as read by the loader, so it parsed the
    suite and keyed on `shared/topic.jinja`; History counted the partial as the reference's
    file, parsed nothing, and did not list the commit that changed the value: a new key with
    no row of its own."""
    from workbench.services import diffing, history

    root = tmp_path / "repo"
    first = repo(root, {"prompts/top.yaml": TOP, "prompts/shared/topic.jinja": "refund", "shared/topic.jinja": "refund\n"})
    second = commit(root, {"shared/topic.jinja": "sorry\n"}, "another expected topic", 2)
    with RepoSession.open(root) as session:
        assert content_id(session, "top", first) != content_id(session, "top", second)
        assert [entry.commit.sha for entry in history.history(session, "top")] == [second, first]
        assert [item.name for item in diffing.changes_since(session, first, second).items] == ["top"]
        shown = diffing.diff(session, "top", first, second)
    assert shown.notes[0] == "prompt unchanged; changed a file its assertions read: shared/topic.jinja"
