"""PromptRepo.get() applies the prompt-name rule: nothing outside prompts/, no option-like names."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, commit_all, write

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
