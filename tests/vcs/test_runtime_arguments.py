"""PromptRepo.get() never answers with a version other than the one asked for: conflicting
selectors and another prompt's release are refused, and `rev` follows the revision grammar."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import run_git

from workbench.errors import NotFound, PromptError, RepoError
from workbench.runtime import PromptRepo
from workbench.services import deployments, releases, revisions
from workbench.services.session import RepoSession


@pytest.mark.parametrize(
    "selectors",
    [{"env": "prod", "version": "v2"}, {"env": "prod", "rev": "HEAD"}, {"rev": "HEAD", "version": 1}, {"env": "prod", "rev": "HEAD", "version": "v1"}],
)
def test_more_than_one_selector_is_refused(repo: Path, ws: RepoSession, selectors: dict[str, object]) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="launch")
    with PromptRepo(repo) as prompts, pytest.raises(PromptError, match="only one of env=, rev= or version="):
        prompts.get("support/summarize", **selectors)  # type: ignore[arg-type]


def test_a_release_of_another_prompt_is_refused(repo: Path, ws: RepoSession) -> None:
    releases.tag_release(ws, "support/summarize", "HEAD")
    releases.tag_release(ws, "greeting", "HEAD")
    with PromptRepo(repo) as prompts:
        with pytest.raises(PromptError, match=r"greeting@v1 is a release of greeting, not of support/summarize"):
            prompts.get("support/summarize", version="greeting@v1")
        assert prompts.get("support/summarize", version="support/summarize@v1").version == "support/summarize@v1"


def test_rev_takes_environment_names_and_releases_like_the_cli(repo: Path, ws: RepoSession) -> None:
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~2", reason="launch")
    deployments.promote(ws, "support/summarize", "prod", rev="HEAD~1", reason="canary", split_percent=50)
    with PromptRepo(repo) as prompts:
        prod = prompts.get("support/summarize", rev="prod")  # during a split: the stable version
        assert prod.commit == revisions.resolve(ws, "prod", "support/summarize") == run_git(repo, "rev-parse", "HEAD~2").strip()
        assert prod.env == "prod" and prod.version == "support/summarize@v1"
        assert prompts.get("support/summarize", rev="v2").commit == revisions.resolve(ws, "v2", "support/summarize")
        assert prompts.get("support/summarize", rev="support/summarize@v2").version == "support/summarize@v2"
        with pytest.raises(RepoError, match="greeting is not deployed to prod"):
            prompts.get("greeting", rev="prod")


@pytest.mark.parametrize(
    "selector",
    [{"version": "v²"}, {"version": "²"}, {"version": "9" * 5000}, {"version": "v" + "9" * 5000}, {"version": "support/summarize@v" + "9" * 5000},
     {"version": 10**5000}, {"version": True}, {"version": 1.5}, {"version": "v1\n"}, {"rev": 5}, {"rev": b"HEAD"},
     {"rev": "HEAD\x00junk"}, {"rev": "HEAD\x1b[2J"}, {"rev": "main\t"}, {"rev": "HEAD\n"}],
)
def test_a_bad_argument_is_the_documented_error(repo: Path, ws: RepoSession, selector: dict[str, object]) -> None:
    """Raw ValueError/TypeError for `v²` (isdigit said yes, int said no), 5,000 digits or rev=5,
    and rev='HEAD\\x00junk' served HEAD (cat-file read the name up to the NUL)."""
    releases.tag_release(ws, "support/summarize", "HEAD")
    with PromptRepo(repo) as prompts, pytest.raises((PromptError, NotFound)) as raised:
        prompts.get("support/summarize", **selector)  # type: ignore[arg-type]
    assert len(str(raised.value)) < 300


def test_the_cli_refuses_control_characters_in_a_revision_by_the_same_rule(repo: Path, ws: RepoSession) -> None:
    with pytest.raises(NotFound, match="control character"):
        revisions.resolve(ws, "HEAD\x00junk", "support/summarize")
    with PromptRepo(repo) as prompts, pytest.raises(NotFound, match="control character"):
        prompts.get("support/summarize", rev="HEAD\x00junk")
    assert revisions.resolve(ws, "HEAD", "support/summarize") == run_git(repo, "rev-parse", "HEAD").strip()
