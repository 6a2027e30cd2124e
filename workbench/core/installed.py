"""Which version of a distribution is installed, read cheaply: both the verdict fingerprint and
the local model's cache key need it on the way of every cached run."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from pathlib import Path


def installed_version(distribution: str, package: str | None = None) -> str:
    """The version in the name of the distribution's `.dist-info` folder beside its `package`
    (default: named like the distribution): one directory listing, ~0.1 ms, where
    `importlib.metadata` cost ~35 ms with its import. `importlib.metadata` where there is no such
    folder (an editable install); "?" when the distribution is not installed."""
    try:
        spec = importlib.util.find_spec(package or distribution)
    except (ImportError, ValueError):  # ValueError: a module loaded with no __spec__
        spec = None
    if spec is not None and spec.origin:
        folder = Path(spec.origin).parent
        if spec.submodule_search_locations is not None:  # a package: its folder's parent
            folder = folder.parent
        wanted = distribution.lower().replace("-", "_") + "-"
        with contextlib.suppress(OSError):
            for entry in os.listdir(folder):
                if entry.endswith(".dist-info") and entry.lower().startswith(wanted):
                    return entry[len(wanted) : -len(".dist-info")]
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "?"
