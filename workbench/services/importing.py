"""`workbench import FORMAT PATH...`: read foreign files, convert them, write prompt files.

The conversion itself is pure (`workbench.core.formats`); this module does the file work:
reads the source and the files it references (relative to the source's folder), writes each
converted file atomically, leaves files whose content would not change untouched (importing
twice changes nothing), validates what it wrote, and commits nothing.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.formats import Conversion, Format, Source, SourceVersion, formats
from workbench.core.formats.templating import slug
from workbench.core.limited_read import Outside, TooLarge, read_inside
from workbench.core.model import Problem, Severity
from workbench.core.names import prompt_name_problem
from workbench.core.yamlpos import DEFAULT_LIMITS
from workbench.errors import WorkbenchError
from workbench.services.atomic_files import read_regular_file, write_atomically
from workbench.services.import_history import DEFAULT_LABEL_ENV, HistoryReport, import_versions

MAX_SOURCE_BYTES = 16 * 1024 * 1024  # a source file larger than this is refused before it is read
_TOO_LARGE = f"is too large to import (more than {MAX_SOURCE_BYTES:,} bytes)"


class ImportSourceError(WorkbenchError):
    """An import that cannot start: unknown format, missing file."""

    title = "Import error"


@dataclass
class ImportReport:
    written: list[str] = field(default_factory=list)  # repository-relative paths created or changed
    unchanged: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # fields not carried over (file, line, field)
    validation: list[Problem] = field(default_factory=list)  # what `workbench validate` says of the result
    history: HistoryReport | None = None  # commits and deployment events, for a format with history

    @property
    def errors(self) -> list[Problem]:
        return [p for p in (*self.problems, *self.validation) if p.severity is Severity.ERROR]

    def to_dict(self) -> dict[str, object]:
        return {
            "written": self.written,
            "unchanged": self.unchanged,
            "not_carried_over": [p.to_dict() for p in self.problems],
            "validation": [p.to_dict() for p in self.validation],
            **({"history": self.history.to_dict()} if self.history is not None else {}),
        }


def get_format(name: str) -> Format:
    known = formats()
    if name not in known:
        raise ImportSourceError(f"unknown import format {name!r}", hint="formats: " + ", ".join(sorted(known)))
    return known[name]


def default_prefix(path: Path, root: Path) -> str:
    """The folder under prompts/: the source's folder name, or its file name at the top."""
    folder = path.resolve().parent
    if folder == root.resolve():
        stem = path.stem.removesuffix("config").rstrip("-_.") or path.stem
        return slug(stem)
    return slug(folder.name)


