"""Prompt files in the working copy: discover, load, validate, read the configuration.

Only the file system, never Git: `workbench validate` and `list` must start fast.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from workbench.core.config import CONFIG_FILE, WorkbenchConfig, parse_config
from workbench.core.limited_read import Outside, TooLarge, read_inside, read_limited
from workbench.core.model import (
    PROMPTS_DIR,
    LoadResult,
    Problem,
    Severity,
    is_prompt_path,
    prompt_file_text,
    prompt_name_from_path,
)
from workbench.core.partials import is_partial_path, partial_closure
from workbench.core.yamlpos import DEFAULT_LIMITS
from workbench.errors import ConfigError, PromptError

MAX_TEXT_BYTES = 4 * DEFAULT_LIMITS.max_chars
"""A YAML file of the working copy is read to at most this: what 1,048,576 characters (the YAML
limit) can take in UTF-8, so no text within the character limit is refused for its bytes."""
_TEXT_RULE = f"the limit is {DEFAULT_LIMITS.max_chars:,} characters"


def find_root(start: Path) -> Path:
    """The prompt repository containing `start`: the nearest folder with prompts/, workbench.yaml or .git."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / PROMPTS_DIR).is_dir() or (candidate / CONFIG_FILE).is_file() or (candidate / ".git").exists():
            return candidate
    return start


def load_config(root: Path, git_dir: Path | None = None, *, remember: bool = True) -> WorkbenchConfig:
    """`workbench.yaml` of the repository, or the defaults when there is none.

    With `git_dir`, a text that passed the schema before (a signed verdict in
    `services.verdicts`) is not checked against it again; `remember=False` (a read-only
    session) reads verdicts without writing or touching any.

    Raises:
        ConfigError: the file is invalid (every problem in the message).
    """
    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        return WorkbenchConfig()
    text = _read(path)
    passed = False
    if git_dir is not None:
        from workbench.services import verdicts

        passed = verdicts.config_schema_passed(git_dir, CONFIG_FILE, text, touch=remember)
    config, problems = parse_config(text, CONFIG_FILE, schema_passed=passed)
    if git_dir is not None and remember and not passed and not problems:
        verdicts.remember_config_passed(git_dir, CONFIG_FILE, text)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise ConfigError("\n".join(p.format() for p in errors), hint="fix workbench.yaml (see `workbench validate`)")
    return config


def _read(path: Path) -> str:
    try:
        return read_text_file(path).decode("utf-8")
    except UnicodeDecodeError:
        raise PromptError(f"{path}: not UTF-8 text") from None
    except TooLarge as err:
        raise PromptError(f"{path}: {too_large(err)}") from None


def too_large(err: TooLarge) -> str:
    """What a YAML file past MAX_TEXT_BYTES is told (at 1:1, as one past the character limit)."""
    return f"the file is more than {err.limit:,} bytes long; the limit is {DEFAULT_LIMITS.max_chars:,} characters"


def discover_prompt_files(root: Path) -> list[Path]:
    """Every prompt file of the working copy (`is_prompt_path`: hidden files and folders skipped), sorted."""
    base = Path(root) / PROMPTS_DIR
    skip = len(str(Path(root))) + 1
    found: list[Path] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_folder = folder[skip:].replace(os.sep, "/")
        found.extend(Path(folder) / f for f in sorted(files) if is_prompt_path(f"{rel_folder}/{f}"))
    return found


def read_confined(root: Path, relpath: str, *, inside: str = PROMPTS_DIR) -> str:
    """The UTF-8 text of `read_confined_bytes` (UnicodeDecodeError when it is not UTF-8)."""
    return read_confined_bytes(root, relpath, inside=inside).decode("utf-8")


