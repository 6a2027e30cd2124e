"""The main screen, driven with Textual's Pilot on real repositories."""

from __future__ import annotations

from pathlib import Path

import pytest
from fake_openai import FakeOpenAI
from textual.widgets import Static
from tui_helpers import ab_run, clock, commit, diff_text, select, settle, shown_errors, walk

from workbench.tui.app import make_app
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.history import HistoryPane
from workbench.tui.panes.prompts import PromptsPane
from workbench.tui.panes.tests import TestsPane


async def test_opens_on_the_first_prompt_with_history_and_diff(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.selected_prompt == "analytics/sql_generator"
        assert app.query_one(HistoryPane).row_count == 1
        assert "sql_generator" in diff_text(app) or "added" in diff_text(app)
        status = str(app.query_one("#status-bar", Static).render())
        assert "main" in status and "echo" in status


async def test_history_and_diff_of_a_changed_prompt(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        history = app.query_one(HistoryPane)
        assert [r.subject for r in history.entries] == ["Shorter summaries [bold]now[/]", "Initial prompts"]
        text = diff_text(app)
        assert "message 1 (system) · changed" in text
        assert "- " in text and "+ " in text and "two short" in text
        await pilot.press("2", "j")
        await settle(pilot)
        assert app.selected_rev == history.entries[1].rev
        assert "(none)" in diff_text(app) or "added" in diff_text(app)


async def test_mark_base_then_diff_and_unified_toggle(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2", "j", "m")
        await settle(pilot)
        assert app.base_marked and app.base_rev == app.query_one(HistoryPane).entries[1].rev
        await pilot.press("k", "d")
        await settle(pilot)
        assert app.comparison_pair() == (app.base_rev, app.selected_rev)
        pane = app.query_one(DiffPane)
        await pilot.press("3", "u")
        assert pane.unified and "unified" in str(pane.border_subtitle)
        await pilot.press("n")  # jumps without error


async def test_run_tests_streams_rows_with_the_echo_provider(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/escalation_check")
        await pilot.press("t")
        await settle(pilot)
        pane = app.query_one(TestsPane)
        assert len(pane.lines) == 6
        assert all(line.results for line in pane.lines.values())
        summary = str(app.query_one("#tests-summary", Static).render())
        assert "/6" in summary and "95% CI" in summary


async def test_ab_run_reports_a_verdict(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await ab_run(pilot)
        summary = str(app.query_one("#tests-summary", Static).render())
        assert summary.count("/6") == 2
        assert "fixed" in summary or "no difference" in summary or "scores" in summary
        await pilot.press("4", "enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CaseScreen"
        await pilot.press("escape")


async def test_invalid_prompt_shows_its_problems_and_the_app_stays_usable(app_repo: Path) -> None:
    (app_repo / "prompts" / "broken.yaml").write_text("messages:\n  - role: user\n    content: '{{ x'\n")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "broken")
        text = diff_text(app)
        assert "is invalid" in text and "prompts/broken.yaml:3:" in text
        await select(pilot, "support/summarize")
        assert "message 1 (system)" in diff_text(app)


async def test_markup_and_escapes_are_shown_literally(app_repo: Path) -> None:
    path = app_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("You summarise", "You [red]summarise[/] [/]"))
    commit(app_repo, "[link=http://x]click[/link] \x1b[2J", "2026-01-12T10:00:00Z")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        history = app.query_one(HistoryPane)
        assert history.entries[0].subject.startswith("[link=http://x]click[/link]")
        text = diff_text(app)
        assert "[red]summarise[/] [/]" in text
        message_cell = history.get_row_at(0)[5]
        assert "[link=http://x]click[/link] ␛[2J" in message_cell.plain


async def test_filter_narrows_the_tree(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.press(*"sql")
        await pilot.press("enter")
        await settle(pilot)
        tree = app.query_one(PromptsPane).prompt_tree
        leaves = [n.data for n in walk(tree.root) if n.data]
        assert leaves == ["analytics/sql_generator"]


async def test_external_commit_is_picked_up_on_refresh(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        path = app_repo / "prompts" / "support" / "summarize.yaml"
        path.write_text(path.read_text() + "\n")
        commit(app_repo, "Trailing newline", "2026-01-20T10:00:00Z")
        await pilot.press("ctrl+r")
        await settle(pilot)
        assert app.query_one(HistoryPane).entries[0].subject == "Trailing newline"


async def test_small_terminal_shows_one_pane_and_switches_by_number(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.has_class("-narrow")
        assert app.query_one(DiffPane).has_class("-off")
        await pilot.press("3")
        await pilot.pause()
        assert not app.query_one(DiffPane).has_class("-off")
        assert app.query_one(PromptsPane).has_class("-off")


async def test_not_a_repository_is_reported_and_the_app_stays_alive(tmp_path: Path) -> None:
    app = make_app(tmp_path, clock=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        assert "not inside a Git repository" in diff_text(app)
        if app.screen.__class__.__name__ == "ErrorScreen":
            await pilot.press("escape")
        await pilot.press("?")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "HelpScreen"


async def test_a_file_name_with_markup_is_shown_as_text(app_repo: Path) -> None:
    hostile = "x[reverse]evil[link=x]y"
    (app_repo / "prompts" / f"{hostile}.yaml").write_text((app_repo / "prompts" / "support" / "summarize.yaml").read_text())
    commit(app_repo, "A hostile name", "2026-01-12T10:00:00Z")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, hostile)
        title = app.query_one(HistoryPane)._border_title
        assert title is not None and title.plain == f"2 History · {hostile}"
        await pilot.press("m")  # a notification naming the selection
        await settle(pilot)
        assert app.is_running


async def test_help_scrolls_to_its_end_and_filters(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        table = app.screen.query_one("HelpTable")
        total = table.row_count  # type: ignore[attr-defined]
        await pilot.press("G")
        assert table.cursor_row == total - 1  # type: ignore[attr-defined]
        await pilot.press("g", "pagedown")
        assert table.cursor_row > 0  # type: ignore[attr-defined]
        await pilot.press("slash", *"roll")
        await pilot.pause()
        assert 0 < table.row_count < total  # type: ignore[attr-defined]
        await pilot.press("escape", "escape")
        await pilot.pause()
        assert app.screen.__class__.__name__ != "HelpScreen"


async def test_history_filter_and_g_moves_the_selection(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        history = app.query_one(HistoryPane)
        history.focus()
        await pilot.press("G")
        await settle(pilot)
        assert history.cursor_row == history.row_count - 1 and app.selected_rev == history.entries[-1].rev
        await pilot.press("g")
        await settle(pilot)
        assert app.selected_rev == history.entries[0].rev
        await pilot.press("slash", *"initial", "enter")
        await settle(pilot)
        assert [r.subject for r in history.entries] == ["Initial prompts"]
        await pilot.press("slash", "ctrl+u", "enter")  # the filter is offered for editing; emptied: all rows
        await settle(pilot)
        assert len(history.entries) == 2


async def test_commit_message_field_is_on_screen_at_80x24(app_repo: Path) -> None:
    path = app_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("two short sentences", "two sentences\n" * 30))
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("c")
        await settle(pilot)
        field = app.screen.query_one("#commit-message")
        assert field.region.height > 0 and field.region.bottom <= 24 and field.has_focus


async def test_filtering_the_tree_selects_what_the_cursor_shows(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        assert app.selected_prompt == "analytics/sql_generator"
        await pilot.press("slash", *"summarize", "enter")
        await settle(pilot)
        assert app.query_one(PromptsPane).selected == "support/summarize"
        assert app.selected_prompt == "support/summarize"
        assert app.query_one(HistoryPane).entries[0].subject.startswith("Shorter summaries")


async def test_a_run_names_the_model_it_calls_not_the_repositorys_default(app_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Tests pane's header named workbench.yaml's model (echo here) for a prompt that names
    its own, in another format than the run's own label (`@` against `at`): a lead comparing
    models read the wrong one. The header now names what each arm's run calls."""
    monkeypatch.setenv("OWN_KEY", "not-a-real-key")
    with FakeOpenAI() as server:
        source = (app_repo / "prompts" / "support" / "escalation_check.yaml").read_text()
        own = f"model:\n  provider: openai\n  name: gpt-own\n  base_url: {server.base_url}\n  api_key_env: OWN_KEY\n"
        (app_repo / "prompts" / "own_model.yaml").write_text(source.replace("model:\n", own, 1))
        app = make_app(app_repo, clock=clock)
        async with app.run_test(size=(140, 40)) as pilot:
            await settle(pilot)
            assert "echo" in str(app.query_one("#status-bar", Static).render())  # the repository's default
            await select(pilot, "own_model")
            await pilot.press("t")
            await settle(pilot)
            header = str(app.query_one("#tests-header", Static).render())
            assert f"openai/gpt-own at {server.base_url}" in header and "echo" not in header, header
            assert server.completed == 6 and shown_errors(app) == ""


async def test_a_deleted_prompt_file_shows_its_deletion_not_a_check_error(app_repo: Path) -> None:
    """With `prompts/support/summarize.yaml` deleted, the Diff pane said the working copy "is
    invalid: ... does not exist at working copy", where the commit dialog showed the deletion."""
    (app_repo / "prompts" / "support" / "summarize.yaml").unlink()
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        assert app.selected_rev is None  # the working copy: deleted
        text = diff_text(app)
        assert "invalid" not in text and "removed" in text, text
        assert app.query_one(DiffPane)._diff is not None and shown_errors(app) == ""


def twins_changed(app_repo: Path, prompt: str, broken: str) -> None:
    """`prompts/twins.yaml` committed as `prompt`, then again with its template replacing
    `broken` in the answer (the case that asserts it regresses)."""
    (app_repo / "prompts" / "twins.yaml").write_text(prompt)
    commit(app_repo, "Twins", "2026-01-12T10:00:00Z")
    (app_repo / "prompts" / "twins.yaml").write_text(prompt.replace("'{{ x }}'", f"\"{{{{ x | replace('{broken}', 'omega') }}}}\""))
    commit(app_repo, "Twins, renamed", "2026-01-13T10:00:00Z")


async def ab_rows(pilot, name: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    """The Tests pane's rows after an A/B run of `name`, as text."""
    await ab_run(pilot, name)
    table = pilot.app.query_one(TestsPane).table
    return [[c.plain for c in table.get_row_at(row)] for row in range(table.row_count)]


async def test_ab_run_shows_each_case_sharing_a_description(app_repo: Path) -> None:
    """Two tests described `same`, the first broken by the newer version: the Tests pane kept a
    row per description (the second result took the first's place), counted `1/1` on each side,
    and the verdict said "no difference". Each is its own row (`same`, `same (2)`), compared with
    the same place in the other version."""
    prompt = (
        "inputs: {x: {type: string}}\nmessages:\n  - {role: user, content: '{{ x }}'}\ntests:\n"
        "  - {description: same, vars: {x: alpha}, assert: [{type: contains, value: alpha}]}\n"
        "  - {description: same, vars: {x: beta}, assert: [{type: contains, value: beta}]}\n"
    )
    twins_changed(app_repo, prompt, "alpha")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        rows = await ab_rows(pilot, "twins")
        assert [(r[0].strip(), r[1].strip()[:1], r[2].strip()[:1]) for r in rows] == [("same", "✓", "✗"), ("same (2)", "✓", "✓")]
        summary = str(app.query_one("#tests-summary", Static).render())
        assert "2/2" in summary and "1/2" in summary and "1 regressed" in summary, summary
        await pilot.press("4", "enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CaseScreen"
        assert [r.passed for r in app.screen.results] == [True, False]  # type: ignore[attr-defined]


async def test_ab_run_names_cases_as_the_reports_do(app_repo: Path) -> None:
    """A test literally described `same (2)` beside two described `same`: the app named the
    second `same` `same (2)` too (two rows, one name), where the JUnit file says `same (3)`."""
    prompt = (
        "inputs: {x: {type: string}}\nmessages:\n  - {role: user, content: '{{ x }}'}\ntests:\n"
        "  - {description: same, vars: {x: alpha}, assert: [{type: contains, value: alpha}]}\n"
        "  - {description: same, vars: {x: beta}, assert: [{type: contains, value: beta}]}\n"
        "  - {description: same (2), vars: {x: gamma}, assert: [{type: contains, value: gamma}]}\n"
    )
    twins_changed(app_repo, prompt, "beta")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        rows = await ab_rows(pilot, "twins")
        assert [(r[0].strip(), r[1].strip()[:1], r[2].strip()[:1]) for r in rows] == [("same", "✓", "✓"), ("same (3)", "✓", "✗"), ("same (2)", "✓", "✓")]
        await pilot.press("4", "down", "enter")
        await pilot.pause()
        assert app.screen.__class__.__name__ == "CaseScreen"
        title = str(app.screen.query(Static).first().render())
        assert "same (3)" in title, title
