"""Branch names the revision grammar reads as something else.

`workbench branch prod` made a branch that `diff NAME HEAD prod` never showed (prod is an
environment), `WORKTREE` the working copy, `v1` a release, a local `origin/main` shadowed the
remote-tracking branch in `workbench merge origin/main`. Creating such a name is refused, in the
service the CLI and the app both call; one that already exists (made by plain git) is named as
ambiguous wherever it is read as a revision, never silently taken for one of its meanings.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import GREETING, SUMMARIZE, commit_all, run_git, write

from workbench.cli import run_app
from workbench.errors import PromptError, RepoError
from workbench.services.branches import create_branch
from workbench.services.session import RepoSession


def cli(capsys: pytest.CaptureFixture[str], repo: Path, *args: str) -> tuple[int, str, str]:
    code = run_app(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def branches(repo: Path) -> set[str]:
    return set(run_git(repo, "for-each-ref", "--format=%(refname:strip=2)", "refs/heads/").split())


def with_origin(repo: Path) -> None:
    run_git(repo.parent, "init", "-q", "--bare", "origin.git")
    run_git(repo, "remote", "add", "origin", str(repo.parent / "origin.git"))
    run_git(repo, "push", "-q", "origin", "main")
    run_git(repo, "fetch", "-q", "origin")


RESERVED = [
    ("prod", "environment"),
    ("staging", "environment"),
    ("WORKTREE", "working copy"),
    ("v1", "release"),
    ("v12", "release"),
    ("greeting@v2", "release"),
    ("support/summarize@v1", "release"),
    ("@", "HEAD"),
    ("FETCH_HEAD", "Git"),
    ("ORIG_HEAD", "Git"),
    ("refs/heads/x", "refs/"),
    ("heads/x", "refs/heads/x"),
    ("tags/x", "refs/tags/x"),
    ("origin/main", "remote"),
    ("origin/feature", "remote"),
]


@pytest.mark.parametrize(("name", "why"), RESERVED)
def test_branch_refuses_a_name_the_revision_grammar_reads_otherwise(
    repo: Path, capsys: pytest.CaptureFixture[str], name: str, why: str
) -> None:
    with_origin(repo)
    code, out, err = cli(capsys, repo, "branch", name)
    assert code == 2, out
    lines = err.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"workbench: repository error: cannot create branch {name!r}: "), err
    assert why in lines[0]
    assert lines[1].startswith("  hint: ") and "name it" in lines[1]
    assert branches(repo) == {"main"}


def test_the_suggested_name_is_one_the_branch_command_takes(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("prod", "v1", "greeting@v2", "origin/main", "refs/heads/x", "WORKTREE"):
        _code, _out, err = cli(capsys, repo, "branch", name)
        suggested = err.split("e.g. ", 1)[1].split()[0].strip("`")
        assert cli(capsys, repo, "branch", suggested)[0] == 0, (name, suggested)
        assert suggested in branches(repo)


def test_the_service_refuses_them_for_the_app_too(ws: RepoSession) -> None:
    for name in ("prod", "WORKTREE", "v3", "greeting@v1", "@", "refs/heads/x"):
        with pytest.raises(RepoError, match="cannot create branch"):
            create_branch(ws, name)
    assert [b.name for b in ws.store.branches()] == ["main"]


def test_a_name_that_is_a_tag_is_refused(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_git(repo, "tag", "-a", "-m", "release", "greeting-launch")
    code, _out, err = cli(capsys, repo, "branch", "greeting-launch")
    assert code == 2 and "a tag of that name" in err
    assert branches(repo) == {"main"}


def test_git_branch_shorthands_are_not_taken_for_other_names(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_git(repo, "switch", "-q", "-c", "other")
    run_git(repo, "switch", "-q", "main")
    code, _out, err = cli(capsys, repo, "branch", "@{-1}")
    assert code == 2 and "not a valid branch name" in err
    assert branches(repo) == {"main", "other"}


@pytest.mark.parametrize("name", ["feature/prod", "prod-fix", "v1-notes", "x/v1", "work/WORKTREE", "origin-main", "upstream/x", "head"])
def test_ordinary_names_are_still_created(repo: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    with_origin(repo)
    code, out, err = cli(capsys, repo, "branch", name)
    assert code == 0, err
    assert f"created branch {name} at" in out
    assert name in branches(repo)


def test_the_environments_are_those_of_workbench_yaml(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(repo, "workbench.yaml", "environments: [qa, live]\n")
    commit_all(repo, "Two environments")
    code, _out, err = cli(capsys, repo, "branch", "live")
    assert code == 2 and "environment" in err
    assert cli(capsys, repo, "branch", "prod")[0] == 0


def test_any_existing_remote_is_reserved(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_git(repo, "remote", "add", "upstream", str(repo.parent / "elsewhere.git"))
    code, _out, err = cli(capsys, repo, "branch", "upstream/main")
    assert code == 2 and "remote" in err
    # origin is the remote workbench push and fetch use: reserved before it is added
    code, _out, err = cli(capsys, repo, "branch", "origin/main")
    assert code == 2 and "remote" in err


# ------------------------------------------------------------------ such a branch made by plain git


def _branch_prod_and_deployment(repo: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """A branch `prod` (by plain git) one commit ahead of main, and greeting deployed to prod."""
    run_git(repo, "switch", "-q", "-c", "prod")
    write(repo, "prompts/greeting.yaml", GREETING + "# change on branch prod\n")
    tip = commit_all(repo, "work on branch prod")
    run_git(repo, "switch", "-q", "main")
    assert cli(capsys, repo, "promote", "greeting", "--env", "prod", "-m", "first")[0] == 0
    return tip


def test_an_existing_branch_named_like_an_environment_is_ambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tip = _branch_prod_and_deployment(repo, capsys)
    code, out, err = cli(capsys, repo, "diff", "greeting", "HEAD", "prod")
    assert code == 2 and "no differences" not in out
    assert "'prod' is ambiguous: the environment prod and the branch prod" in err
    assert "refs/heads/prod" in err and "greeting@v1" in err  # how to write either meaning
    code, out, _ = cli(capsys, repo, "diff", "greeting", "HEAD", "refs/heads/prod", "--unified")
    assert code == 0 and "+# change on branch prod" in out
    code, out, _ = cli(capsys, repo, "diff", "greeting", "HEAD", "greeting@v1")
    assert code == 0 and "no differences" in out
    code, _out, err = cli(capsys, repo, "test", "--all", "--rev", "prod", "--provider", "echo")
    assert code == 2 and "'prod' is ambiguous" in err
    # `branch --from prod`: said "'prod' is an environment: name a prompt ..." (no prompt can be named there)
    code, _out, err = cli(capsys, repo, "branch", "y", "--from", "prod")
    assert code == 2 and "ambiguous" in err and "name a prompt" not in err
    assert cli(capsys, repo, "branch", "y", "--from", "refs/heads/prod")[0] == 0
    assert run_git(repo, "rev-parse", "refs/heads/y").strip() == tip


def test_branch_from_an_environment_says_why_it_cannot(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _out, err = cli(capsys, repo, "branch", "y", "--from", "staging")
    assert code == 2
    assert "name a prompt" not in err and "environment" in err and "one commit" in err
    assert branches(repo) == {"main"}


def test_existing_worktree_and_release_like_branches_are_ambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, repo, "tag", "greeting")[0] == 0  # greeting@v1 at HEAD
    run_git(repo, "branch", "WORKTREE", "HEAD~1")
    run_git(repo, "branch", "v1", "HEAD~2")
    run_git(repo, "branch", "greeting@v1", "HEAD~2")
    for rev in ("WORKTREE", "v1", "greeting@v1"):
        code, _out, err = cli(capsys, repo, "diff", "greeting", "HEAD", rev)
        assert code == 2 and f"{rev!r} is ambiguous" in err and f"refs/heads/{rev}" in err, (rev, err)
    for args in (("compare", "support/summarize", "HEAD", "WORKTREE"), ("test", "--all", "--rev", "WORKTREE")):
        code, _out, err = cli(capsys, repo, *args, "--provider", "echo")
        assert code == 2 and "'WORKTREE' is ambiguous: the working copy and the branch WORKTREE" in err, (args, err)
    # With no prompt in question `v1` is only a Git revision: the branch
    assert cli(capsys, repo, "branch", "y", "--from", "v1")[0] == 0


def test_a_local_branch_shadowing_a_remote_one_is_ambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_origin(repo)
    run_git(repo, "branch", "origin/main", "HEAD~1")  # plain git allows it
    before = run_git(repo, "rev-parse", "HEAD").strip()
    code, _out, err = cli(capsys, repo, "merge", "origin/main")
    assert code == 2 and "'origin/main' is ambiguous" in err
    assert "refs/remotes/origin/main" in err and "refs/heads/origin/main" in err
    code, _out, err = cli(capsys, repo, "diff", "greeting", "origin/main")
    assert code == 2 and "ambiguous" in err
    assert cli(capsys, repo, "merge", "refs/remotes/origin/main")[0] == 0
    assert run_git(repo, "rev-parse", "HEAD").strip() == before


def test_head_keeps_gits_meaning(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_git(repo, "update-ref", "refs/heads/HEAD", "HEAD~2")  # git branch refuses the name; update-ref does not
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "HEAD~1", "HEAD", "--unified")
    assert code == 0 and "+    content: You summarise support tickets in a calm tone." in out


def test_the_runtime_says_ambiguous_too(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from workbench import PromptRepo

    tip = _branch_prod_and_deployment(repo, capsys)
    prompts = PromptRepo(repo)
    try:
        with pytest.raises(PromptError, match="'prod' is ambiguous"):
            prompts.get("greeting", rev="prod")
        assert prompts.get("greeting", env="prod").version == "greeting@v1"
        assert prompts.get("greeting", rev="refs/heads/prod").commit == tip
    finally:
        prompts.close()


def test_a_branch_named_working_is_that_branch_in_compare_too(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The working copy is written `WORKTREE` (or left out) by every command; `compare` alone also
    took `working` for it, so a branch `working` (a name `workbench branch` takes) was never
    compared there, while `diff` and `test --rev` read it as the branch."""
    assert cli(capsys, repo, "branch", "working", "--from", "HEAD~2")[0] == 0
    write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", "terse"))  # the working copy differs
    code, out, err = cli(capsys, repo, "compare", "support/summarize", "HEAD", "working", "--provider", "echo")
    assert code in (0, 1), err
    assert "B = working" in out and "B = working copy" not in out
    code, out, err = cli(capsys, repo, "compare", "support/summarize", "HEAD", "WORKTREE", "--provider", "echo")
    assert code in (0, 1) and "B = working copy" in out, err
    code, out, err = cli(capsys, repo, "compare", "support/summarize", "HEAD", "--provider", "echo")
    assert code in (0, 1) and "B = working copy" in out, err