def read_confined_bytes(root: Path, relpath: str, *, inside: str = PROMPTS_DIR) -> bytes:
    """Read the working-copy file `relpath` only if it really lies inside `root/inside`: a
    regular file, read to at most MAX_TEXT_BYTES (as `read_text_file`).

    `..` and symbolic links are followed only while they stay inside, part by part as the file
    is opened (`core.limited_read.read_inside`), so neither a path that climbs out, nor a link
    under prompts/ that points elsewhere, nor one swapped in while this reads, is read.
    (References inside prompt files are checked lexically before, by `core.names.resolve_reference`.)

    Raises:
        ValueError: the path (or what a link makes of it) is outside `inside`. TooLarge (a
            ValueError): past MAX_TEXT_BYTES.
        OSError: it cannot be read, or is not a regular file.
    """
    try:
        return read_inside(root, relpath, MAX_TEXT_BYTES, _TEXT_RULE, within=inside)
    except Outside:
        where = f"{inside}/" if inside else "the repository"
        raise ValueError(f"{relpath} is outside {where} (through a link or '..')") from None


def read_text_file(path: Path) -> bytes:
    """The bytes of a YAML (or template) file of the working copy: a regular file, read to at most
    MAX_TEXT_BYTES. A FIFO planted under prompts/ made `validate` (a pre-commit hook) and `list`
    wait for ever, and `validate /dev/zero` read until memory ran out.

    Raises:
        OSError: missing, unreadable, or not a regular file. TooLarge (a ValueError): more than
            MAX_TEXT_BYTES, so more characters than the YAML limit.
    """
    return read_limited(path, MAX_TEXT_BYTES, _TEXT_RULE, regular_only=True)


def _reader(root: Path):  # type: ignore[no-untyped-def]
    def read_file(relpath: str) -> str:
        return read_confined(root, relpath)

    return read_file


def relative(root: Path, path: Path) -> str:
    """`path` relative to the repository's root, its last part not followed: a link under
    prompts/ is named where it is, and `read_confined` reads (or refuses) what it points to.
    (Resolving it named a link to an outside file by its outside path, which was then read.)"""
    try:
        return located(path).relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return Path(path).as_posix()


def located(path: Path) -> Path:
    """Where `path` is, its folders resolved but not its last part (a link stays the link)."""
    path = Path(path)
    return path.parent.resolve() / path.name if path.name not in ("", ".", "..") else path.resolve()


def load_file(root: Path, path: Path) -> LoadResult:
    """Load one prompt file of the working copy; unreadable files become problems."""
    rel = relative(root, path)
    try:
        # A prompt file is read only if it (or what a link makes of it) is inside prompts/.
        data = read_confined_bytes(root, rel) if rel.startswith(PROMPTS_DIR + "/") else read_text_file(path)
    except OSError as err:
        return LoadResult(rel, None, (Problem(rel, 0, 0, f"cannot read: {err.strerror or err}"),))
    except TooLarge as err:
        return LoadResult(rel, None, (Problem(rel, 1, 1, too_large(err)),))
    except ValueError as err:
        return LoadResult(rel, None, (Problem(rel, 0, 0, f"not read: {err}"),))
    text = prompt_file_text(data, rel)
    if isinstance(text, LoadResult):
        return text
    from workbench.core.loader import load_prompt  # with jsonschema and jinja2: not before a prompt is parsed

    return load_prompt(text, rel, read_file=_reader(Path(root)))


def load_workspace_prompt(root: Path, name: str) -> LoadResult:
    """Prompt `name` from the working copy.

    Raises:
        PromptError: `name` is not a valid prompt name (outside prompts/, option-like, ...) or
            there is no such prompt.
    """
    from workbench.core.names import normalised_name, prompt_paths, spelled

    for relpath in prompt_paths(name):
        path = Path(root) / relpath
        if path.is_file():
            return load_file(root, path)
    meant = typed_name(root, name)
    if meant != name:  # typed U+00E9, the file (written on macOS) has e + U+0301
        return load_workspace_prompt(root, meant)
    names = [prompt_name_from_path(relative(root, p)) for p in discover_prompt_files(root)]
    from workbench.core.safe_text import clean
    from workbench.core.schema import did_you_mean

    alike = sorted(n for n in names if normalised_name(n) == normalised_name(name))
    if alike:  # shown as escapes: they look the same as the name typed
        listed = ", ".join(f"'{clean(spelled(n))}'" for n in alike)
        raise PromptError(f"no prompt named '{clean(spelled(name))}'", hint=f"{len(alike)} prompts differ from it only in Unicode normalisation: {listed}; rename all but one")
    guess = did_you_mean(name, names)
    raise PromptError(f"no prompt named '{name}'", hint=f"did you mean '{guess}'?" if guess else "see `workbench list`")


