"""Save the README's SVG screenshots (main screen, diff, A/B run, rollback dialog) from the demo.

Run: python scripts/screenshots.py  (writes screenshots/*.svg)
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "screenshots"


async def settle(pilot) -> None:  # type: ignore[no-untyped-def]
    for _ in range(8):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


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