# ------------------------------------------------------------------ a tag made later with a branch's name


def _branch_and_tag_foo(repo: Path) -> tuple[str, str]:
    """A branch `foo` at HEAD~2, then a tag `foo` at HEAD (plain git allows both): their commits."""
    run_git(repo, "branch", "foo", "HEAD~2")
    run_git(repo, "tag", "-a", "-m", "a tag", "foo", "HEAD")
    return run_git(repo, "rev-parse", "refs/heads/foo").strip(), run_git(repo, "rev-parse", "refs/tags/foo^{commit}").strip()


def test_a_tag_with_a_branchs_name_is_ambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Git reads `foo` as the tag (with a warning on its stderr, unseen here): every command read
    the tag in silence, where a branch made with a tag's name is refused."""
    branch, tag = _branch_and_tag_foo(repo)
    for args in (("diff", "support/summarize", "HEAD", "foo"), ("test", "support/summarize", "--rev", "foo", "--provider", "echo"), ("branch", "y", "--from", "foo"), ("merge", "foo")):
        code, _out, err = cli(capsys, repo, *args)
        assert code == 2 and "'foo' is ambiguous: the tag foo and the branch foo" in err, (args, err)
        assert "refs/heads/foo" in err and "refs/tags/foo" in err, err
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "refs/heads/foo", "refs/tags/foo", "--unified")
    assert code == 0 and "+    content: You summarise support tickets in a calm tone." in out
    assert cli(capsys, repo, "branch", "y", "--from", "refs/heads/foo")[0] == 0
    assert run_git(repo, "rev-parse", "refs/heads/y").strip() == branch != tag