def typed_name(root: Path, name: str) -> str:
    """The prompt a name typed by the user means: itself when the working copy has it (or it is
    no valid name: the command says why), else the one prompt equal to it in NFC
    (`core.names.same_prompt_name`: a macOS file name typed on a keyboard), else itself."""
    from workbench.core.names import prompt_name_problem, prompt_paths, same_prompt_name

    if prompt_name_problem(name) is not None or any((Path(root) / p).is_file() for p in prompt_paths(name)):
        return name
    return same_prompt_name(name, (prompt_name_from_path(relative(root, p)) for p in discover_prompt_files(root))) or name


def partials_in_text(root: Path, text: str | None) -> list[str]:
    """The partials a working-copy prompt text includes, transitively (paths under prompts/)."""

    def read(relpath: str) -> str | None:
        try:
            return read_confined(root, relpath)
        except (OSError, ValueError):
            return None

    return list(partial_closure(text, read))


def prompt_users_of(root: Path, partial: str) -> list[Path]:
    """The prompt files of the working copy that include `partial` (directly or not)."""
    users = []
    for path in discover_prompt_files(root):
        try:
            text = read_confined(root, relative(root, path))
        except (OSError, ValueError):
            continue
        if partial in partials_in_text(root, text):
            users.append(path)
    return users


def validate_paths(root: Path, paths: Iterable[Path] = ()) -> list[LoadResult]:
    """Load every prompt file under `paths` (default: prompts/) and check names do not clash."""
    files: list[Path] = []
    targets = list(paths) or [Path(root) / PROMPTS_DIR]
    for target in targets:
        if target.is_dir():
            files.extend(p for p in discover_prompt_files(root) if located(p).is_relative_to(target.resolve()))
        elif target.exists() and is_partial_path(relative(root, target)):
            # A partial is checked through the prompts that include it (its problems carry its path).
            files.extend(prompt_users_of(root, relative(root, target)))
        elif target.exists():
            files.append(target)
        else:
            rel = relative(root, target)
            return [LoadResult(rel, None, (Problem(rel, 0, 0, "no such file or folder"),))]
    results = [load_file(root, f) for f in dict.fromkeys(files)]
    from workbench.core.names import normalised_name, spelled

    by_name: dict[str, str] = {}  # by `normalised_name`: `e\u0301` and `\u00e9` are one name to type
    clashed: list[LoadResult] = []
    for result in results:
        name = prompt_name_from_path(result.path)
        other = by_name.get(normalised_name(name))
        if other is None:
            by_name[normalised_name(name)] = result.path
            clashed.append(result)
            continue
        if prompt_name_from_path(other) == name:
            clash = Problem(result.path, 1, 1, f"prompt name '{name}' clashes with {other}", Severity.ERROR, "keep one of .yaml / .yml")
        else:
            message = f"prompt names '{spelled(name)}' and '{spelled(prompt_name_from_path(other))}' differ only in Unicode normalisation"
            clash = Problem(result.path, 1, 1, message, Severity.ERROR, "rename one: a typed name could mean either")
        clashed.append(LoadResult(result.path, None, (*result.problems, clash)))
    return clashed


def validate_workspace(root: Path) -> tuple[list[LoadResult], list[Problem]]:
    """What `workbench validate` checks with no arguments: every prompt file under prompts/
    (names clashing included) and `workbench.yaml`. Returns (the prompt files' results, every
    problem: theirs, then the configuration's)."""
    results = validate_paths(root)
    problems = [p for r in results for p in r.problems]
    config_path = Path(root) / CONFIG_FILE
    if config_path.is_file():
        problems.extend(config_file_problems(config_path))
    return results, problems


def config_file_problems(path: Path) -> list[Problem]:
    """Every problem of a `workbench.yaml`, checked in full; one that cannot be read is one too."""
    try:
        text = _read(path)
    except PromptError as err:
        return [Problem(CONFIG_FILE, 0, 0, err.message)]
    except OSError as err:
        return [Problem(CONFIG_FILE, 0, 0, f"cannot read: {err.strerror or err}")]
    return parse_config(text, CONFIG_FILE)[1]
