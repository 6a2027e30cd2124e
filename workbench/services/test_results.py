"""Test results of prompt versions: the local results store and the summaries that travel in Git.

Every run is stored in `.workbench/results.sqlite`; a run of a committed version also leaves a
one-line summary in the commit's note (`refs/notes/workbench`), so `push` and `fetch` carry it.
The note is the result that counts for a version (`counted_summary`): policies, `audit`, the
deployment plans and the `tests:` field of events read it, so they agree on every clone. A run
of the working copy stays in the local store only; History shows it on a commit of the same
content marked as local (`history_marks`), and a plan names it beside the counted one
(`VersionTests`) so the user sees why a rule still asks for a run.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.safe_text import clean
from workbench.core.state_folder import STATE_FOLDER
from workbench.errors import GitError
from workbench.evals.secrets import scrub
from workbench.services.session import RepoSession
from workbench.services.suite_files import content_id
from workbench.services.write_lock import exclusive

if TYPE_CHECKING:
    from workbench.evals.store import ResultsStore

NOTES_REF = "workbench"
NOTE_PREFIX = "workbench:"
_RESULT = re.compile(r"[✓✗] [0-9]{1,9}/[0-9]{1,9}")  # `RunSummary.short`: what a note's result may be


def state_dir(session: RepoSession) -> Path:
    return Path(session.root) / STATE_FOLDER


def open_store(session: RepoSession) -> ResultsStore:
    # The store brings the evaluation engine along (~0.3 s): imported on first use, so the
    # app paints before it.
    from workbench.evals.store import ResultsStore

    return ResultsStore(state_dir(session) / "results.sqlite", read_only=session.read_only)


def note_line(name: str, summary: str, provider: str, when: float | None = None) -> str:
    """`workbench: support/summarize ✓ 6/6 openai:gpt-4o-mini 2026-01-01T12:00:00Z`.

    One line of space-separated fields: a provider id built from a prompt file (model name,
    base_url) can add neither a line nor a field (a forged result), nor carry a secret.
    """
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() if when is None else when))
    provider_field = "_".join(clean(scrub(provider)).split()) or "-"
    return f"{NOTE_PREFIX} {name} {summary} {provider_field} {stamp}"


def record_note(session: RepoSession, commit: str, line: str) -> None:
    """Append a summary line to the commit's workbench note.

    Under the notes lock: `git notes append` writes the notes ref without checking what it
    held, so of eight runs ending together one or two notes were lost (last writer wins).
    """
    session.store.identity()
    with exclusive(session, "notes", NOTES_REF):
        session.store.notes_append(NOTES_REF, commit, line)


def summary_from_note(note: str, name: str, *, before: str | None = None) -> str | None:
    """The newest summary of `name` in a note: by its timestamp, not its line order.

    Notes merged from two clones (`cat_sort_uniq`) are sorted lines, so the last line is not
    the newest one. `before` (`2026-01-01T12:00:00Z`): only lines stamped at or before it
    (what `workbench audit` knew existed when an event was written).
    """
    best: tuple[str, str] | None = None
    for line in note.splitlines():
        # `workbench: <name, may hold spaces> <symbol> <passed/total> <provider> <time>`
        parts = line.split()
        mine = len(parts) >= 6 and parts[0] == NOTE_PREFIX and " ".join(parts[1:-4]) == name
        # Notes arrive with `fetch` from whoever can push them: only a result's own form counts.
        mine = mine and _RESULT.fullmatch(f"{parts[-4]} {parts[-3]}") is not None
        mine = mine and (before is None or parts[-1] <= before)
        if mine and (best is None or parts[-1] >= best[0]):
            best = (parts[-1], f"{parts[-4]} {parts[-3]}")
    return best[1] if best else None


def counted_summary(session: RepoSession, name: str, commit: str, *, note: str | None = None, before: str | None = None) -> str | None:
    """The test result that counts for `commit` of `name`: the newest summary on the commit's
    git note (`✓ 12/12`), None without one. `require_tests`, `audit`, deployment plans and the
    `tests:` field of events all read it. `note`: the note's text read by the caller (many
    events at once); `before`: as `summary_from_note`."""
    text = note if note is not None else session.store.notes_for(NOTES_REF, [commit]).get(commit, "")
    return summary_from_note(text, name, before=before)


@dataclass(frozen=True)
class VersionTests:
    """The test result of a version as a deployment shows it."""

    counted: str | None  # on the commit's git note: what the rules, `audit` and the event read
    local_only: str | None = None  # a newer or other run in this clone's store, not on the commit

    def explain(self, commit: str) -> str | None:
        """Why the local result is not the counted one, in a line; None when they agree."""
        if self.local_only is None:
            return None
        counted = f"the run recorded on {commit[:7]} ({self.counted}) counts" if self.counted else f"no run is recorded on {commit[:7]}"
        return f"a local run {self.local_only} (of the working copy, a shard or --rerun-failed) is not on the commit: {counted}"


def version_tests(session: RepoSession, name: str, commit: str, *, note: str) -> VersionTests:
    """The counted result of `commit` (from `note`, the commit's note text read by the caller)
    and, when it differs, the newest local run of its content. A broken results store hides
    only the local run: it must never block a deployment (it warns elsewhere); Git failing is
    its own error."""
    counted = counted_summary(session, name, commit, note=note)
    try:
        local = _local_summary(session, name, commit)
    except GitError:
        raise
    except Exception:
        local = None
    return VersionTests(counted, local if local is not None and local != counted else None)


def _local_summary(session: RepoSession, name: str, commit: str) -> str | None:
    path = state_dir(session) / "results.sqlite"
    if not path.is_file():
        return None
    store = open_store(session)
    try:
        run = store.latest(name, blob=content_id(session, name, commit), commit=commit)
    finally:
        store.close()
    return str(run.summary.short) if run is not None else None


@dataclass(frozen=True)
class ResultMark:
    """What History shows of a version's tests (the app's History pane and `workbench log`)."""

    summary: str  # `✓ 12/12`
    recorded: bool  # on the commit's git note: the result that counts; False: a local run only

    @property
    def tag(self) -> str:
        """What follows the summary: `local` for a run of the same content that is not on the
        commit (of the working copy before it was committed, a shard, --rerun-failed), else
        nothing. History's pane keeps a slot for it after the counts, so that they line up."""
        return "" if self.recorded else "local"

    @property
    def label(self) -> str:
        """`✓ 12/12`, or `✓ 12/12 local`: never the same mark as the result the rules read."""
        return f"{self.summary} {self.tag}" if self.tag else self.summary

    def to_dict(self) -> dict[str, str | bool]:
        return {"summary": self.summary, "recorded": self.recorded}


def history_marks(session: RepoSession, name: str, commits: list[str]) -> dict[str, ResultMark]:
    """The one rule for the test result History shows on each of `commits` (none: no entry):
    the newest result recorded on the commit's git note (`counted_summary`), else the newest
    local run of the same content (`suite_files.content_id`), marked as not recorded. One notes
    listing; the results store is opened only when some commit has no note and it exists."""
    notes = session.store.notes_for(NOTES_REF, commits) if commits else {}
    found: dict[str, ResultMark] = {}
    for commit in commits:
        summary = summary_from_note(notes.get(commit, ""), name)
        if summary:
            found[commit] = ResultMark(summary, recorded=True)
    rest = [commit for commit in commits if commit not in found]
    path = state_dir(session) / "results.sqlite"
    if rest and path.is_file():
        store = open_store(session)
        try:
            for commit in rest:
                run = store.latest(name, blob=content_id(session, name, commit), commit=commit)
                if run is not None:
                    found[commit] = ResultMark(str(run.summary.short), recorded=False)
        finally:
            store.close()
    return {commit: found[commit] for commit in commits if commit in found}
