"""Fixtures for the Git layer: small real repositories with prompts in several states."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.services.workspace import Workspace


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repo on `main` with two prompts: support/summarize (3 commits) and greeting."""
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    write(root, ".gitignore", ".workbench/\n")
    write(root, "prompts/support/summarize.yaml", SUMMARIZE)
    write(root, "prompts/greeting.yaml", GREETING)
    commit_all(root, "Add prompts")
    write(root, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "friendly"))
    commit_all(root, "Friendlier summaries")
    write(root, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "calm"))
    commit_all(root, "Calm summaries")
    return root


@pytest.fixture
def ws(repo: Path) -> Iterator[Workspace]:
    workspace = Workspace.open(repo)
    yield workspace
    workspace.close()


@pytest.fixture(autouse=True)
def _foundation_standin(monkeypatch: pytest.MonkeyPatch) -> None:
    """TRANSITIONAL: until the foundation's loader/config land, a tiny stand-in (tests only)."""
    import importlib
    import sys
    import types

    import yaml

    from workbench.core.model import LoadResult, Message, Problem, Prompt, prompt_name_from_path

    try:
        importlib.import_module("workbench.core.loader")
        importlib.import_module("workbench.core.render")
        importlib.import_module("workbench.services.prompts")
        return
    except ImportError:
        pass

    def load_prompt(text: str, path: str, *, read_file: object = None) -> LoadResult:
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            return LoadResult(path, None, (Problem(path, 1, 1, str(err)),))
        if not isinstance(doc, dict) or not isinstance(doc.get("messages"), list):
            return LoadResult(path, None, (Problem(path, 1, 1, "no messages"),))
        messages = tuple(Message(m["role"], m["content"]) for m in doc["messages"])
        return LoadResult(path, Prompt(prompt_name_from_path(path), path, messages=messages, raw=doc, source=text))

    loader = types.ModuleType("workbench.core.loader")
    loader.load_prompt = load_prompt  # type: ignore[attr-defined]
    prompts = types.ModuleType("workbench.services.prompts")
    prompts.load_config = lambda root: types.SimpleNamespace(  # type: ignore[attr-defined]
        environments=("dev", "staging", "prod"), main_branch="main"
    )
    def render_prompt(prompt: Prompt, variables: dict) -> object:
        messages = []
        for message in prompt.messages:
            content = message.content
            for key, value in variables.items():
                content = content.replace("{{ " + key + " }}", str(value))
            messages.append({"role": message.role, "content": content})
        text = "\n".join(m["content"] for m in messages)
        return types.SimpleNamespace(messages=messages, text=None, as_text=lambda: text)

    render = types.ModuleType("workbench.core.render")
    render.render_prompt = render_prompt  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "workbench.core.render", render)
    monkeypatch.setitem(sys.modules, "workbench.core.loader", loader)
    monkeypatch.setitem(sys.modules, "workbench.services.prompts", prompts)
