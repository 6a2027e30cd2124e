"""Export what an environment runs: the files at their deployed commits, plus a manifest."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.services.deployment_events import current_events
from workbench.services.prompt_files import dependency_files, path_at, write_atomically
from workbench.services.session import RepoSession


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


def export(session: RepoSession, env: str, dest: Path | str) -> list[ExportedPrompt]:
    """Write the files `env` runs into `dest` (same relative paths) plus manifest.json."""
    session.require_env(env)
    store = session.store
    target = Path(dest)
    exported = []
    for name, event in sorted(current_events(session, env).items()):
        path = path_at(session, name, event.commit)
        data = store.read_blob(event.commit, path) if path else None
        if path is None or data is None:
            continue
        write_atomically(target / path, data)
        files = []
        for ref in dependency_files(session, path, data.decode("utf-8", "replace"), event.commit):
            found = store.read_blob(event.commit, ref)
            if found is not None:
                write_atomically(target / ref, found)
                files.append((ref, hashlib.sha256(found).hexdigest()))
        canary = event.canary.to_dict() if event.canary else None
        exported.append(ExportedPrompt(name, event.version, event.commit, path, hashlib.sha256(data).hexdigest(), canary, tuple(files)))
    manifest = {"env": env, "prompts": [e.to_dict() for e in exported]}
    write_atomically(target / "manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return exported