def _display(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_source(path: Path) -> str:
    """A source's text: a regular file of at most MAX_SOURCE_BYTES, read no further (a device
    such as /dev/zero never ends, a FIFO waits for a writer for ever).

    Raises:
        OSError: missing, unreadable, or not a regular file. ValueError: too large.
        UnicodeDecodeError: not UTF-8.
    """
    data = read_regular_file(path, MAX_SOURCE_BYTES)
    if data is None:
        path.stat()  # missing or unreadable: the system's own words
        raise OSError(errno.EINVAL, "not a regular file")
    if len(data) > MAX_SOURCE_BYTES:
        raise ValueError(_TOO_LARGE)
    return data.decode("utf-8")


def convert_file(root: Path, fmt: Format, path: Path, prefix: str | None, folder: Path | None = None) -> Conversion:
    """Read `path` and convert it (no writing); `folder` is the folder the user named, if any:
    its subfolders become subfolders of the prefix."""
    try:
        text = _read_source(path)
    except OSError as err:
        raise ImportSourceError(f"cannot read {path}: {err.strerror or err}", hint=f"give the path of a {fmt.name} file") from None
    except UnicodeDecodeError as err:
        raise ImportSourceError(f"{path} is not UTF-8 text (byte {err.start})", hint="convert it to UTF-8 first") from None
    except ValueError as err:
        raise ImportSourceError(f"{path} {err}", hint="split it into smaller files") from None
    base = path.resolve().parent
    readable = (base, root.resolve())

    def read_file(relative: str) -> str:
        """A file the source references (`file://...`). promptfoo reads any path; an imported
        config is someone else's file, so only the config's folder and the repository are read
        (`file:///etc/passwd` would land in prompts/, a commit away from a remote), links
        followed only while they stay inside (`core.limited_read.read_inside`)."""
        for folder in readable:
            try:
                data = read_inside(folder, str(base / relative), MAX_SOURCE_BYTES, "")
            except Outside:
                continue
            except TooLarge:
                raise ValueError(_TOO_LARGE) from None
            return data.decode("utf-8")
        raise ValueError("outside the config's folder and the repository: not read")

    if folder is None:
        chosen = prefix if prefix is not None else default_prefix(path, root)
        source = Source(_display(path, root), text, read_file, chosen)
    else:
        top = prefix if prefix is not None else default_prefix(folder / "x", root)
        sub = path.resolve().parent.relative_to(folder.resolve()).parts
        source = Source(_display(path, root), text, read_file, "/".join(p for p in (top, *sub) if p), top, len(sub))
    return fmt.convert(source)


def source_paths(fmt: Format, paths: list[Path]) -> list[tuple[Path, Path | None]]:
    """The files to read, each with the folder the user named (None for a file named itself):
    each PATH, a folder's files of the format (at any depth), or the default files here."""
    if not paths:
        found = sorted({p for pattern in fmt.default_paths for p in Path().glob(pattern) if p.is_file()})
        if not found:
            raise ImportSourceError(f"no {fmt.default_paths[0]} here", hint=f"give the path: workbench import {fmt.name} PATH")
        return [(p, None) for p in (found[:1] if not fmt.suffixes else found)]
    files: list[tuple[Path, Path | None]] = []
    for path in paths:
        if path.is_dir() and fmt.suffixes:
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.name.endswith(fmt.suffixes) and not p.name.startswith(("_", ".")))
            if not found:
                raise ImportSourceError(f"no {' or '.join(fmt.suffixes)} files in {path}")
            inside = path.resolve()
            leaving = next((p for p in found if not p.resolve().is_relative_to(inside)), None)
            if leaving is not None:  # read, it said "unexpected error: ValueError" after reading it
                raise ImportSourceError(
                    f"{leaving} is a link to {leaving.resolve()}, outside {path}: nothing imported",
                    hint="copy the file into the folder, or name it on its own",
                )
            files.extend((p, path) for p in found)
        else:
            files.append((path, None))
    return files


