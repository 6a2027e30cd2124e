"""What a monitor store holds, read straight from its SQLite file (shared by the fault tests)."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def stored_counts(path: Path) -> tuple[int, int]:
    """(events stored, calls counted in the rollup): equal when every batch is whole."""
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT count(*) FROM events").fetchone()[0], db.execute("SELECT coalesce(sum(calls), 0) FROM rollup").fetchone()[0]
    finally:
        db.close()