def test_the_service_and_the_runtime_say_ambiguous_for_a_tag_too(repo: Path, ws: RepoSession) -> None:
    from workbench import PromptRepo
    from workbench.errors import AmbiguousRevision
    from workbench.services.revisions import target

    _branch, tag = _branch_and_tag_foo(repo)
    with pytest.raises(AmbiguousRevision, match="'foo' is ambiguous: the tag foo"):
        target(ws, "support/summarize", "foo")
    assert target(ws, "support/summarize", "refs/tags/foo").commit == tag
    prompts = PromptRepo(repo)
    try:
        with pytest.raises(PromptError, match="'foo' is ambiguous"):
            prompts.get("support/summarize", rev="foo")
    finally:
        prompts.close()


def test_release_and_deployment_tags_stay_unambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Tags named as PRODUCT.md names them (`<name>@v<N>`, `v<N>` by plain git, `deploy/...`) beside
    no branch of that name are read as they were."""
    assert cli(capsys, repo, "tag", "greeting")[0] == 0
    run_git(repo, "tag", "v7", "HEAD~1")
    assert cli(capsys, repo, "promote", "greeting", "--env", "prod", "-m", "first")[0] == 0
    (event,) = run_git(repo, "tag", "--list", "deploy/*").split()
    for rev in ("greeting@v1", "v1", "v7", event, "prod"):
        code, _out, err = cli(capsys, repo, "diff", "greeting", "HEAD", rev)
        assert code == 0, (rev, err)
    run_git(repo, "branch", "main-copy")  # an ordinary branch beside them changes nothing
    assert cli(capsys, repo, "diff", "greeting", "main-copy", "v1")[0] == 0


# ------------------------------------------------------------------ a plain tag named like an environment


def test_a_plain_tag_named_like_an_environment_is_ambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`git tag prod` (not made by the workbench): `prod` as a revision was read as the environment
    in silence, while a tag beside a branch of its name is ambiguous."""
    from workbench import PromptRepo

    assert cli(capsys, repo, "promote", "support/summarize", "--env", "prod", "-m", "first")[0] == 0
    run_git(repo, "tag", "prod", "HEAD~2")
    for args in (("diff", "support/summarize", "HEAD", "prod"), ("test", "support/summarize", "--rev", "prod", "--provider", "echo"), ("branch", "y", "--from", "prod")):
        code, _out, err = cli(capsys, repo, *args)
        assert code == 2 and "'prod' is ambiguous: the environment prod and the tag prod" in err, (args, err)
        assert "refs/tags/prod" in err, err
    _code, _out, err = cli(capsys, repo, "diff", "support/summarize", "HEAD", "prod")
    assert "support/summarize@v1 for the environment prod" in err  # how to write what prod runs
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "refs/tags/prod", "HEAD", "--unified")
    assert code == 0 and "+    content: You summarise support tickets in a calm tone." in out
    code, out, _ = cli(capsys, repo, "diff", "support/summarize", "support/summarize@v1", "HEAD")
    assert code == 0 and "no differences" in out
    prompts = PromptRepo(repo)
    try:
        with pytest.raises(PromptError, match="'prod' is ambiguous: the environment prod and the tag prod"):
            prompts.get("support/summarize", rev="prod")
        assert prompts.get("support/summarize", env="prod").version == "support/summarize@v1"
    finally:
        prompts.close()


