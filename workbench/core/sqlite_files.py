"""Local SQLite stores (results, response cache, monitor): tell corrupt from busy, move a
corrupt file aside, and copy what is still readable into a fresh one.

One rule for every store under `.workbench/`:
- **corrupt** (SQLITE_CORRUPT, SQLITE_NOTADB: a damaged page, a file that is not a database)
  -> the file (and its `-wal` / `-journal`) is renamed `<name>.corrupt-<time>`, a fresh store
  is created, the rows that can still be read are copied into it, and a warning names both files;
- **busy or locked** (SQLITE_BUSY, SQLITE_LOCKED: another process is writing) -> wait and retry,
  never move the file aside;
- anything else (disk full, read-only, I/O error) -> an error that names the file.

A read-only session (`open_read_only`) opens a store without writing a byte beside it: no
`-wal` or `-shm` file, no schema, no recovery; a store that is not there reads as empty.

Standard library only (sqlite3, os): no Git, network or UI.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path

SQLITE_BUSY = 5
SQLITE_LOCKED = 6
SQLITE_CORRUPT = 11
SQLITE_NOTADB = 26


def _code(err: BaseException) -> int | None:
    code = getattr(err, "sqlite_errorcode", None)
    return None if code is None else int(code) & 0xFF  # primary code of an extended one


def is_corrupt(err: BaseException) -> bool:
    """True for a damaged database (not for a locked one, a full disk or a missing table)."""
    if not isinstance(err, sqlite3.DatabaseError):
        return False
    code = _code(err)
    if code is not None:
        return code in (SQLITE_CORRUPT, SQLITE_NOTADB)
    text = str(err).lower()
    return "malformed" in text or "not a database" in text


def is_busy(err: BaseException) -> bool:
    """True when another connection holds a lock (wait and retry; never treat as corrupt)."""
    if not isinstance(err, sqlite3.DatabaseError):
        return False
    code = _code(err)
    if code is not None:
        return code in (SQLITE_BUSY, SQLITE_LOCKED)
    text = str(err).lower()
    return "locked" in text or "busy" in text


def companions(path: Path) -> list[Path]:
    """The database file and the journal files SQLite keeps beside it."""
    return [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-journal"), path.with_name(path.name + "-shm")]


def file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file now at `path`: tells whether another connection already
    replaced a corrupt store (then reopen it; do not move the fresh one aside)."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def move_aside(path: Path) -> Path:
    """Rename a corrupt database (with its -wal and -journal) to `<name>.corrupt-<time>`.

    The `-shm` index is removed (SQLite rebuilds it); a stale `-wal` left beside a fresh
    database would be replayed into it, so it always moves with its database.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    main, wal, journal, shm = companions(path)
    if main.exists():
        os.replace(main, aside)
    for extra, suffix in ((wal, "-wal"), (journal, "-journal")):
        if extra.exists():
            os.replace(extra, aside.with_name(aside.name + suffix))
    shm.unlink(missing_ok=True)
    return aside


def readable_rows(db: sqlite3.Connection, table: str, columns: str = "*") -> Iterable[tuple[object, ...]]:
    """Rows of `table` that can still be read: forwards until a damaged page, then backwards
    from the end until the same damage (each row at most once, by rowid)."""
    seen: set[int] = set()
    for order in ("ASC", "DESC"):
        try:
            for row in db.execute(f"SELECT rowid, {columns} FROM {table} ORDER BY rowid {order}"):
                if row[0] in seen:
                    break
                seen.add(row[0])
                yield row[1:]
        except sqlite3.DatabaseError:
            continue


def salvage(aside: Path, into: sqlite3.Connection, tables: Iterable[str], *, on_table: Callable[[str, int], None] | None = None) -> int:
    """Copy every readable row of `tables` from the corrupt file `aside` into `into` (same schema).

    Returns the number of rows copied. Best effort: a table that cannot be read at all is skipped.
    """
    copied = 0
    try:
        old = sqlite3.connect(f"file:{aside}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.DatabaseError:
        return 0
    try:
        for table in tables:
            count = 0
            try:
                columns = [r[1] for r in old.execute(f"PRAGMA table_info({table})")]
            except sqlite3.DatabaseError:
                continue
            if not columns:
                continue
            marks = ",".join("?" * len(columns))
            names = ",".join(columns)
            batch: list[tuple[object, ...]] = []
            for row in readable_rows(old, table, names):
                batch.append(row)
                if len(batch) >= 5000:
                    into.executemany(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", batch)
                    count += len(batch)
                    batch = []
            if batch:
                into.executemany(f"INSERT OR IGNORE INTO {table} ({names}) VALUES ({marks})", batch)
                count += len(batch)
            copied += count
            if on_table is not None:
                on_table(table, count)
    finally:
        old.close()
    return copied


def open_read_only(path: Path, create_schema: Callable[[sqlite3.Connection], object]) -> sqlite3.Connection:
    """A connection that cannot write and creates no file: the store opened `immutable` (SQLite
    takes no lock and keeps no `-wal`/`-shm` beside it; what another process has written but
    not yet checkpointed, a run still going on, is seen once that process closes the store), or,
    when there is no store, an empty one in memory with the schema (`create_schema`)."""
    if not path.is_file():
        return empty_in_memory(create_schema)
    return sqlite3.connect(f"{Path(os.path.abspath(path)).as_uri()}?mode=ro&immutable=1", uri=True, check_same_thread=False)


def empty_in_memory(create_schema: Callable[[sqlite3.Connection], object]) -> sqlite3.Connection:
    """An empty store with the schema, in memory (nothing on disk)."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    create_schema(db)
    return db
