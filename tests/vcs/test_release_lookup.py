"""Whether a version is released already is read once per release, not once per release per
release made: an import of a Langfuse history (one release per version) grew quadratically,
1,000 versions in 385 s."""

from __future__ import annotations

from pathlib import Path

import pytest
from vcs_helpers import SUMMARIZE, commit_all, write

from workbench.services import releases
from workbench.services.session import RepoSession

VERSIONS = 30


def test_releasing_each_new_version_reads_each_release_once(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[str] = []
    path_at = releases.path_at

    def counted(session: RepoSession, name: str, commit: str | None) -> str | None:
        reads.append(str(commit))
        return path_at(session, name, commit)

    monkeypatch.setattr(releases, "path_at", counted)
    with RepoSession.open(repo) as session:
        for n in range(VERSIONS):
            write(repo, "prompts/support/summarize.yaml", SUMMARIZE.replace("neutral", f"neutral {n}"))
            commit = commit_all(repo, f"version {n}")
            assert releases.ensure_release(session, "support/summarize", commit).created
        assert len(releases.releases(session, "support/summarize")) == VERSIONS
    assert len(reads) <= 2 * VERSIONS, f"{len(reads)} content reads for {VERSIONS} releases"
