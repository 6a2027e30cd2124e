"""Parsers for git's machine-readable output: one per format, used by every command group.

Formats are chosen so that no user text can break a record: NUL between fields and the
two-byte separator `\\x1e\\x1f` between records (neither can occur in commit or tag text).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from workbench.core.model import PROMPT_SUFFIXES, PROMPTS_DIR, TESTS_SUFFIXES
from workbench.core.safe_text import well_formed
from workbench.core.versions import CommitInfo, FileChange, PromptRef, RefUpdate, WorkingState

REC = "\x1e\x1f"  # record separator for log/for-each-ref output (never in commit text)
_LOG_FIELDS = ("%H", "%P", "%an", "%ae", "%at", "%ct", "%s", "%b")
LOG_FORMAT = REC + "%x00".join(_LOG_FIELDS) + "%x00"
_PROMPTS_PREFIX = PROMPTS_DIR + "/"
_PREFIX_LEN = len(_PROMPTS_PREFIX)

LogEntry = tuple[CommitInfo, str, str, "str | None"]  # (commit, change letter, path then, old path)


def git_output(data: bytes) -> str:
    """Git's stdout as text: UTF-8, a byte that is not UTF-8 kept as a lone surrogate
    (surrogateescape), as `os.walk` reads file names. With "replace", `prompts/bad\\xff.yaml`
    was `bad\\ufffd` from git but `bad\\udcff` from the disk: one file, two names, the one from
    git valid and unreadable. The name rule refuses the surrogate (`core.names`); parsers of
    commit and tag text make it well-formed (`core.safe_text.well_formed`)."""
    return data.decode("utf-8", "surrogateescape")


def ref_format(*fields: str) -> str:
    """A for-each-ref `--format` of NUL-separated fields ending in the record separator."""
    return "%00".join(fields) + "%00%1e%1f"


def parse_ref_records(out: str, width: int) -> Iterator[list[str]]:
    """The fields of each record of a `ref_format` listing (records with fewer are skipped)."""
    for record in well_formed(out).split(REC):  # ref names and tag text: no path in them
        fields = record.lstrip("\n").split("\0")
        if len(fields) >= width:
            yield fields[:width]


def parse_log(out: str, *, with_names: bool) -> list[LogEntry]:
    """Parse `git log -z --format=LOG_FORMAT [--name-status]` output."""
    entries: list[LogEntry] = []
    for record in out.split(REC):
        if not record.strip("\0\n"):
            continue
        fields = record.split("\0")
        if len(fields) < len(_LOG_FIELDS):
            continue
        sha, parents, an, ae, at, ct, subject, body = fields[: len(_LOG_FIELDS)]
        info = CommitInfo(
            sha=sha,
            parents=tuple(parents.split()),
            author_name=well_formed(an),  # commit text, unlike the paths after it (`git_output`)
            author_email=well_formed(ae),
            author_time=int(at or 0),
            committer_time=int(ct or 0),
            subject=well_formed(subject),
            body=well_formed(body.strip()),
        )
        change, path, old = "M", "", None
        if with_names:
            names = parse_name_status(fields[len(_LOG_FIELDS) :])
            if names:
                change, path, old = names[0]
        entries.append((info, change, path, old))
    return entries


def parse_name_status(items: list[str]) -> list[tuple[str, str, str | None]]:
    """`--name-status -z` items -> (status letter, path, old path for renames and copies)."""
    result: list[tuple[str, str, str | None]] = []
    index = 0
    while index < len(items):
        code = items[index].strip("\n")
        index += 1
        if not code:
            continue
        if code[0] in "RC":
            if index + 1 >= len(items):
                break
            old, new = items[index], items[index + 1]
            index += 2
            result.append((code[0], new, old))
        else:
            if index >= len(items):
                break
            result.append((code[0], items[index], None))
            index += 1
    return result


def parse_ls_tree(out: str, commit: str) -> list[PromptRef]:
    """Prompt files from `ls-tree -r -z` output.

    Records are "<mode> blob <sha>\\t<path>": fixed offsets parse 2,000 entries in ~1.2 ms.
    `core.model.is_prompt_path` inlined (a call per entry was 0.3 ms of 1.6), and each tuple
    made without `PromptRef`'s own checks (0.3 ms more).
    """
    new = tuple.__new__
    refs: list[PromptRef] = []
    append = refs.append
    for record in out.split("\0"):
        if record[7:12] != "blob ":
            continue
        tab = record.find("\t", 12)
        path = record[tab + 1 :]
        if path.startswith(_PROMPTS_PREFIX) and path.endswith(PROMPT_SUFFIXES) and not path.endswith(TESTS_SUFFIXES) and "/." not in path:
            append(new(PromptRef, (path[_PREFIX_LEN : path.rfind(".")], path, record[12:tab], commit)))
    return refs


def parse_status_v2(out: str) -> list[FileChange]:
    """`git status --porcelain=v2 -z`: every changed, new, deleted or conflicted path."""
    changes: list[FileChange] = []
    records = out.split("\0")
    index = 0
    while index < len(records):
        record = records[index]
        index += 1
        if not record:
            continue
        kind = record[0]
        if kind == "1":
            parts = record.split(" ", 8)
            changes.append(FileChange(parts[8], _state_from_xy(parts[1])))
        elif kind == "2":
            parts = record.split(" ", 9)
            orig = records[index] if index < len(records) else None
            index += 1
            changes.append(FileChange(parts[9], WorkingState.NEW, orig_path=orig))
            if orig:
                changes.append(FileChange(orig, WorkingState.DELETED))
        elif kind == "u":
            parts = record.split(" ", 10)
            changes.append(FileChange(parts[10], WorkingState.CONFLICTED))
        elif kind == "?":
            changes.append(FileChange(record[2:], WorkingState.NEW))
    return changes


def _state_from_xy(xy: str) -> WorkingState:
    if "D" in xy:
        return WorkingState.DELETED
    if xy[0] == "A":
        return WorkingState.NEW
    if "U" in xy:
        return WorkingState.CONFLICTED
    return WorkingState.MODIFIED


def parse_push_porcelain(out: str) -> list[RefUpdate]:
    updates = []
    for line in out.splitlines():
        if "\t" not in line:
            continue
        flag, refs, *rest = line.split("\t")
        updates.append(RefUpdate(refs.split(":")[-1], flag[:1] or " ", rest[0] if rest else ""))
    return updates


class RemoteTag(NamedTuple):
    """A tag as `ls-remote` lists it: the object its name points at (an annotated tag's own
    object) and the commit that names. Two clones' tags of one name and one commit differ in
    the object: a fetch tells "ours is a copy of theirs" from "ours was never pushed" by it."""

    object: str
    commit: str


def parse_ls_remote_tags(out: str) -> dict[str, RemoteTag]:
    """`ls-remote --tags` -> tag name -> its object and the commit it names (from the peeled entry)."""
    objects: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        if not ref.startswith("refs/tags/"):
            continue
        tag = ref[len("refs/tags/") :]
        if tag.endswith("^{}"):
            peeled[tag[:-3]] = sha
        else:
            objects[tag] = sha
    return {tag: RemoteTag(sha, peeled.get(tag, sha)) for tag, sha in objects.items()}


def tree_entry(data: bytes, name: str, hash_bytes: int) -> str | None:
    """The object id a raw tree object (`cat-file` of a tree) gives `name`; None: no such entry, or
    a submodule's commit (`160000`: an object of another repository). Entries are `<mode> <name>\\0<raw id>`."""
    wanted, at = name.encode("utf-8", "surrogateescape"), 0
    while at < len(data):
        space = data.index(b" ", at)
        end = data.index(b"\0", space)
        if data[space + 1 : end] == wanted:
            return None if data[at:space] == b"160000" else data[end + 1 : end + 1 + hash_bytes].hex()
        at = end + 1 + hash_bytes
    return None


def commit_tree(data: bytes) -> str | None:
    """The tree id of a raw commit object (its first line, `tree <id>`)."""
    first = data.split(b"\n", 1)[0]
    return first[5:].decode("ascii", "replace") if first.startswith(b"tree ") else None


def tag_target(data: bytes) -> str | None:
    """The id of the object a raw tag object names (its first line, `object <id>`)."""
    first = data.split(b"\n", 1)[0]
    return first[7:].decode("ascii", "replace") if first.startswith(b"object ") else None
