"""What assertions see besides the output, and how their values are read: templates over the case's vars, file:// files inside the repository, CSV lists."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Template

from workbench.core import csvvalues
from workbench.core.assertion_files import MAX_ASSERTION_FILE_BYTES, assertion_path
from workbench.core.jsvalues import nunjucks_text
from workbench.core.limited_read import Outside, TooLarge, mib, read_inside
from workbench.core.names import UnsafePath
from workbench.core.render import render_within, variables_budget
from workbench.core.sandbox import BoundedEnvironment, TemplateLimitError
from workbench.evals.assert_json import load_yaml


class AssertionConfigError(Exception):
    """An assertion promptfoo would refuse (its `invariant` failures): the case errors."""


@dataclass(frozen=True)
class FilesAt:
    """The files a suite's assertions name (`core.assertion_files`), as they were at the revision
    under test: read from Git before the run, so a run of a revision never reads the working
    copy's files. Repository path -> bytes; None (or not there): the file does not exist there."""

    revision: str  # as the user named it, for messages
    files: Mapping[str, bytes | None]


@dataclass(frozen=True)
class GradingContext:
    """What an assertion may look at besides the output."""

    vars: dict[str, Any]
    latency_ms: float | None = None
    cost: float | None = None
    cached: bool = False
    root: Path | None = None
    embed: Callable[[list[str]], Awaitable[list[list[float]]]] | None = None
    grade: Callable[[str], Awaitable[str]] | None = None  # llm-rubric: prompt -> grader reply
    logprobs: tuple[float, ...] | None = None  # token logprobs, when the provider returned them
    tools: tuple[Any, ...] | None = None  # the prompt's OpenAI tool definitions (issue 14 fills these)
    functions: tuple[Any, ...] | None = None  # legacy OpenAI function definitions
    python_assertions: bool = True  # False: `python` assertions and transforms are refused (core.trust)
    python_assertions_source: str = ""
    files_at: FilesAt | None = None  # a run of a revision: its files; None: the working copy's


class AssertionRefused(Exception):
    """An assertion the trust policy does not run: it fails, negated or not."""


def read_repo_file(root: Path | None, relative: str, files_at: FilesAt | None = None) -> tuple[Path, str]:
    """(path, UTF-8 text) of a file an assertion names with file://: relative to the repository,
    never outside it (`core.limited_read.read_inside`: no link swapped in leads it out), a
    regular file read to at most MAX_ASSERTION_FILE_BYTES (a FIFO in its place held the run for
    ever). With `files_at` (a run of a revision), the file as it was there, never the working copy's.

    Raises:
        AssertionConfigError: the path climbs out, is absolute, or a link leads outside; not
            readable, not a regular file, too large, not UTF-8; not at the revision.
    """
    if files_at is not None:
        return _file_at(root, relative, files_at)
    base = root or Path.cwd()
    try:  # the one rule for file:// references, here relative to the repository root
        repo_path = assertion_path(relative)
        return base / repo_path, read_inside(base, repo_path, MAX_ASSERTION_FILE_BYTES, _LIMIT_RULE).decode("utf-8")
    except UnsafePath as err:
        raise AssertionConfigError(f"file {relative}: {err.reason}") from None
    except Outside:
        raise AssertionConfigError(f"file {relative} is outside the repository (through a link)") from None
    except OSError as err:
        raise AssertionConfigError(f"cannot read {relative}: {err.strerror or err}") from None
    except (TooLarge, UnicodeDecodeError) as err:
        raise AssertionConfigError(f"cannot read {relative}: {err}") from None


_LIMIT_RULE = f"a file an assertion names may hold at most {mib(MAX_ASSERTION_FILE_BYTES)}"


def _file_at(root: Path | None, relative: str, files_at: FilesAt) -> tuple[Path, str]:
    try:
        repo_path = assertion_path(relative)
    except UnsafePath as err:
        raise AssertionConfigError(f"file {relative}: {err.reason}") from None
    data = files_at.files.get(repo_path)
    if data is None:
        raise AssertionConfigError(f"cannot read {relative}: it does not exist at {files_at.revision}")
    try:
        if len(data) > MAX_ASSERTION_FILE_BYTES:
            raise TooLarge(MAX_ASSERTION_FILE_BYTES, _LIMIT_RULE)
        return (root or Path.cwd()) / repo_path, data.decode("utf-8")
    except (TooLarge, UnicodeDecodeError) as err:
        raise AssertionConfigError(f"cannot read {relative}: {err}") from None


def excerpt(text: str, limit: int = 80) -> str:
    flat = text.replace("\n", "⏎")
    return repr(flat if len(flat) <= limit else flat[: limit - 1] + "…")


def shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_comma_separated(value: str) -> list[str]:
    """promptfoo's contains-any/all CSV rule (see `workbench.core.csvvalues`).

    Raises:
        AssertionConfigError: an unterminated quote, or text after a closing quote.
    """
    try:
        return csvvalues.parse_comma_separated(value)
    except csvvalues.CsvValueError as err:
        raise AssertionConfigError(str(err)) from None


@cache
def _value_environment() -> BoundedEnvironment:
    # Like nunjucks in promptfoo: an undefined variable renders as nothing, and values print as
    # JavaScript prints them (`true`, `2` for 2.0, nothing for null; Jinja printed `True`, `2.0`,
    # `None`, so `contains: "{{ flag }}"` failed on an answer promptfoo passes). Bounded like
    # prompt templates: a plain sandbox let a 30-byte value (`'a' * 400000000`) take 1.6 GB, or
    # a nested loop run forever.
    return BoundedEnvironment(autoescape=False, keep_trailing_newline=True, text=nunjucks_text)


@lru_cache(maxsize=512)
def _compiled_value(text: str) -> Template:
    return _value_environment().from_string(text)


def render_value(text: str, variables: dict[str, Any]) -> str:
    """A string assertion value rendered with the case's vars (promptfoo renders with nunjucks),
    within the render limits of prompt templates (`core.render.render_within`).

    Raises:
        AssertionConfigError: the value does not render, or passes a limit (named): the case errs.
    """
    if "{{" not in text and "{%" not in text and "{#" not in text:
        return text
    try:
        return str(render_within(variables_budget(variables), _compiled_value(text), variables))
    except TemplateLimitError as err:
        raise AssertionConfigError(f"cannot render the assertion value {excerpt(text)}: {err.message}") from None
    except Exception as err:
        raise AssertionConfigError(f"cannot render the assertion value {excerpt(text)}: {err}") from None


def load_file_value(reference: str, ctx: GradingContext) -> Any:
    relative = reference[len("file://") :]
    path, text = read_repo_file(ctx.root, relative, ctx.files_at)
    suffix = path.suffix.lower()
    if suffix in (".json", ".yaml", ".yml"):
        return load_yaml(text)
    if suffix == ".txt":
        return text.strip()
    raise AssertionConfigError(f"Unsupported file type: {relative}")


def resolve_value(value: Any, ctx: GradingContext) -> Any:
    if isinstance(value, str):
        if value.startswith("file://") and not re.search(r"\.py(:|$)", value):
            return load_file_value(value, ctx)
        return render_value(value, ctx.vars)
    if isinstance(value, list):
        return [
            (load_file_value(v, ctx) if v.startswith("file://") else render_value(v, ctx.vars)) if isinstance(v, str) else v
            for v in value
        ]
    return value
