"""What every format converter shares: its input, its output and deterministic YAML."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from workbench.core.model import Problem

ReadFile = Callable[[str], str]  # a path relative to the source's folder -> its text (raises OSError)


@dataclass(frozen=True)
class Source:
    """What a converter gets: the main file and a way to read the files it references."""

    path: str  # as the user named it, for messages
    text: str
    read_file: ReadFile
    prefix: str  # folder under prompts/ for the converted prompts


@dataclass(frozen=True)
class OutputFile:
    """One file to write, relative to the repository root."""

    path: str
    text: str


@dataclass
class Conversion:
    files: list[OutputFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # fields not carried over, with positions


@dataclass(frozen=True)
class Format:
    name: str
    description: str
    default_paths: tuple[str, ...]  # what to read when no PATH is given
    convert: Callable[[Source], Conversion]


def dump_yaml(document: Any) -> str:
    """Deterministic YAML for converted files (same input, same bytes: imports are idempotent)."""

    class _Dumper(yaml.SafeDumper):
        pass

    def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
        if "\n" in value and not any(c in value for c in "\r\t") and value == value.rstrip(" ") and "\n " not in value.replace("\n  ", "\n"):
            return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)

    _Dumper.add_representer(str, _str)
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
