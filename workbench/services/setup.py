"""`workbench init`: a new prompt repository that validates, with one example prompt."""

from __future__ import annotations

import contextlib
import itertools
import shutil
from pathlib import Path

from workbench.core.limited_read import read_at_most
from workbench.errors import RepoError, WorkbenchError
from workbench.services.write_paths import folder_problem, write_error
from workbench.vcs.init_repo import has_commits
from workbench.vcs.init_repo import init_repository as git_init

EXAMPLE_PROMPT = """\
# yaml-language-server: $schema=https://prompt-workbench.dev/schema/prompt.schema.json
description: Greet a new user by name
owner: you
inputs:
  user_name: {type: string, required: true}
messages:
  - role: system
    content: You write one short, friendly greeting.
  - role: user
    content: "Greet {{ user_name }}, who just signed up."
tests:
  - description: uses the name
    vars: {user_name: Ada}
    assert:
      - type: contains
        value: Ada
"""

CONFIG = """\
# Prompt Workbench settings (all optional).
environments: [dev, staging, prod]
main_branch: main
model:
  provider: echo            # openai | local | echo | python:module:function
  # name: gpt-4o-mini
  # api_key_env: OPENAI_API_KEY
concurrency: 8
"""

GITIGNORE = ".workbench/\n"
MAX_GITIGNORE_BYTES = 16 * 1024 * 1024  # past it, the line is added again: harmless
_HINT = "create the repository in a folder that can be written"


def init_repository(directory: Path) -> Path:
    """Create prompts/, workbench.yaml, .gitignore and an example prompt, then commit.

    Raises:
        WorkbenchError: the folder already holds a prompt repository, or cannot be written.
        RepoError: it is a Git repository already; Git could not commit (nothing is left then).
    """
    root = Path(directory).resolve()
    again = _unfinished(root)
    if not again and ((root / "prompts").exists() or (root / "workbench.yaml").exists()):
        raise WorkbenchError(f"{root} already holds a prompt repository", hint="open it with `workbench -C PATH`")
    problem = folder_problem(root)
    if problem is not None:  # before anything is made
        raise WorkbenchError(f"cannot write {directory}: {problem}", hint=_HINT)
    if not again and (root / ".git").exists():  # said after writing its files, which were then left there
        raise RepoError(f"{root} is already a Git repository", hint="workbench init makes a new one: give a new folder")
    gitignore = root / ".gitignore"
    ignored_before = read_at_most(gitignore, MAX_GITIGNORE_BYTES, regular_only=True) if gitignore.exists() else None
    made_root = not root.exists()
    made_git = not (root / ".git").exists()
    try:
        _write_files(root, gitignore, ignored_before)
        git_init(root, "Initial prompt repository", again=not made_git)
    except Exception:  # no Git identity, a failed commit, a full disk: nothing made is left
        # (a second init refused: "already holds a prompt repository"). Not Ctrl-C: the first
        # commit finishes under it (`vcs/detached.py`), and the init with it.
        shutil.rmtree(root / "prompts", ignore_errors=True)
        if made_git:
            shutil.rmtree(root / ".git", ignore_errors=True)
        (root / "workbench.yaml").unlink(missing_ok=True)
        if ignored_before is None:
            gitignore.unlink(missing_ok=True)
        else:
            gitignore.write_bytes(ignored_before)
        if made_root:
            with contextlib.suppress(OSError):
                root.rmdir()
        raise
    return root


def _unfinished(root: Path) -> bool:
    """Whether the folder holds what an init killed before its first commit left (`kill -9`,
    SIGTERM, a power cut: nothing could clean up): init's own files, whole or cut short, and
    a `.git` with no commit, or none. A second init finishes it; it refused ("already holds a
    prompt repository") a repository with no commit. The walk ends at the first entry init
    would not have made (a link is one: it is never followed)."""
    made = {root / "prompts": None, root / "prompts" / "example": None, root / "prompts" / "example" / "greeting.yaml": EXAMPLE_PROMPT}
    prompts, config = root / "prompts", root / "workbench.yaml"
    try:
        if prompts.is_symlink() or (not prompts.is_dir() and not config.exists()):
            return False
        if config.exists():
            made[config] = CONFIG
        walked = itertools.chain([prompts], prompts.rglob("*")) if prompts.exists() else iter(())
        for path in itertools.chain(walked, [config] if config.exists() else []):
            if path not in made or path.is_symlink() or (made[path] is None) != path.is_dir():
                return False
            text = made[path]
            if text is not None and not text.startswith(read_at_most(path, len(text), regular_only=True).decode("utf-8", "replace")):
                return False
    except (OSError, WorkbenchError):
        return False
    return not has_commits(root)


def _write_files(root: Path, gitignore: Path, ignored_before: bytes | None) -> None:
    try:
        (root / "prompts" / "example").mkdir(parents=True, exist_ok=True)  # exists when an unfinished init is finished
        (root / "prompts" / "example" / "greeting.yaml").write_text(EXAMPLE_PROMPT, encoding="utf-8")
        (root / "workbench.yaml").write_text(CONFIG, encoding="utf-8")
        if ignored_before is None or b".workbench/" not in ignored_before:
            with gitignore.open("a", encoding="utf-8") as handle:
                handle.write(GITIGNORE)
    except OSError as err:  # the folder (or the file) the system names, when it names one
        raise write_error(err.filename or root, err, _HINT) from None
