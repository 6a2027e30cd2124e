"""A commit that changed only a file a prompt's assertions read (a python check): History lists it,
and the Diff pane and the review screen say why, with that file's diff."""

from __future__ import annotations

from pathlib import Path

from tui_helpers import clock, commit, diff_text, git, open_review, select, settle

from workbench.tui.app import make_app

SUMMARIZE = "prompts/support/summarize.yaml"
GRADE = "def check(output, context):\n    return 'refund' in output\n"
STRICTER = GRADE.replace("'refund'", "'sorry'")
NOTE = "prompt unchanged; changed a file its assertions read: checks/grade.py"


def add_check(root: Path) -> None:
    """support/summarize's first case grades with `file://checks/grade.py:check`."""
    path = root / SUMMARIZE
    path.write_text(path.read_text().replace("value: len(output) <= 400", "value: file://checks/grade.py:check", 1))
    (root / "checks").mkdir()
    (root / "checks" / "grade.py").write_text(GRADE)
    commit(root, "Grade refunds with a check", "2026-01-20T10:00:00Z")


async def test_the_diff_pane_says_which_check_a_check_only_commit_changed(app_repo: Path) -> None:
    """The commit was listed in History, but the Diff pane showed `no differences` for it."""
    add_check(app_repo)
    (app_repo / "checks" / "grade.py").write_text(STRICTER)
    commit(app_repo, "A stricter check", "2026-01-21T10:00:00Z")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2")
        await settle(pilot)
        assert app.selected_rev == git(app_repo, "rev-parse", "HEAD")
        shown = diff_text(app)
        assert NOTE in shown and "no differences" not in shown
        assert "file checks/grade.py · changed" in shown
        assert "return 'refund' in output" in shown and "return 'sorry' in output" in shown


async def test_the_review_screen_shows_a_branch_that_changed_only_a_check(app_repo: Path) -> None:
    """The review listed support/summarize for a branch that made its check stricter, with an
    empty diff."""
    add_check(app_repo)
    git(app_repo, "switch", "-qc", "feature/stricter")
    (app_repo / "checks" / "grade.py").write_text(STRICTER)
    commit(app_repo, "A stricter check", "2026-01-21T10:00:00Z")
    git(app_repo, "switch", "-q", "main")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_review(pilot)
        body = str(app.screen.query_one("#review-body").render())
        assert "support/summarize" in str(app.screen.query_one("#review-list").get_option_at_index(0).prompt)  # type: ignore[attr-defined]
        assert NOTE in body and "return 'sorry' in output" in body


def test_a_whole_file_diff_shows_the_files_its_suite_reads_too() -> None:
    """A prompt file that is no YAML mapping is diffed as a whole file; its other sections (a
    changed check, a partial) were left out of the pane."""
    from workbench.core.diff import diff_prompt_texts
    from workbench.tui.render.diff import render_diff

    diff = diff_prompt_texts("- a\n", "- b\n", name="x", left_files={"checks/grade.py": GRADE}, right_files={"checks/grade.py": STRICTER})
    shown = "\n".join(line.plain for line in render_diff(diff, 100, unified=True)[0])
    assert "whole file · changed" in shown and "file checks/grade.py · changed" in shown and "return 'sorry' in output" in shown
