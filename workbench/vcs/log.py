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

        Renames are followed like `git log --follow`, but segment by segment: a plain
        `git log -- <path>` (which the commit-graph's changed-path Bloom filters make cheap on
        a big repository) until the commit that added the file, then one `diff-tree -M` of that
        commit to learn whether it was a rename, and on with the old path. `--follow` itself
        diffs every commit of the history. Copies are not followed (a prompt created as a copy
        of another does not inherit that one's history).
        """
        wanted = offset + limit
        entries: list[LogEntry] = []
        current, since = path, rev
        while len(entries) < wanted:
            batch = self._log_segment(current, since, wanted - len(entries))
            entries += batch
            if not follow or len(batch) >= wanted - (len(entries) - len(batch)) or not batch:
                break
            info, change, entry_path, _old = batch[-1]
            old = self.renamed_from(info.sha, entry_path or current) if change == "A" else None
            if old is None:
                break
            entries[-1] = (info, "R", entry_path or current, old)
            current, since = old, f"{info.sha}^"
        return entries[offset:wanted]

    def _log_segment(self, path: str, rev: str, limit: int) -> list[LogEntry]:
        args = ["log", "-z", f"--format={LOG_FORMAT}", "--name-status", f"-n{limit}", rev, "--", path]
        status, out, err = self._run_full(*args)
        if status != 0:
            if self._peel("HEAD^{commit}") is None or rev.endswith("^"):
                return []  # an empty repository, or the root commit has no parent to go on from
            raise self._error(args, status, err)
        return parse_log(out, with_names=True)

    def renamed_from(self, commit: str, path: str) -> str | None:
        """The path `path` had before `commit`, when that commit renamed it (else None)."""
        status, out, _ = self._run_full("diff-tree", "-M", "-r", "-z", "--name-status", "--no-commit-id", f"{commit}^", commit)
        if status != 0:
            return None  # a root commit: nothing before it
        for change, new, old in parse_name_status(out.lstrip("\0").split("\0")):
            if change == "R" and new == path:
                return old
        return None

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

    def commit_info(self, rev: str) -> CommitInfo:
        entries = parse_log(self._run("log", "-z", f"--format={LOG_FORMAT}", "-n1", rev, "--"), with_names=False)
        if not entries:
            raise RepoError(f"unknown revision {rev!r}")
        return entries[0][0]

    def changed_files(self, base: str, head: str) -> list[tuple[str, str, str | None]]:
        """(status, path, old path) of files that differ between two commits (renames found)."""
        out = self._run("diff", "-z", "--name-status", "-M", base, head, "--")
        return parse_name_status(out.lstrip("\0").split("\0"))
