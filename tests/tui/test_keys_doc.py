"""The README's key table is generated from the action table and must not drift."""

from __future__ import annotations

from pathlib import Path

from workbench.tui.actions import ACTIONS, keys_markdown


def test_readme_key_table_is_current() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert keys_markdown() in readme, "regenerate the key table in README.md from workbench.tui.actions.keys_markdown()"


def test_binding_ids_are_unique_and_kebab_case() -> None:
    ids = [act.id for act in ACTIONS]
    assert len(ids) == len(set(ids))
    assert all(i == i.lower() and " " not in i and "_" not in i for i in ids)
