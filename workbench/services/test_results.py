"""Test results of prompt versions: the local results store and the summaries that travel in Git.

Every run is stored in `.workbench/results.sqlite`; a run of a committed version also leaves a
one-line summary in the commit's note (`refs/notes/workbench`), so `push` and `fetch` carry it.
Deployments record the latest summary in their events; History shows it per commit.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.core.safe_text import clean
from workbench.core.state_folder import STATE_FOLDER
from workbench.evals.secrets import scrub
from workbench.services.prompt_files import content_id
from workbench.services.session import RepoSession
from workbench.services.write_lock import exclusive

if TYPE_CHECKING:
    from workbench.evals.store import ResultsStore

NOTES_REF = "workbench"
NOTE_PREFIX = "workbench:"


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
        mine = mine and (before is None or parts[-1] <= before)
        if mine and (best is None or parts[-1] >= best[0]):
            best = (parts[-1], f"{parts[-4]} {parts[-3]}")
    return best[1] if best else None


def latest_summary(session: RepoSession, name: str, commit: str) -> str | None:
    """`✓ 12/12` for the newest stored run of that version, else from its git note."""
    path = state_dir(session) / "results.sqlite"
    if path.is_file():
        store = open_store(session)
        try:
            run = store.latest(name, blob=content_id(session, name, commit), commit=commit)
        finally:
            store.close()
        if run is not None:
            return str(run.summary.short)
    return summary_from_note(session.store.notes_for(NOTES_REF, [commit]).get(commit, ""), name)


def latest_summaries(session: RepoSession, name: str, commits: list[str]) -> dict[str, str]:
    """`latest_summary` for many commits (History shows one per row): one store, one notes listing."""
    found: dict[str, str] = {}
    path = state_dir(session) / "results.sqlite"
    if path.is_file():
        store = open_store(session)
        try:
            for commit in commits:
                run = store.latest(name, blob=content_id(session, name, commit), commit=commit)
                if run is not None:
                    found[commit] = str(run.summary.short)
        finally:
            store.close()
    rest = [c for c in commits if c not in found]
    notes = session.store.notes_for(NOTES_REF, rest) if rest else {}
    for commit in rest:
        summary = summary_from_note(notes.get(commit, ""), name)
        if summary:
            found[commit] = summary
    return found