def import_paths(
    root: Path,
    format_name: str,
    paths: list[Path],
    *,
    prefix: str | None = None,
    label_env: dict[str, str] | None = None,
    force: bool = False,
) -> ImportReport:
    """Convert every source and write the result under `root` (see the module docstring).

    Args:
        root: the prompt repository.
        format_name: a key of `workbench.core.formats.formats()`.
        paths: the sources; empty means the format's default file in the current folder.
        prefix: folder under prompts/ for the converted prompts (default: per source).
        label_env: for a format with history, which environment each label deploys to.
        force: replace prompt files that have uncommitted changes (refused otherwise).

    Raises:
        ImportSourceError: an unknown format, a source that cannot be read, two sources that
            become one file, or a file with uncommitted changes to replace without `force`.
    """
    fmt = get_format(format_name)
    if prefix:
        problem = prompt_name_problem(prefix.strip("/") if not prefix.startswith("/") else prefix)
        if problem:
            raise ImportSourceError(f"--prefix {prefix!r}: {problem}", hint="a folder under prompts/, e.g. --prefix imported")
    report = ImportReport()
    prompts_dir = (root / "prompts").resolve()
    versions: list[SourceVersion] = []
    planned: dict[str, tuple[Path, str, Path]] = {}  # repo path -> (target, text, source)
    for path, folder in source_paths(fmt, paths):
        conversion = convert_file(root, fmt, path, prefix, folder)
        report.problems.extend(conversion.problems)
        if fmt.history:
            versions.extend(conversion.versions)
            for version in conversion.versions:
                for output in version.files:
                    if not (root / output.path).resolve().is_relative_to(prompts_dir):
                        raise ImportSourceError(f"refusing to write outside prompts/: {output.path}")
                    if len(output.text) > DEFAULT_LIMITS.max_chars:  # a version's commit is all or nothing
                        too_long = _too_long(output.path, len(output.text), path)
                        raise ImportSourceError(too_long.message, hint=too_long.hint)
            continue
        # A file over what a prompt file holds is refused by every command: the source's other
        # files (the prompt that includes it, its partials) are not written without it.
        oversized = [_too_long(o.path, len(o.text), path) for o in conversion.files if len(o.text) > DEFAULT_LIMITS.max_chars]
        if oversized:
            report.problems.extend(oversized)
            continue
        for output in conversion.files:
            target = (root / output.path).resolve()
            if prompts_dir not in target.parents:
                raise ImportSourceError(f"refusing to write outside prompts/: {output.path}")
            if output.path in planned and planned[output.path][1] != output.text:  # a shared partial is one file
                raise ImportSourceError(
                    f"{planned[output.path][2]} and {path} would both become {output.path}",
                    hint="import them one at a time with different --prefix values",
                )
            planned[output.path] = (target, output.text, path)
    changed = {rel: (target, text) for rel, (target, text, _) in planned.items() if not _holds(target, text)}
    _refuse_to_overwrite_edits(root, [rel for rel, (target, _) in changed.items() if target.exists()], force=force)
    for rel, (target, text) in changed.items():
        write_atomically(target, text)
        report.written.append(rel)
    report.unchanged.extend(rel for rel in planned if rel not in changed)
    if fmt.history:
        report.history = _import_history(root, versions, label_env if label_env is not None else dict(DEFAULT_LABEL_ENV))
        touched = sorted({f.path for v in versions for f in v.files})
        report.written = sorted({c["prompt"] for c in report.history.commits})
        report.validation.extend(_validate(root, touched))
        return report
    report.validation.extend(_validate(root, [*report.written, *report.unchanged]))
    return report


def _too_long(rel: str, chars: int, source: Path) -> Problem:
    return Problem(
        rel, 1, 1, f"not written, nor any file of {source.name}: it converts to {chars:,} characters, over the {DEFAULT_LIMITS.max_chars:,} a prompt file holds",
        Severity.ERROR, "split the source into smaller prompts or test files",
    )


def _holds(target: Path, text: str) -> bool:
    try:
        return target.is_file() and target.read_text(encoding="utf-8") == text
    except (OSError, UnicodeDecodeError):
        return False


def _refuse_to_overwrite_edits(root: Path, existing: list[str], *, force: bool) -> None:
    """An import replaces prompt files, as `git checkout` would: a committed file can be had back
    from Git, an uncommitted edit (or a file Git does not track) cannot. Such files are refused
    unless `force`; before, they were overwritten without a word."""
    if force or not existing:
        return
    from workbench.errors import NotFound
    from workbench.services.prompt_files import uncommitted_paths
    from workbench.services.session import RepoSession

    try:
        with RepoSession.open(root) as session:
            dirty = set(uncommitted_paths(session))
    except NotFound:
        dirty = set(existing)  # no Git to get them back from (a repository git refuses raises its error)
    at_risk = sorted(rel for rel in existing if rel in dirty)
    if at_risk:
        shown = ", ".join(at_risk[:5]) + (f" and {len(at_risk) - 5} more" if len(at_risk) > 5 else "")
        raise ImportSourceError(
            f"the import would overwrite uncommitted changes in {shown}",
            hint="commit them first (`workbench commit`), or pass --force to replace them",
        )


def _import_history(root: Path, versions: list[SourceVersion], label_env: dict[str, str]) -> HistoryReport:
    """Commit the versions and record their labels (see `workbench.services.import_history`)."""
    from workbench.services.session import RepoSession

    session = RepoSession.open(root)
    try:
        return import_versions(session, versions, label_env)
    finally:
        session.close()


def _validate(root: Path, paths: list[str]) -> list[Problem]:
    """What `workbench validate` would say about the imported prompt files."""
    from workbench.services.prompts import load_file

    problems: list[Problem] = []
    from workbench.core.model import is_prompt_path

    for rel in paths:
        if not is_prompt_path(rel):
            continue
        result = load_file(root, root / rel)
        problems.extend(result.problems)
    return problems