@pytest.mark.parametrize("suffix", ["~1", "^", "^1", "~1^"])
def test_revision_expressions_on_an_ambiguous_name_are_ambiguous_too(repo: Path, capsys: pytest.CaptureFixture[str], suffix: str) -> None:
    """`foo~1` beside a branch and a tag `foo`: Git reads the tag's, in silence, as it does `foo`."""
    _branch_and_tag_foo(repo)
    code, _out, err = cli(capsys, repo, "diff", "support/summarize", "HEAD", f"foo{suffix}")
    assert code == 2 and f"'foo{suffix}' is ambiguous: the tag foo and the branch foo" in err, err
    assert f"refs/heads/foo{suffix}" in err and f"refs/tags/foo{suffix}" in err, err
    assert cli(capsys, repo, "diff", "support/summarize", "HEAD", f"refs/tags/foo{suffix}")[0] == 0


def test_expressions_on_an_environment_or_a_shadowed_remote_branch_are_ambiguous(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _branch_prod_and_deployment(repo, capsys)
    code, _out, err = cli(capsys, repo, "diff", "greeting", "HEAD", "prod~1")
    assert code == 2 and "'prod~1' is ambiguous: the environment prod and the branch prod" in err, err
    assert "refs/heads/prod~1" in err and "greeting@v1~1 for the environment prod" in err, err
    assert cli(capsys, repo, "diff", "greeting", "HEAD", "refs/heads/prod~1")[0] == 0
    with_origin(repo)
    run_git(repo, "branch", "origin/main", "HEAD~1")
    code, _out, err = cli(capsys, repo, "diff", "support/summarize", "HEAD", "origin/main^")
    assert code == 2 and "'origin/main^' is ambiguous" in err and "refs/remotes/origin/main^" in err, err
    assert cli(capsys, repo, "diff", "support/summarize", "HEAD", "main~1")[0] == 0  # no clash: as before
