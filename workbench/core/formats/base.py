"""What every format converter shares: its input, its output and deterministic YAML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from workbench.core.model import Problem, Prompt

ReadFile = Callable[[str], str]  # a path relative to the source's folder -> its text (raises OSError)


@dataclass(frozen=True)
class Source:
    """What a converter gets: the main file and a way to read the files it references."""

    path: str  # as the user named it, for messages
    text: str
    read_file: ReadFile
    prefix: str  # folder under prompts/ for the converted prompts
    root_prefix: str | None = None  # folder under prompts/ of the folder the user named (None: `prefix`)
    depth: int = 0  # folders between the folder the user named and this file (Dotprompt partials live at its root)


@dataclass(frozen=True)
class OutputFile:
    """One file to write, relative to the repository root."""

    path: str
    text: str


@dataclass(frozen=True)
class SourceVersion:
    """One version of one prompt, from a source that carries history (Langfuse).

    The import service commits `files` as one commit of `prompt`, oldest version first, dated
    `when` and authored by `author`, then records each label as a deployment event.
    """

    prompt: str  # workbench name (path under prompts/ without the extension)
    number: int  # the source's version number
    files: tuple[OutputFile, ...]
    message: str  # the commit message (the source's commit message, else a generated one)
    when: str | None = None  # ISO 8601 time the source created the version
    author: str | None = None  # who created it, as the source says ("Ada" or "Ada <ada@x.org>")
    labels: tuple[str, ...] = ()  # the source's labels on this version (`production`, `latest`, ...)
    key: str = ""  # identifies the version in the source, written as a commit trailer (re-imports skip it)


@dataclass
class Conversion:
    files: list[OutputFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # fields not carried over, with positions
    versions: list[SourceVersion] = field(default_factory=list)  # history: one commit each, oldest first


@dataclass(frozen=True)
class ExportedVersion:
    """One version of a prompt handed to a format's writer (`workbench export --format`)."""

    prompt: Prompt  # parsed, partials included (their text at that commit)
    commit: str
    version: str | None = None  # release label (`support/summarize@v3`), when released
    when: str = ""  # ISO 8601 author date of the commit
    author: str = ""  # "Name <email>"
    message: str = ""  # the commit message
    labels: tuple[str, ...] = ()  # environments that run this version, in the target's words


@dataclass(frozen=True)
class ExportItem:
    """A prompt an environment runs: its versions, oldest first; the last one is what runs."""

    name: str
    versions: tuple[ExportedVersion, ...]

    @property
    def current(self) -> ExportedVersion:
        return self.versions[-1]


ExportWriter = Callable[[list[ExportItem]], Conversion]


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    default_paths: tuple[str, ...]  # what to read when no PATH is given (globs allowed)
    convert: Callable[[Source], Conversion]
    export: ExportWriter | None = None  # writes files relative to the export folder
    suffixes: tuple[str, ...] = ()  # the files to take from a folder given as PATH
    history: bool = False  # versions become commits (and labels deployment events)
    export_history: bool = False  # the writer wants every version up to the one that runs


def dump_yaml(document: Any, quoting: type[yaml.resolver.Resolver] | None = None) -> str:
    """Deterministic YAML for converted files (same input, same bytes: imports are idempotent).
    `quoting`: a mixin whose `resolve` says which strings the file's other reader would not read
    back as strings (`go_yaml.GoQuoting` for gh), so they are quoted."""

    class _Dumper(*((quoting,) if quoting is not None else ()), yaml.SafeDumper):  # type: ignore[misc]
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if "\n" in value and not any(c in value for c in "\r\t") and value == value.rstrip(" ") and "\n " not in value.replace("\n  ", "\n"):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    _Dumper.add_representer(str, _str)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
