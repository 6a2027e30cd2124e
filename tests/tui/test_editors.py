"""Editing from the app: `$EDITOR` (e) and the in-app editor (E), on real repositories."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from textual.drivers.headless_driver import HeadlessDriver
from tui_helpers import clock, dialog, editor_refused, select, settle, shown_errors

from workbench.tui.app import make_app

SUMMARIZE = "prompts/support/summarize.yaml"


@pytest.fixture
def terminal_modes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Pilot's driver able to suspend, as a terminal's is (Textual's own `App.suspend` runs);
    each switch out of and back into application mode is recorded."""
    modes: list[str] = []
    suspend, resume = HeadlessDriver.suspend_application_mode, HeadlessDriver.resume_application_mode

    def suspended(driver: HeadlessDriver) -> None:
        modes.append("suspended")
        suspend(driver)

    def resumed(driver: HeadlessDriver) -> None:
        modes.append("resumed")
        resume(driver)

    monkeypatch.setattr(HeadlessDriver, "can_suspend", property(lambda driver: True))
    monkeypatch.setattr(HeadlessDriver, "suspend_application_mode", suspended)
    monkeypatch.setattr(HeadlessDriver, "resume_application_mode", resumed)
    return modes


def use_editor(monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", command)


async def press_e(pilot) -> None:  # type: ignore[no-untyped-def]
    await settle(pilot)
    await select(pilot, "support/summarize")
    await pilot.press("2", "e")
    await settle(pilot)


async def takes_keys(pilot) -> None:  # type: ignore[no-untyped-def]
    """The app is on screen and answers keys: an error dialog closes, `1` focuses the tree."""
    from workbench.tui.screens.error import ErrorScreen

    if isinstance(pilot.app.screen, ErrorScreen):
        await pilot.press("escape")
    await pilot.press("1")
    assert pilot.app.focused is not None and pilot.app.focused.id == "prompt-tree"


@pytest.mark.parametrize(("command", "program"), [("code --wait", "code"), ("nonexistent-ed", "nonexistent-ed")])
async def test_an_editor_that_is_not_installed_is_named_and_the_app_stays(
    app_repo: Path, monkeypatch: pytest.MonkeyPatch, terminal_modes: list[str], command: str, program: str
) -> None:
    """`EDITOR="code --wait"` without `code`: the app left the screen to start it, the start
    failed inside `App.suspend` (which resumes only when its block ends normally) and the app
    stayed off screen, deaf to every key but Ctrl+C."""
    use_editor(monkeypatch, command)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    before = (app_repo / SUMMARIZE).read_text()
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_e(pilot)
        assert terminal_modes.count("suspended") == terminal_modes.count("resumed")
        shown = shown_errors(app)
        assert f"cannot start the editor '{program}': not found" in shown and "EDITOR" in shown, shown
        assert "FileNotFoundError" not in shown
        await takes_keys(pilot)
    assert (app_repo / SUMMARIZE).read_text() == before


async def test_an_editor_that_cannot_be_run_brings_the_app_back(
    app_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal_modes: list[str]
) -> None:
    """A program that is there but fails to start (an executable file with no interpreter line:
    "Exec format error") fails only once the app has left the screen: it comes back all the same."""
    broken = tmp_path / "bin" / "broken-ed"
    broken.parent.mkdir()
    broken.write_bytes(b"\x00\x01 not a program\n")
    broken.chmod(0o755)
    use_editor(monkeypatch, str(broken))
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_e(pilot)
        assert terminal_modes == ["suspended", "resumed"]
        shown = shown_errors(app)
        assert f"cannot start the editor '{broken}'" in shown, shown
        await takes_keys(pilot)


async def test_the_editor_edits_the_file_and_the_app_comes_back(
    app_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal_modes: list[str]
) -> None:
    editor = tmp_path / "bin" / "append-ed"
    editor.parent.mkdir()
    editor.write_text('#!/bin/sh\nprintf "# edited outside\\n" >> "$1"\n')
    editor.chmod(0o755)
    use_editor(monkeypatch, f"{editor}")
    monkeypatch.setenv("PATH", f"{editor.parent}{os.pathsep}{os.environ['PATH']}")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_e(pilot)
        assert terminal_modes == ["suspended", "resumed"]
        assert "support/summarize: valid" in shown_errors(app)
    assert (app_repo / SUMMARIZE).read_text().endswith("# edited outside\n")


async def open_inline_editor(pilot):  # type: ignore[no-untyped-def]
    from workbench.tui.screens.editor import EditorScreen

    await settle(pilot)
    await select(pilot, "support/summarize")
    await pilot.press("E")
    await dialog(pilot, "EditorScreen")  # after the file is read, off the UI thread
    assert isinstance(pilot.app.screen, EditorScreen)
    return pilot.app.screen


async def test_quitting_with_unsaved_edits_in_the_editor_asks_first(app_repo: Path) -> None:
    """ctrl+q in `E` quit at once and the typed text was gone; escape asked. Any quit asks now."""
    from workbench.tui.screens.dialogs import ConfirmScreen

    before = (app_repo / SUMMARIZE).read_text()
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        editor = await open_inline_editor(pilot)
        await pilot.press(*"# mine")
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.is_running and app.return_code is None
        assert isinstance(app.screen, ConfirmScreen) and app.screen._title == "Discard unsaved edits?"
        await pilot.press("ctrl+q")  # asked again: still one question
        await pilot.pause()
        assert sum(isinstance(s, ConfirmScreen) for s in app.screen_stack) == 1
        await pilot.press("escape")  # cancel: back to the editor, the text there
        await pilot.pause()
        assert app.screen is editor and "# mine" in editor.text
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")  # discard: the app quits
        await pilot.pause()
        assert app.return_code == 0
    assert (app_repo / SUMMARIZE).read_text() == before


async def test_quitting_from_the_editor_with_nothing_unsaved_quits_at_once(app_repo: Path) -> None:
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        editor = await open_inline_editor(pilot)
        editor.query_one("TextArea").text = editor.text + "# saved\n"
        await pilot.press("ctrl+s")
        await settle(pilot)  # saved: the check and the write run off the UI thread
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.return_code == 0
    assert (app_repo / SUMMARIZE).read_text().endswith("# saved\n")


def append_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """$EDITOR: a program that appends a line to the file it is given, were it ever run."""
    editor = tmp_path / "bin" / "append-ed"
    editor.parent.mkdir(exist_ok=True)
    editor.write_text('#!/bin/sh\nprintf "# edited outside\\n" >> "$1"\n')
    editor.chmod(0o755)
    use_editor(monkeypatch, str(editor))


async def falls_back_to_the_in_app_editor(pilot) -> None:  # type: ignore[no-untyped-def]
    """`e` opened the in-app editor, said why, and the edit saved there is validated as `E`'s is."""
    from workbench.tui.screens.editor import EditorScreen

    app = pilot.app
    assert isinstance(app.screen, EditorScreen), shown_errors(app)
    shown = shown_errors(app)
    assert "SuspendNotSupported" not in shown and "not supported" not in shown, shown
    assert "$EDITOR cannot run here" in shown and "in-app editor" in shown, shown
    app.screen.query_one("TextArea").text = app.screen.text + "# edited in the app\n"
    await pilot.press("ctrl+s")
    await settle(pilot)  # saved (the check and the write run off the UI thread), then leave
    await pilot.press("escape")
    await settle(pilot)
    assert "support/summarize: valid" in shown_errors(app)


@pytest.mark.parametrize("editor", ["installed", "missing"])
async def test_e_where_the_app_cannot_leave_the_screen_opens_the_in_app_editor(
    app_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, editor: str
) -> None:
    """In a browser (`workbench serve`: Textual's web driver) the app cannot hand the terminal to
    another program: `e` said "App.suspend is not supported in this environment". Pilot's headless
    driver cannot suspend either (`can_suspend` False), as the web driver. Which $EDITOR is set
    does not matter there: it could not be shown anyway."""
    if editor == "installed":
        append_editor(tmp_path, monkeypatch)
    else:
        use_editor(monkeypatch, "nonexistent-ed")
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_e(pilot)
        await falls_back_to_the_in_app_editor(pilot)
    text = (app_repo / SUMMARIZE).read_text()
    assert text.endswith("# edited in the app\n") and "# edited outside" not in text


async def test_e_falls_back_when_suspend_itself_refuses(
    app_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal_modes: list[str]
) -> None:
    """A driver that says it can suspend, in an app whose `App.suspend` raises SuspendNotSupported
    all the same (as Textual does for any environment it cannot suspend in): the same fallback."""
    from contextlib import contextmanager

    from textual.app import SuspendNotSupported

    from workbench.tui.app import WorkbenchApp

    class NoSuspendApp(WorkbenchApp):
        CSS_PATH = str(Path(sys.modules[WorkbenchApp.__module__].__file__ or "").with_name("app.tcss"))

        @contextmanager
        def suspend(self):  # type: ignore[no-untyped-def,override]
            raise SuspendNotSupported("App.suspend is not supported in this environment.")
            yield

    append_editor(tmp_path, monkeypatch)
    app = NoSuspendApp(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_e(pilot)
        await falls_back_to_the_in_app_editor(pilot)
        assert terminal_modes == []
    assert "# edited outside" not in (app_repo / SUMMARIZE).read_text()


def _release_fifo_readers(fifo: Path, seconds: float = 15.0) -> None:
    """A daemon that opens and closes the FIFO's writing end whenever a reader waits on it, so
    that code which opens it for reading ends (empty) instead of holding the test for ever."""
    import contextlib
    import threading
    import time

    def run() -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):  # no reader waiting
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            time.sleep(0.2)

    threading.Thread(target=run, daemon=True).start()


@pytest.mark.parametrize("planted", ["link out", "fifo"])
async def test_the_in_app_editor_reads_only_a_regular_file_inside_prompts(app_repo: Path, tmp_path: Path, planted: str) -> None:
    """`E` read the prompt with `read_bytes()` on the UI's event loop: a link under prompts/ to a
    file outside showed that file (and saving wrote there), a FIFO froze the app. It reads as
    every other reader does now (confined to prompts/, a regular file, limited), off the UI."""
    target = app_repo / SUMMARIZE
    target.unlink()
    if planted == "link out":
        secret = tmp_path / "outside.yaml"
        secret.write_text("SECRET: outside the repository\n")
        target.symlink_to(secret)
    else:
        os.mkfifo(target)
        _release_fifo_readers(target)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        shown = await editor_refused(pilot)
        refused = "cannot open" if planted == "link out" else "not in the working copy"  # a FIFO is no prompt file
        assert "SECRET" not in shown and refused in shown, shown
        await takes_keys(pilot)
    if planted == "link out":
        assert secret.read_text() == "SECRET: outside the repository\n"


async def test_e_runs_no_editor_on_a_link_out_of_prompts(
    app_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, terminal_modes: list[str]
) -> None:
    """`E` refused a prompt file that is a link out of prompts/; `e` handed it to $EDITOR, which
    opened (and here appended to) the file outside. Both refuse it now, with the same words."""
    secret = tmp_path / "outside.yaml"
    secret.write_text("SECRET: outside the repository\n")
    (app_repo / SUMMARIZE).unlink()
    (app_repo / SUMMARIZE).symlink_to(secret)
    append_editor(tmp_path, monkeypatch)
    app = make_app(app_repo, clock=clock)
    async with app.run_test(size=(140, 40)) as pilot:
        await press_e(pilot)
        assert terminal_modes == []
        assert "cannot open prompts/support/summarize.yaml in the editor" in shown_errors(app)
        await takes_keys(pilot)
    assert secret.read_text() == "SECRET: outside the repository\n"
