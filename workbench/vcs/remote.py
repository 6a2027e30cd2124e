"""Remotes and notes: push, fetch, remote tag listing, and the workbench notes ref."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from workbench.core.versions import RefUpdate
from workbench.vcs.records import RemoteTag, parse_ls_remote_tags, parse_push_porcelain
from workbench.vcs.runner import GitRunner


class RemoteCommands(GitRunner):
    def remote_url(self, remote: str = "origin") -> str | None:
        return self.config_value(f"remote.{remote}.url")

    def remotes(self) -> list[str]:
        """The names of the repository's remotes (`git remote`)."""
        return self._run("remote").split()

    def push(self, remote: str, refspecs: Sequence[str]) -> tuple[bool, list[RefUpdate], str]:
        """Push `refspecs` (never forced): (succeeded, each ref's update, git's stderr)."""
        status, out, err = self._run_full("push", "--porcelain", "--", remote, *refspecs)
        return status == 0, parse_push_porcelain(out), err

    def fetch(self, remote: str, refspecs: Sequence[str]) -> tuple[bool, str]:
        """Fetch `refspecs` from `remote`: (succeeded, git's stderr)."""
        status, _out, err = self._run_full("fetch", "--no-write-fetch-head", "--", remote, *refspecs)
        return status == 0, err

    def remote_tags(self, remote: str) -> dict[str, RemoteTag] | None:
        """Tag name -> its object and commit on the remote; None when the remote cannot be reached."""
        status, out, _err = self._answer("ls-remote", "--tags", "--", remote)
        return parse_ls_remote_tags(out) if status == 0 else None

    def set_upstream(self, branch: str, remote: str) -> None:
        self.set_config(f"branch.{branch}.remote", remote)
        self.set_config(f"branch.{branch}.merge", f"refs/heads/{branch}")

    # ----------------------------------------------------------------- notes
    def notes_append(self, ref: str, commit: str, text: str) -> None:
        """Append `text` verbatim to the note of `commit` under refs/notes/<ref>."""
        self.check_writable()
        self._run("notes", f"--ref={ref}", "append", "-F", "-", commit, stdin=text)

    def notes_for(self, ref: str, commits: Iterable[str]) -> dict[str, str]:
        """Note text per commit, from one `notes list` plus the batch object reader."""
        wanted = set(commits)
        status, out, _ = self._answer("notes", f"--ref={ref}", "list")
        if status != 0:
            return {}
        result: dict[str, str] = {}
        for line in out.splitlines():
            blob, _, annotated = line.partition(" ")
            if annotated in wanted:
                found = self.read_object(blob)
                if found is not None and found[1] == "blob":
                    result[annotated] = found[2].decode("utf-8", "replace")
        return result

    def notes_merge(self, ref: str, other: str) -> None:
        """Merge another notes ref into ours, keeping every line of both (`cat_sort_uniq`)."""
        self._run("notes", f"--ref={ref}", "merge", "-q", "-s", "cat_sort_uniq", other)
