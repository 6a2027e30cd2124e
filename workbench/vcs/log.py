"""Commit history: `git log` for paths and ranges, parsed from one machine-readable call."""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.versions import CommitInfo
from workbench.errors import RepoError
from workbench.vcs.records import LOG_FORMAT, LogEntry, parse_log, parse_name_status
from workbench.vcs.runner import GitRunner


class LogCommands(GitRunner):
    def log_path(
        self, path: str, *, limit: int = 50, offset: int = 0, rev: str = "HEAD", follow: bool = True
    ) -> list[LogEntry]:
        """Commits that touched `path`, newest first: (commit, change, path then, old path).

        One `git log -z --name-status [--follow]` call, paged with --skip/-n.
        """
        args = ["log", "-z", f"--format={LOG_FORMAT}", "--name-status", f"-n{limit}", f"--skip={offset}"]
        if follow:
            args.append("--follow")
        args += [rev, "--", path]
        status, out, err = self._run_full(*args)
        if status != 0:
            if self._peel("HEAD^{commit}") is None:
                return []
            raise self._error(args, status, err)
        return parse_log(out, with_names=True)

    def log(self, *revs: str, limit: int | None = None, paths: Sequence[str] = ()) -> list[CommitInfo]:
        """Commits of revision ranges (e.g. `base..head`), optionally only those touching `paths`."""
        args = ["log", "-z", f"--format={LOG_FORMAT}"]
        if limit is not None:
            args.append(f"-n{limit}")
        args += [*revs, "--", *paths]
        return [entry[0] for entry in parse_log(self._run(*args), with_names=False)]

    def last_commit_touching(self, rev: str, paths: Sequence[str]) -> str | None:
        """The newest commit at or before `rev` that changed one of `paths` (None: none did)."""
        status, out, _ = self._run_full("log", "-n1", "--format=%H", rev, "--", *paths)
        return out.strip() or None if status == 0 else None

    def first_parent_line(self, rev: str) -> list[tuple[str, int]]:
        """(commit, committer time) along `rev`'s first-parent line, newest first ([] when `rev` is unknown)."""
        status, out, _ = self._run_full("rev-list", "--first-parent", "--format=%H %ct", "--no-commit-header", rev, "--")
        if status != 0:
            return []
        line = [row.split() for row in out.splitlines()]
        return [(parts[0], int(parts[1])) for parts in line if len(parts) == 2 and parts[1].isdigit()]

    def commit_info(self, rev: str) -> CommitInfo:
        entries = parse_log(self._run("log", "-z", f"--format={LOG_FORMAT}", "-n1", rev, "--"), with_names=False)
        if not entries:
            raise RepoError(f"unknown revision {rev!r}")
        return entries[0][0]

    def changed_files(self, base: str, head: str) -> list[tuple[str, str, str | None]]:
        """(status, path, old path) of files that differ between two commits (renames found)."""
        out = self._run("diff", "-z", "--name-status", "-M", base, head, "--")
        return parse_name_status(out.lstrip("\0").split("\0"))
