"""Helpers for the Git-layer tests: prompt texts and real git calls (never mocked)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SUMMARIZE = """\
description: Summarise a support ticket
model:
  provider: echo
inputs:
  ticket: {type: string, required: true}
messages:
  - role: system
    content: You summarise support tickets in a neutral tone.
  - role: user
    content: "Ticket: {{ ticket }}"
tests:
  - description: refund request is flagged
    vars: {ticket: I want my money back}
    assert:
      - type: icontains
        value: money
"""

GREETING = """\
description: Greet a user
model:
  provider: echo
inputs:
  user: {type: string, required: true}
messages:
  - role: user
    content: "Say hello to {{ user }}"
"""

INVALID = "description: broken\nmessages: [unclosed\n"


def run_git(cwd: Path, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> str:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, env=full_env, input=stdin).stdout


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def commit_all(root: Path, message: str) -> str:
    run_git(root, "add", "-A")
    run_git(root, "commit", "-q", "-m", message)
    return run_git(root, "rev-parse", "HEAD").strip()


def object_path(root: Path, spec: str) -> tuple[str, Path]:
    """(id, loose file) of the object `spec` names (the test repositories are never packed)."""
    sha = run_git(root, "rev-parse", spec).strip()
    return sha, root / ".git" / "objects" / sha[:2] / sha[2:]


def delete_object(root: Path, spec: str) -> str:
    """Delete the loose object `spec` names, as a failed disk or a careless `rm` would; its id."""
    sha, path = object_path(root, spec)
    path.unlink()
    return sha


def corrupt_object(root: Path, spec: str) -> str:
    """Overwrite the loose object `spec` names with bytes that do not inflate; its id."""
    sha, path = object_path(root, spec)
    path.chmod(0o644)
    path.write_bytes(b"not zlib at all")
    return sha


def damage_object(root: Path, spec: str, how: str) -> str:
    """`delete_object` (how="deleted") or `corrupt_object` (how="corrupt")."""
    return delete_object(root, spec) if how == "deleted" else corrupt_object(root, spec)


def pre_commit_hook_in_new_repositories(folder: Path, script: str) -> dict[str, str]:
    """A Git template folder under `folder` whose pre-commit hook runs `script`: the environment
    (`GIT_TEMPLATE_DIR`) under which `git init` copies the hook into every repository it makes."""
    hook = folder / "templates" / "hooks" / "pre-commit"
    hook.parent.mkdir(parents=True)
    hook.write_text(script)
    hook.chmod(0o755)
    return {"GIT_TEMPLATE_DIR": str(folder / "templates")}


def record_processes(session: object) -> list[tuple[str, ...]]:
    """The arguments of every git process `session.store` starts from now on, in order (the
    list is live: clear it between steps)."""
    started: list[tuple[str, ...]] = []
    store = session.store  # type: ignore[attr-defined]
    start = store._start

    def counted(*args: str, stdin: str | None = None) -> object:
        started.append(args)
        return start(*args, stdin=stdin)

    store._start = counted
    return started
