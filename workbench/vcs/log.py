"""Commit history: `git log` for paths and ranges, parsed from one machine-readable call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from workbench.core.versions import CommitInfo
from workbench.errors import NotFound
from workbench.vcs.deferred import Deferred
from workbench.vcs.git_commands import literal
from workbench.vcs.reads import ReadCommands
from workbench.vcs.records import LOG_FORMAT, REC, LogEntry, parse_log, parse_name_status


class LogCommands(ReadCommands):
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
            old = self.renamed_from(info.sha, entry_path or current) if change == "A" and info.parents else None
            if old is None:
                break
            entries[-1] = (info, "R", entry_path or current, old)
            current, since = old, f"{info.sha}^"
        return entries[offset:wanted]

    def _log_segment(self, path: str, rev: str, limit: int) -> list[LogEntry]:
        args = ["log", "-z", f"--format={LOG_FORMAT}", "--name-status", f"-n{limit}", rev, "--", *literal([path])]
        status, out, err = self._read_answer(*args, revs=[rev], reading=f"the history of {path} at {rev}")
        if status != 0:  # `rev` names nothing (damage raised above)
            if self._head_commit() is None or rev.endswith("^"):
                return []  # an empty repository, or the root commit has no parent to go on from
            raise self._error(args, status, err)
        return parse_log(out, with_names=True)

    def log_branches_later(self, paths: Sequence[str], *, limit: int = 200, offset: int = 0) -> Deferred[list[LogEntry]]:
        """Commits of every local and remote-tracking branch that touched `paths`, newest first
        in topological order, with parents rewritten to the commits listed (`--parents`), so
        that forks and merges can be drawn (`core.graph`), in a process started now (collect
        with `.result()`). `--full-history` keeps the merges that brought a change in; merges
        that joined nothing of these paths (one parent left after rewriting) are dropped here
        and their children linked to what they pointed at."""
        args = ["log", "-z", f"--format={LOG_FORMAT}", "--name-status", "--parents", "--topo-order", "--full-history"]
        args += ["--branches", "--remotes"]
        args += [f"-n{limit}", f"--skip={offset}", "--", *literal(paths)]
        reading = f"the history of {', '.join(paths)} on every branch"

        def check(status: int, err: str) -> None:
            self._check_read(args, status, err, ["HEAD"], reading)
            if self._head_commit() is not None:  # git failed on a repository with commits
                raise self._error(args, status, err)

        return Deferred(self._start(*args), lambda out: _without_empty_merges(parse_log(out, with_names=True)), check)

    def newest_touching(self, refs: Sequence[str], paths: Sequence[str]) -> dict[str, str]:
        """For each ref, the newest commit it contains that changed `paths` or merged such a
        change in (as `log_branches_later` lists them); refs without one are left out."""
        found = {}
        for ref in refs:
            args = ["log", "-z", f"--format={LOG_FORMAT}", "--name-status", "--parents", "--full-history", "-n20", ref, "--", *literal(paths)]
            status, out, _err = self._read_answer(*args, revs=[ref], reading=f"the history of {', '.join(paths)} on {ref}")
            entries = _without_empty_merges(parse_log(out, with_names=True)) if status == 0 else []
            commit = entries[0][0].sha if entries else self.last_commit_touching(ref, paths)
            if commit:
                found[ref] = commit
        return found

    def merges(self, branch: str, paths: Sequence[str], *, since: int | None = None, limit: int = 200) -> list[tuple[CommitInfo, list[str]]]:
        """Merge commits on `branch`'s first-parent line that changed `paths`, with the files they changed."""
        args = ["log", "-z", f"--format={LOG_FORMAT}", "--merges", "--first-parent", "--name-only", "-m", f"-n{limit}"]
        if since is not None:
            args.append(f"--since=@{since}")
        args += [branch, "--", *literal(paths)]
        status, out, _err = self._read_answer(*args, revs=[branch], reading=f"the merges of {branch}")
        if status != 0:
            return []  # no such branch
        merges: list[tuple[CommitInfo, list[str]]] = []
        for record in out.split(REC):
            fields = record.split("\0")
            if len(fields) < 9 or not fields[0].strip("\n"):
                continue
            info = parse_log(REC + record, with_names=False)[0][0]
            files = [f.strip("\n") for f in fields[8:] if f.strip("\n")]
            if not merges or merges[-1][0].sha != info.sha:
                merges.append((info, files))
        return merges

    def last_commits_touching(self, commits: Sequence[str], oldest: str, paths: Sequence[str]) -> dict[str, str | None]:
        """`last_commit_touching` of many commits at once, for those whose answer is `oldest` or
        newer: the answers older than it (reached through an ancestor of `oldest`) are left out.

        git's rule (`git log -n1 <commit> -- <paths>`, history simplification): going back from
        the commit, a commit with one parent is the answer when it changed `paths`; a merge
        whose files are the same as one of its parents' (the first such one: an "ours" merge,
        or one that took the other side's version) leads on to that parent only, and a merge
        whose files differ from every parent's is the answer itself. One `rev-list --parents`
        of the range and one `rev-list -- <paths>` of it beside it (which commits changed the
        paths); the files of the merges met are compared through the persistent `cat-file`.
        A merge's files are compared by their blobs (a change of mode alone is not seen).
        """
        changing = self._touching_between_later(commits, oldest, paths)
        graph = self._parents_between(commits, oldest)
        changed = changing.result()
        known: dict[str, str | None] = {}  # commit -> its answer (OLDER: older than `oldest`)
        for commit in commits:
            chain, sha = [], commit
            while sha not in known:
                chain.append(sha)
                parents = graph.get(sha)
                if parents is None:  # an ancestor of `oldest`'s parents
                    known[sha] = _OLDER
                elif len(parents) > 1:
                    follow = self._parent_with_same_files(sha, parents, paths)
                    if follow is None:
                        known[sha] = sha
                    else:
                        sha = follow
                elif sha in changed:
                    known[sha] = sha
                elif not parents:  # a root commit that did not add them
                    known[sha] = None
                else:
                    sha = parents[0]
            for passed in chain:
                known[passed] = known[sha]
        return {commit: known[commit] for commit in commits if known[commit] != _OLDER}

    def _parent_with_same_files(self, merge: str, parents: Sequence[str], paths: Sequence[str]) -> str | None:
        def files(rev: str) -> list[str | None]:
            return [found[0] if (found := self._header(f"{rev}:{path}")) is not None and found[1] == "blob" else None for path in paths]

        mine = files(merge)
        return next((parent for parent in parents if files(parent) == mine), None)

    def _parents_between(self, heads: Sequence[str], oldest: str) -> dict[str, tuple[str, ...]]:
        """The parents of every commit reachable from `heads` but not from `oldest`'s parents
        (`oldest` included), in one `rev-list --parents`."""
        stdin = "\n".join([*heads, f"^{oldest}^@"]) + "\n"
        out = self._read("rev-list", "--parents", "--stdin", stdin=stdin, revs=[*heads, oldest], reading="the history of the tags")
        graph: dict[str, tuple[str, ...]] = {}
        for line in out.splitlines():
            sha, *parents = line.split()
            graph[sha] = tuple(parents)
        return graph

    def _touching_between_later(self, heads: Sequence[str], oldest: str, paths: Sequence[str]) -> Deferred[set[str]]:
        """The commits of `_parents_between`'s range that `git log -- <paths>` lists from
        `heads`, in one `rev-list` started now (beside it). Exact for the commits with one
        parent that the walk meets; merges are told by their files."""
        stdin = "\n".join([*heads, f"^{oldest}^@"]) + "\n"
        args = ("rev-list", "--stdin", "--", *literal(paths))
        reading = "the commits that changed the prompt"
        return self._read_later(lambda out: set(out.split()), *args, stdin=stdin, revs=[*heads, oldest], reading=reading)

    def renamed_from(self, commit: str, path: str) -> str | None:
        """The path `path` had before `commit`, when that commit renamed it (else None)."""
        args = ("diff-tree", "-M", "-r", "-z", "--name-status", "--no-commit-id", f"{commit}^", commit)
        status, out, _ = self._read_answer(*args, revs=[f"{commit}^", commit], reading=f"the changes of {commit}")
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
        args += [*revs, "--", *literal(paths)]
        return [entry[0] for entry in parse_log(self._read(*args, revs=revs, reading=f"the commits of {' '.join(revs)}"), with_names=False)]

    def last_commit_touching(self, rev: str, paths: Sequence[str]) -> str | None:
        """The newest commit at or before `rev` that changed one of `paths` (None: none did)."""
        args = ("log", "-n1", "--format=%H", rev, "--", *literal(paths))
        status, out, _ = self._read_answer(*args, revs=[rev], reading=f"the history of {', '.join(paths)} at {rev}")
        return out.strip() or None if status == 0 else None

    def first_parent_line(self, rev: str) -> list[tuple[str, int]]:
        """(commit, committer time) along `rev`'s first-parent line, newest first ([] when `rev` is unknown)."""
        args = ("rev-list", "--first-parent", "--format=%H %ct", "--no-commit-header", rev, "--")
        status, out, _ = self._read_answer(*args, revs=[rev], reading=f"the first-parent line of {rev}")
        if status != 0:
            return []
        line = [row.split() for row in out.splitlines()]
        return [(parts[0], int(parts[1])) for parts in line if len(parts) == 2 and parts[1].isdigit()]

    def commit_info(self, rev: str) -> CommitInfo:
        entries = parse_log(self._read("log", "-z", f"--format={LOG_FORMAT}", "-n1", rev, "--", revs=[rev], reading=rev), with_names=False)
        if not entries:
            raise NotFound(f"unknown revision {rev!r}")
        return entries[0][0]

    def changed_files(self, base: str, head: str) -> list[tuple[str, str, str | None]]:
        """(status, path, old path) of files that differ between two commits (renames found)."""
        out = self._read("diff", "-z", "--name-status", "-M", base, head, "--", revs=[base, head], reading=f"the changes from {base} to {head}")
        return parse_name_status(out.lstrip("\0").split("\0"))


_OLDER = ""  # `last_commits_touching`: the answer is older than the range


def _without_empty_merges(entries: list[LogEntry]) -> list[LogEntry]:
    """Drop merges that rewrite to a single parent and changed nothing of the paths."""
    skipped: dict[str, str | None] = {}

    def target(sha: str) -> str | None:
        seen = set()
        while sha in skipped and sha not in seen:
            seen.add(sha)
            nxt = skipped[sha]
            if nxt is None:
                return None
            sha = nxt
        return sha

    for info, _change, path, _old in entries:
        if not path and len(set(info.parents)) <= 1:
            skipped[info.sha] = info.parents[0] if info.parents else None
    kept = []
    for info, change, path, old in entries:
        if info.sha in skipped:
            continue
        parents = tuple(dict.fromkeys(p for p in (target(q) for q in info.parents) if p))
        kept.append((replace(info, parents=parents), change, path, old))
    return kept
