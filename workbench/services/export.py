"""Export what an environment runs: the files at their deployed commits, plus a manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.services.atomic_files import write_atomically
from workbench.services.deployment_events import current_events
from workbench.services.prompt_files import dependency_files, path_at
from workbench.services.session import RepoSession
from workbench.services.write_paths import folder_problem, write_error

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class ExportedPrompt:
    name: str
    version: str | None
    commit: str
    path: str
    sha256: str
    canary: dict[str, Any] | None = None
    files: tuple[tuple[str, str], ...] = ()  # referenced files written alongside: (path, sha256)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "commit": self.commit,
            "path": self.path,
            "sha256": self.sha256,
            "canary": self.canary,
            "files": [{"path": path, "sha256": digest} for path, digest in self.files],
        }


def export_destination(session: RepoSession, dest: Path | str) -> Path:
    """`dest`, unless writing there would replace the repository's own files: its root or
    prompts/ (an export there overwrote the working copy's prompts with `env`'s versions,
    uncommitted edits included) or its Git directory.

    Raises:
        WorkbenchError: `dest` is one of those.
    """
    from workbench.errors import WorkbenchError

    target = Path(dest)
    where = target.resolve()
    root = Path(session.root).resolve()
    if where == root or where.is_relative_to(root / "prompts") or where.is_relative_to(session.store.git_dir.resolve()):
        raise WorkbenchError(
            f"refusing to export into the repository's own files ({dest})",
            hint="export to a folder outside the repository, or to one of its own (e.g. build/export)",
        )
    problem = folder_problem(target)
    if problem is not None:  # before a file is written
        raise WorkbenchError(f"cannot write {dest}: {problem}", hint="export to a folder, or to a path where one can be made")
    return target


_UNFINISHED = f"export to a folder that can be written ({MANIFEST} is written last: a folder without it holds an unfinished export)"


def _write(path: Path, data: str | bytes, hint: str = _UNFINISHED) -> None:
    """One exported file, whole (`write_atomically`), or `cannot write PATH: why`."""
    try:
        write_atomically(path, data)
    except OSError as err:
        raise write_error(path, err, hint) from None


def export(session: RepoSession, env: str, dest: Path | str) -> list[ExportedPrompt]:
    """Write the files `env` runs into `dest` (same relative paths) plus manifest.json."""
    session.require_env(env)
    store = session.store
    target = export_destination(session, dest)
    exported = []
    for name, event in sorted(current_events(session, env).items()):
        path = path_at(session, name, event.commit)
        data = store.read_blob(event.commit, path) if path else None
        if path is None or data is None:
            continue
        _write(target / path, data)
        files = []
        for ref in dependency_files(session, path, data.decode("utf-8", "replace"), event.commit):
            found = store.read_blob(event.commit, ref)
            if found is not None:
                _write(target / ref, found)
                files.append((ref, hashlib.sha256(found).hexdigest()))
        canary = event.canary.to_dict() if event.canary else None
        exported.append(ExportedPrompt(name, event.version, event.commit, path, hashlib.sha256(data).hexdigest(), canary, tuple(files)))
    manifest = {"env": env, "prompts": [e.to_dict() for e in exported]}
    _write(target / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return exported


@dataclass
class FormatExport:
    """What `workbench export DIR --env ENV --format FORMAT` wrote and could not carry over."""

    written: list[str]
    problems: list[Any]  # core.model.Problem: fields the format cannot express

    def to_dict(self) -> dict[str, Any]:
        return {"written": self.written, "not_carried_over": [p.to_dict() for p in self.problems]}


def export_format(session: RepoSession, env: str, dest: Path | str, format_name: str, *, label_env: dict[str, str] | None = None) -> FormatExport:
    """Write what `env` runs in another tool's format (`core.formats`), under `dest`.

    A format with history (Langfuse) gets every version of each prompt up to the one `env`
    runs, oldest first, with the environments that run a version as its labels (`prod` ->
    `production` unless `label_env` maps it otherwise) and `latest` on the newest.
    """
    from datetime import UTC, datetime

    from workbench.core.formats import ExportedVersion, ExportItem, formats
    from workbench.errors import WorkbenchError
    from workbench.services.history import history
    from workbench.services.import_history import DEFAULT_LABEL_ENV
    from workbench.services.prompt_files import prompt_at
    from workbench.services.releases import existing_release

    session.require_env(env)
    export_destination(session, dest)
    known = formats()
    fmt = known.get(format_name)
    if fmt is None or fmt.export is None:
        writable = ", ".join(sorted(n for n, f in known.items() if f.export is not None))
        raise WorkbenchError(f"cannot export to format {format_name!r}", hint=f"formats: {writable}")
    labels_of = {e: lbl for lbl, e in (label_env or DEFAULT_LABEL_ENV).items()}
    running = {e: current_events(session, e) for e in session.environments}
    items: list[ExportItem] = []
    problems: list[Any] = []
    for name, event in sorted(running[env].items()):
        commits = [event.commit]
        if fmt.export_history:
            entries = [h for h in history(session, name, limit=1000, rev=event.commit) if h.change != "D"]
            commits = [h.commit.sha for h in reversed(entries)] or [event.commit]
        versions = []
        for commit in commits:
            loaded = prompt_at(session, name, commit)
            if loaded.prompt is None:
                continue
            info = session.store.commit_info(commit)
            release = existing_release(session, name, commit)
            labels = [labels_of.get(e, e) for e, events in running.items() if name in events and events[name].commit == commit]
            versions.append(
                ExportedVersion(
                    prompt=loaded.prompt,
                    commit=commit,
                    version=release.label if release else None,
                    when=datetime.fromtimestamp(info.author_time, UTC).isoformat().replace("+00:00", "Z"),
                    author=f"{info.author_name} <{info.author_email}>" if info.author_email else info.author_name,
                    message=(info.subject + ("\n\n" + info.body if info.body else "")).strip(),
                    labels=tuple(labels),
                )
            )
        if versions:
            last = versions[-1]
            if fmt.export_history and "latest" not in last.labels:
                versions[-1] = ExportedVersion(**{**last.__dict__, "labels": (*last.labels, "latest")})
            items.append(ExportItem(name, tuple(versions)))
    conversion = fmt.export(items)
    problems.extend(conversion.problems)
    target = Path(dest)
    written = []
    for output in conversion.files:
        path = (target / output.path).resolve()
        if target.resolve() not in path.parents:
            raise WorkbenchError(f"refusing to write outside {dest}: {output.path}")
        _write(path, output.text, "export to a folder that can be written (the files before this one were written)")
        written.append(output.path)
    return FormatExport(written, problems)
