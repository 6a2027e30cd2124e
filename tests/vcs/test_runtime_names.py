"""PromptRepo.get() applies the prompt-name rule: nothing outside prompts/, no option-like names."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, commit_all, run_git, write

from workbench.errors import PromptError
from workbench.runtime import PromptRepo


@pytest.mark.parametrize("name", ["../greeting", "../../etc/passwd", "/abs/path", "-x", "greeting\nHEAD:x", "support/../greeting"])
def test_get_refuses_invalid_names(repo: Path, name: str) -> None:
    with PromptRepo(repo) as prompts, pytest.raises(PromptError, match="invalid prompt name"):
        prompts.get(name)


def test_an_option_like_prompt_file_is_invalid_at_every_revision(repo: Path) -> None:
    write(repo, "prompts/-x.yaml", GREETING)
    commit_all(repo, "option-like name")
    with PromptRepo(repo) as prompts, pytest.raises(PromptError, match="invalid prompt name"):
        prompts.get("-x")


def test_render_takes_any_input_name(tmp_path: Path) -> None:
    """`render(self='bob')` raised TypeError (two values for `self`); every valid name is a keyword."""
    run_git(tmp_path, "init", "-q", "-b", "main")
    write(tmp_path, "prompts/s.yaml", "inputs: {prompt: {type: string}, identity: {type: string}}\nmessages:\n  - {role: user, content: '{{ prompt }} {{ identity }}'}\n")
    commit_all(tmp_path, "s")
    with PromptRepo(tmp_path) as prompts:
        loaded = prompts.get("s")
        assert loaded.render(prompt="a", identity="b") == [{"role": "user", "content": "a b"}]
        assert loaded.render.__func__.__code__.co_posonlyargcount == 1  # type: ignore[attr-defined]  # `self` too
