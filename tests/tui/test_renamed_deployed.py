"""A prompt renamed (or deleted) on this branch while an environment still serves it under its
old name: `PromptRepo.get("old", env="prod")` serves it and `workbench rollback old` rolls it
back, but the app's tree listed only the working copy's names, so at 3 a.m. the on-call
engineer could not select it to roll it back. It is listed, marked, and `R` works on it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_parity import NAME, build, deploy, git, outcome, press
from tui_helpers import clock, select, settle, walk

from workbench.tui.app import make_app
from workbench.tui.panes.diff import DiffPane
from workbench.tui.panes.prompts import PromptsPane
from workbench.tui.screens.dialogs import ChoiceScreen


def renamed_while_deployed(root: Path) -> None:
    build(root)
    deploy(root, [("prod", "promote", 0, None), ("prod", "promote", 1, None)])
    git(root, "mv", "prompts/support/summarize.yaml", "prompts/support/summary.yaml")
    git(root, "commit", "-q", "-m", "rename summarize to summary")


async def test_a_deployed_name_gone_from_the_branch_is_in_the_tree_and_can_be_rolled_back(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    renamed_while_deployed(root)
    app = make_app(root, clock=clock)
    shown: dict[str, Any] = {}
    async with app.run_test(size=(140, 40)) as pilot:
        await settle(pilot)
        tree = app.query_one(PromptsPane).prompt_tree
        labels = {node.data: str(node.label) for node in walk(tree.root) if node.data}
        assert set(labels) == {NAME, "support/summary"}, labels
        shown["label"] = labels[NAME]
        await select(pilot, NAME)
        diff = app.query_one(DiffPane)
        shown["diff"] = (diff._problems, diff._diff.unified if diff._diff else "")
        await press(pilot, "R")
        assert isinstance(app.screen, ChoiceScreen)
        shown["choices"] = str(getattr(app.screen, "_options", ""))
        await press(pilot, "enter")  # prod
        await press(pilot, *"the rename broke prod", "enter", "y")
        await settle(pilot)
    assert shown["label"].startswith("× summarize"), shown
    problems, unified = shown["diff"]  # the commit that renamed it away: its deletion, not "invalid"
    assert problems is None and "-description: Summarise a support ticket" in unified, shown["diff"]
    assert "now: support/summarize@v2" in shown["choices"]
    assert outcome(root)[:2] == ("rollback", f"{NAME}@v1")
