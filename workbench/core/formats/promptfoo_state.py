"""The state of one promptfoo conversion (the source, its parsed documents, what could not be carried over) and reading the files it references."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.core.formats.base import Source
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import YamlDocument


@dataclass
class ConversionState:
    source: Source
    doc: YamlDocument
    problems: list[Problem] = field(default_factory=list)
    cases: int = 0  # tests expanded so far (`promptfoo_tests.MAX_CASES`)
    var_text: int = 0  # characters of `file://` vars read so far (`promptfoo_tests.MAX_VAR_TEXT`)
    case_text: int = 0  # characters the expanded cases' vars amount to so far (`DEFAULT_LIMITS.max_chars`)

    def lost(self, path: tuple[Any, ...], message: str, *, file: str | None = None, line: int = 0, col: int = 0, hint: str | None = None) -> None:
        """Record a field that is not carried over."""
        if file is None:
            pos = self.doc.where(path, key=bool(path) and isinstance(path[-1], str))
            file, line, col = self.source.path, pos.line, pos.col
        self.problems.append(Problem(file, max(line, 1), max(col, 1), message, Severity.WARNING, hint))


def read_reference(state: ConversionState, reference: str, where: tuple[Any, ...]) -> str | None:
    relative = reference[len("file://") :] if reference.startswith("file://") else reference
    if any(c in relative for c in "*?["):
        state.lost(where, f"glob {reference} not carried over", hint="list the files one by one")
        return None
    try:
        return state.source.read_file(relative)
    except (OSError, KeyError, ValueError) as err:
        state.lost(where, f"cannot read {relative}: {getattr(err, 'strerror', None) or err}")
        return None
