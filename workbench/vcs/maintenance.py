"""Keeping a big repository fast: the commit-graph with changed-path Bloom filters.

`git log -- <path>` (History, status, review) reads the commit-graph's Bloom filters to skip
the commits that did not touch the path: on a 20,000-commit repository a prompt's first page
takes ~60 ms with them and ~700 ms without. Git writes a commit-graph during `gc`, but without
the filters unless asked, and a fresh clone has none; writing it takes about a second per
20,000 commits and changes nothing but a cache file under `.git/objects/info/`.
"""

from __future__ import annotations

from pathlib import Path

from workbench.vcs.deferred import Deferred
from workbench.vcs.runner import GitRunner

_BLOOM_CHUNKS = (b"BIDX", b"BDAT")


def _has_bloom_chunks(graph: Path) -> bool:
    """Whether a commit-graph file carries the changed-path filters (its chunk table lists them)."""
    try:
        with graph.open("rb") as handle:
            header = handle.read(8)
            if header[:4] != b"CGPH":
                return False
            chunks = header[6]
            table = handle.read(12 * (chunks + 1))
    except OSError:
        return False
    ids = {table[i : i + 4] for i in range(0, len(table), 12)}
    return all(chunk in ids for chunk in _BLOOM_CHUNKS)


class MaintenanceCommands(GitRunner):
    def has_changed_path_filters(self) -> bool:
        info = self.git_dir / "objects" / "info"
        if _has_bloom_chunks(info / "commit-graph"):
            return True
        chain = info / "commit-graphs" / "commit-graph-chain"
        try:
            newest = chain.read_text(encoding="ascii").split()[-1]
        except (OSError, IndexError):
            return False
        return _has_bloom_chunks(info / "commit-graphs" / f"graph-{newest}.graph")

    def commit_count(self) -> int:
        status, out, _ = self._answer("rev-list", "--count", "--all")
        return int(out.strip() or 0) if status == 0 else 0

    def write_changed_path_filters_later(self) -> Deferred[str]:
        """Write the commit-graph of every reachable commit with its Bloom filters (a cache),
        in a process started now (keep the result until it finishes: dropping it stops git)."""
        return self._later(str, "commit-graph", "write", "--reachable", "--changed-paths")

    def changed_path_filters_needed(self, min_commits: int = 2000) -> bool:
        """A repository big enough to need the filters that has none."""
        return not self.has_changed_path_filters() and self.commit_count() >= min_commits
