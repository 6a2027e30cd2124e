"""Shapes of git command lines: which ones write (a read-only session refuses them in
`GitRunner._start`), and literal pathspecs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# Git subcommands that change refs, the index, the working copy, the configuration or a cache
# under `.git` (the commit-graph).
WRITING_COMMANDS = frozenset(
    {
        "tag", "branch", "push", "fetch", "pull", "add", "rm", "mv", "commit", "stash", "switch", "checkout", "restore",
        "merge", "rebase", "cherry-pick", "revert", "reset", "update-ref", "update-index", "gc", "commit-graph",
        "maintenance", "repack", "prune", "pack-refs", "worktree",
    }
)


def writes(args: Sequence[str]) -> bool:
    if not args:
        return False
    command = args[0]
    if command == "notes":
        return not any(a in ("list", "show") for a in args[1:])
    if command == "config":
        return "--get" not in args
    if command == "tag":  # `tag --list` only lists (its first argument: a message could read "-l")
        return len(args) < 2 or args[1] not in ("-l", "--list")
    if command in ("commit-graph", "worktree"):
        return not any(a in ("verify", "list") for a in args[1:])
    return command in WRITING_COMMANDS


def literal(paths: Iterable[str]) -> list[str]:
    """Pathspecs naming exactly `paths`. Git reads `*`, `?` and `[...]` in a pathspec as a
    pattern: the history of a prompt named `[ab]c` listed the commits of `ac` too, and
    `workbench commit '*'` committed every changed file."""
    return [f":(literal){path}" for path in paths]
