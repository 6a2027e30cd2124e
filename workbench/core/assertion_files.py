"""The files a suite's assertions read, named with `file://` inside its test cases.

| where | what is read |
| --- | --- |
| an assertion's `value` (or an item of a list value): `file://x.json`, `.yaml`, `.yml`, `.txt` | its data or text (`evals.assert_values.load_file_value`) |
| a `python` assertion's `value`, an assertion's `transform`, a case's `options.transform`: `file://x.py[:function]` | the code run |

Their paths are relative to the repository root and stay inside the repository
(`assertion_path`), whatever folder the prompt or its tests file is in. A suite is these files
as much as its cases: they are part of the stored results' key
(`services.suite_files.content_id`), and a run of a revision reads them at that revision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from workbench.core.model import Assertion, TestCase
from workbench.core.names import FILE_SCHEME, UnsafePath, resolve_reference

MAX_ASSERTION_FILE_BYTES = 16 * 2**20  # a value or a grading script named with file://
_PYTHON_REFERENCE = re.compile(r"\.py(:|$)")


def reference_file(relative: str) -> str:
    """The file part of a reference without its scheme: `checks/grade.py:check` ->
    `checks/grade.py` (a Python file names a function after `:`); other files as they are."""
    return relative.partition(":")[0] if _PYTHON_REFERENCE.search(relative) else relative


def assertion_path(relative: str) -> str:
    """The repository path an assertion's `file://` reference (without the scheme) names.

    Raises:
        UnsafePath: it is absolute, climbs out of the repository, or breaks the path rule of
            `core.names.resolve_reference`.
    """
    return resolve_reference(relative, "", inside="")


def assertion_files(cases: Iterable[TestCase]) -> list[str]:
    """Repository paths of every file the cases' assertions and transforms name, sorted; a
    reference that breaks the path rule is left out (the case errs when it runs)."""
    found: set[str] = set()
    for reference in _references(cases):
        try:
            found.add(assertion_path(reference_file(reference[len(FILE_SCHEME) :])))
        except UnsafePath:
            continue
    return sorted(found)


def _references(cases: Iterable[TestCase]) -> Iterator[str]:
    for case in cases:
        yield from _file_strings(case.transform)
        yield from _assertion_references(case.asserts)


def _assertion_references(asserts: Iterable[Assertion]) -> Iterator[str]:
    for assertion in asserts:
        yield from _file_strings(assertion.transform)
        yield from _file_strings(assertion.value)
        yield from _assertion_references(assertion.children)


def _file_strings(value: Any) -> Iterator[str]:
    items = value if isinstance(value, (list, tuple)) else (value,)
    yield from (item for item in items if isinstance(item, str) and item.startswith(FILE_SCHEME))
