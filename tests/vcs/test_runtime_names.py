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


DECOMPOSED, TYPED = "uni/ee\u0301ccc", "uni/e\u00e9ccc"  # a macOS file name, and the same name typed


def test_a_name_typed_in_another_unicode_normalisation_is_served(repo: Path) -> None:
    """`prompts/uni/eéccc.yaml` written by macOS (e + U+0301): the CLI found it typed with U+00E9,
    `PromptRepo.get` said it did not exist, at HEAD, as a release and in an environment. A typed
    name NFC-equal to exactly one prompt is that prompt, served under the file's own spelling."""
    from workbench.cli.common import run_app

    write(repo, f"prompts/{DECOMPOSED}.yaml", GREETING)
    commit_all(repo, "a macOS file name")
    assert run_app(["-C", str(repo), "tag", DECOMPOSED]) == 0
    assert run_app(["-C", str(repo), "promote", DECOMPOSED, "--env", "prod", "-m", "ship"]) == 0
    with PromptRepo(repo) as prompts:
        for loaded in (prompts.get(TYPED), prompts.get(TYPED, version=1), prompts.get(TYPED, rev="v1"), prompts.get(TYPED, env="prod")):
            assert loaded.name == DECOMPOSED
            assert loaded.render(user="Ada")
        assert prompts.get(TYPED, env="prod").version == f"{DECOMPOSED}@v1"


def test_two_prompts_one_name_in_nfc_are_not_guessed_between(repo: Path) -> None:
    write(repo, "prompts/A\u030a.yaml", GREETING)  # A + combining ring
    write(repo, "prompts/\u212b.yaml", GREETING)  # ANGSTROM SIGN: NFC is U+00C5 too
    commit_all(repo, "two spellings")
    with PromptRepo(repo) as prompts:
        assert prompts.get("A\u030a").name == "A\u030a"  # its own spelling is itself
        with pytest.raises(PromptError, match="does not exist"):
            prompts.get("\u00c5")


def test_the_request_path_remembers_valid_names_boundedly(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """get() checks a name once (with a split: 5.7 -> 3.0 µs per call). Names come from callers:
    what is remembered is bounded, and only a plain `str` is looked up there, so a subclass that
    claims to equal a valid name is still checked."""
    import contextlib

    import workbench.runtime.prompt_repo as prompt_repo
    from workbench.errors import NotFound

    class Claims(str):
        def __hash__(self) -> int:
            return hash("greeting")

        def __eq__(self, other: object) -> bool:
            return True

    monkeypatch.setattr(prompt_repo, "_VALID_NAMES_KEPT", 3)
    with PromptRepo(repo) as prompts:
        assert prompts.get("greeting").render(user="Ada")
        with pytest.raises(PromptError, match="invalid prompt name"):
            prompts.get(Claims("../../etc/passwd"))
        class Vouches(Claims):
            def __hash__(self) -> int:
                return hash("../greeting")

        prompts.get(Vouches("greeting"))  # valid, so served, but never remembered: it would vouch for "../greeting"
        assert {type(name) for name in prompts._valid_names} == {str}
        with pytest.raises(PromptError, match="invalid prompt name"):
            prompts.get("../greeting")
        for i in range(6):
            with contextlib.suppress(NotFound, PromptError):
                prompts.get(f"missing{i}")
        assert len(prompts._valid_names) == 3
        with pytest.raises(PromptError, match="invalid prompt name"):
            prompts.get("../greeting")
