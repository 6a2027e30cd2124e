"""Importing a source that carries history (Langfuse): versions become commits, labels events.

Each version of a prompt is committed on the current branch, oldest first, with its author,
date and message (plus an `Imported-From:` trailer naming the source version, so importing the
same file again skips what is already there and adds only newer versions). Each label that maps
to an environment becomes a deployment event, written through the same plan/execute path as
`workbench promote` (a release first, then the event), dated when the labelled version was
created, with a reason saying it was imported. A label that a policy of the environment would
block today is still recorded (history is a fact, not a request) as an override whose reason
says it was imported; the report lists each one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from workbench.core.formats import SourceVersion
from workbench.errors import NothingToDo, RepoError, WorkbenchError
from workbench.services import branches, deployments
from workbench.services.atomic_files import write_atomically
from workbench.services.deployment_events import current_event
from workbench.services.prompt_files import uncommitted_paths
from workbench.services.releases import ensure_release, existing_release
from workbench.services.session import RepoSession

TRAILER = "Imported-From:"
DEFAULT_LABEL_ENV = {"production": "prod"}


@dataclass
class HistoryReport:
    commits: list[dict[str, str]] = field(default_factory=list)  # prompt, version, commit
    skipped: list[dict[str, str]] = field(default_factory=list)  # versions already imported
    events: list[dict[str, str]] = field(default_factory=list)  # prompt, env, version, label, tag, override
    notes: list[str] = field(default_factory=list)  # labels not carried over, identical versions

    def to_dict(self) -> dict[str, object]:
        return {"commits": self.commits, "already_imported": self.skipped, "events": self.events, "notes": self.notes}


def parse_label_env(text: str | None) -> dict[str, str]:
    """`production=prod,staging=staging` -> {label: environment} (default: production -> prod)."""
    if not text:
        return dict(DEFAULT_LABEL_ENV)
    mapping: dict[str, str] = {}
    for part in text.split(","):
        label, sep, env = part.partition("=")
        if not sep or not label.strip() or not env.strip():
            raise WorkbenchError(f"--label-env: {part!r} is not LABEL=ENV", hint="e.g. --label-env production=prod,staging=staging")
        mapping[label.strip()] = env.strip()
    return mapping


# What git's date parser takes (`GIT_AUTHOR_DATE`): its own algorithm stops at these years.
_GIT_YEARS = range(1970, 2100)


def _when(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    value = value if value.tzinfo else value.replace(tzinfo=UTC)
    return value if value.astimezone(UTC).year in _GIT_YEARS else None


def _put_back(session: RepoSession, paths: list[str]) -> None:
    """The files of a version whose commit failed, as HEAD has them (or gone, if HEAD has none):
    they were clean before the import wrote them (`import_versions` checks)."""
    has_head = session.store.has_commits()
    for path in paths:
        text = session.store.read_text("HEAD", path) if has_head else None
        target = Path(session.root) / path
        if text is None:
            target.unlink(missing_ok=True)
        else:
            write_atomically(target, text)


def _author(text: str | None) -> tuple[str, str] | None:
    """Git's (name, email) for the source's `createdBy` (a name, an e-mail, or `Name <e-mail>`)."""
    if not text:
        return None
    found = re.match(r"^\s*(.*?)\s*<([^<>]*)>\s*$", text)
    if found and found.group(1):
        return found.group(1), found.group(2)
    if re.match(r"^[^@\s<>]+@[^@\s<>]+$", text.strip()):
        return text.strip().split("@", 1)[0], text.strip()
    name = re.sub(r"[<>\n]", "", text).strip()
    return (name, "") if name else None


def imported_commits(session: RepoSession, paths: list[str]) -> dict[str, str]:
    """{trailer value: commit} of the commits of these files (on this branch) that came from an import."""
    found: dict[str, str] = {}
    store = session.store
    if not store.has_commits():
        return found
    for info in store.log("HEAD", paths=paths):
        for line in info.body.splitlines():
            if line.startswith(TRAILER):
                found.setdefault(line[len(TRAILER) :].strip(), info.sha)
    return found


def import_versions(session: RepoSession, versions: list[SourceVersion], label_env: dict[str, str], source_name: str = "Langfuse") -> HistoryReport:
    """Commit each version (oldest first per prompt) and record its labels as deployment events.

    Raises:
        RepoError: no branch, a merge in progress, or uncommitted changes in a file to import.
    """
    report = HistoryReport()
    if not versions:
        return report
    branches.require_branch(session, "import history")
    branches.require_not_merging(session, "import history")
    store = session.store
    store.identity()
    store.check_writable()
    root = Path(session.root)
    by_prompt: dict[str, list[SourceVersion]] = {}
    for version in versions:
        by_prompt.setdefault(version.prompt, []).append(version)
    dirty = set(uncommitted_paths(session))
    labelled: list[tuple[datetime | None, SourceVersion, str, str, str]] = []  # (when, version, label, env, commit)
    for name, chain in sorted(by_prompt.items()):
        chain.sort(key=lambda v: v.number)
        paths = sorted({f.path for v in chain for f in v.files})
        done = imported_commits(session, paths)
        left = _left_by_a_kill(root, chain, done) if dirty.intersection(paths) else set()
        busy = [p for p in paths if p in dirty and p not in left]
        if busy:
            raise RepoError(f"cannot import the history of {name}: uncommitted changes in {', '.join(busy)}", hint="commit or discard them first")
        commit = ""
        again = False  # a version was imported again: every later one is too, or the branch ends on it
        for version in chain:
            found = None if again else done.get(version.key)
            released = found is not None and existing_release(session, name, found) is not None
            # A trailer counts with the version's content: an imported commit amended by hand keeps it.
            if found is not None and (released or _holds_version(session, found, version)):
                commit = found
                report.skipped.append({"prompt": name, "version": str(version.number), "commit": commit})
                if not released:  # killed between its commit and its release
                    _release(session, report, name, version, commit, source_name)
            else:
                again = True
                if version.when and _when(version.when) is None:
                    report.notes.append(f"{name} version {version.number}: its date {version.when} is not one Git records (years 1970-2099): committed with the current time")
                for output in version.files:
                    target = root / output.path
                    if not target.is_file() or target.read_text(encoding="utf-8") != output.text:
                        write_atomically(target, output.text)
                message = version.message.rstrip("\n") + f"\n\n{TRAILER} {version.key}\n"
                touched = sorted({f.path for f in version.files})
                try:
                    try:
                        info = branches.commit(session, touched, message, author=_author(version.author), when=_when(version.when))
                    except NothingToDo:
                        raise
                    except WorkbenchError as err:
                        _put_back(session, touched)  # as HEAD has them: the import can run again
                        raise RepoError(
                            f"{name} version {version.number} was not committed: {err.message}",
                            hint=f"{err.hint + '; ' if err.hint else ''}the versions before it are; run the import again once it can commit",
                        ) from None
                    commit = info.sha
                    report.commits.append({"prompt": name, "version": str(version.number), "commit": commit})
                    _release(session, report, name, version, commit, source_name)
                except NothingToDo:
                    if not commit:
                        raise
                    report.notes.append(f"{name} version {version.number} is identical to the version before it: no commit of its own (its labels go to that commit)")
            for label in version.labels:
                if label == "latest":
                    continue
                env = label_env.get(label)
                if env is None:
                    report.notes.append(f"{name} version {version.number}: label {label!r} maps to no environment: not carried over (map it with --label-env {label}=ENV)")
                    continue
                if env not in session.environments:
                    report.notes.append(f"{name} version {version.number}: label {label!r} maps to {env!r}, which is not an environment of this repository: not carried over")
                    continue
                labelled.append((_when(version.when), version, label, env, commit))
    labelled.sort(key=lambda item: (item[0] or datetime.min.replace(tzinfo=UTC)))
    for when, version, label, env, commit in labelled:
        _record(session, report, version, label, env, commit, when, source_name)
    return report


def _holds_version(session: RepoSession, commit: str, version: SourceVersion) -> bool:
    return all(session.store.read_blob(commit, f.path) == f.text.encode("utf-8") for f in version.files)


def _left_by_a_kill(root: Path, chain: list[SourceVersion], done: dict[str, str]) -> set[str]:
    """The files of the first version not yet imported that hold exactly its text: an import
    killed after writing them, before its commit, left them (the next one writes the same)."""
    pending = next((v for v in chain if v.key not in done), None)
    if pending is None:
        return set()
    return {f.path for f in pending.files if _holds(root / f.path, f.text)}


def _holds(path: Path, text: str) -> bool:
    """Whether the file holds exactly `text` (its size checked first: no other file is read whole)."""
    data = text.encode("utf-8")
    return path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data


def _release(session: RepoSession, report: HistoryReport, name: str, version: SourceVersion, commit: str, source_name: str) -> None:
    """Every version is released, so release numbers follow the source's versions."""
    with session.store.attributed(when=_when(version.when)):
        try:
            ensure_release(session, name, commit, note=f"{source_name} version {version.number}")
        except WorkbenchError as err:
            report.notes.append(f"{name} version {version.number} is not released: {err}")


def _record(
    session: RepoSession, report: HistoryReport, version: SourceVersion, label: str, env: str, commit: str, when: datetime | None, source_name: str
) -> None:
    name = version.prompt
    now = current_event(session, name, env)
    if now is not None and now.commit == commit and now.canary is None:
        return  # imported before: the environment already runs it
    saved = session.clock
    moment = when or saved()
    try:
        session.clock = lambda: moment
        with session.store.attributed(when=moment):
            plan = deployments.plan_promote(session, name, env, commit)
            reason = f"imported from {source_name}: label {label!r} on version {version.number}"
            event = deployments.execute(session, plan, reason, override=plan.blocked)
    finally:
        session.clock = saved
    report.events.append(
        {"prompt": name, "env": env, "version": event.version or commit[:10], "label": label, "tag": event.tag, "override": "yes" if plan.blocked else ""}
    )
