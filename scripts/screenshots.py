"""Save the README's SVG screenshots from the demo: main screen, diff, A/B run and rollback dialog at
160x48; the sizes people use (120x36 with an A/B run, 100x30, 80x24); a zoomed pane; the light theme.

Run: python scripts/screenshots.py  (writes screenshots/*.svg)
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    """Wait until loaders and service calls are done (a flow waiting on a dialog does not count:
    waiting for every worker would wait for the user)."""
    quiet = 0
    for _ in range(3000):
        await pilot.pause(0.01)
        quiet = quiet + 1 if pilot.app.idle else 0
        if quiet >= 8:
            return


async def select(pilot, name: str) -> None:  # type: ignore[no-untyped-def]
    from workbench.tui.panes.prompts import PromptsPane

    tree = pilot.app.query_one(PromptsPane).prompt_tree

    def walk(node):  # type: ignore[no-untyped-def]
        for child in node.children:
            yield child
            yield from walk(child)

    tree.move_cursor(next(n for n in walk(tree.root) if n.data == name))
    await settle(pilot)


async def main() -> None:
    os.environ.pop("NO_COLOR", None)
    from workbench.services.demo import ECHO_CONFIG, create_demo_repo
    from workbench.tui.app import make_app

    root = create_demo_repo(Path(tempfile.mkdtemp(prefix="wb-shots-")) / "demo")
    (root / "workbench.yaml").write_text(ECHO_CONFIG)  # deterministic, instant runs for the pictures
    OUT.mkdir(exist_ok=True)
    size = (160, 48)

    app = make_app(root)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        app.save_screenshot("main.svg", str(OUT))
        await pilot.press("3", "n")
        await settle(pilot)
        app.save_screenshot("diff.svg", str(OUT))
        await pilot.press("2", "j", "j", "m", "k", "k")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        app.save_screenshot("ab-run.svg", str(OUT))
        await pilot.press("escape", "1", "R", "enter")
        await settle(pilot)
        await pilot.press(*"summaries lost the refund keyword")
        app.save_screenshot("rollback.svg", str(OUT))

    async def ab_run(pilot) -> None:  # type: ignore[no-untyped-def]
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2", "j", "j", "m", "k", "k")
        await settle(pilot)
        await pilot.press("T")
        await settle(pilot)
        pilot.app.clear_notifications()
        await pilot.pause()

    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await ab_run(pilot)
        app.save_screenshot("ab-run-120x36.svg", str(OUT))
        await pilot.press("plus")
        await settle(pilot)
        app.save_screenshot("zoom-half-120x36.svg", str(OUT))

    app = make_app(root)
    async with app.run_test(size=(100, 30)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2")
        await settle(pilot)
        app.save_screenshot("history-100x30.svg", str(OUT))

    app = make_app(root)
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/reply_drafter")
        await pilot.press("2", "a")
        await settle(pilot)
        app.save_screenshot("branches-120x36.svg", str(OUT))
        await pilot.press("6")
        await settle(pilot)
        app.save_screenshot("timeline-120x36.svg", str(OUT))
        await pilot.resize_terminal(80, 24)
        await settle(pilot)
        app.save_screenshot("timeline-80x24.svg", str(OUT))

    app = make_app(root, theme="textual-light")
    async with app.run_test(size=(120, 36)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2")
        await settle(pilot)
        app.save_screenshot("light-120x36.svg", str(OUT))

    app = make_app(root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await select(pilot, "support/summarize")
        await pilot.press("2")
        await settle(pilot)
        app.save_screenshot("small-80x24.svg", str(OUT))
    print(f"wrote screenshots to {OUT}")


if __name__ == "__main__":
    asyncio.run(main())
