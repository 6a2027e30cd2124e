"""The diff model shared by the TUI and the CLI: pure data computed with difflib.

Three levels, from coarse to fine:

- `PromptDiff`: field-aware sections (metadata, model settings, each message, the template,
  inputs, each tool, tool_choice, response_format, each test, each partial, each other file the suite reads that
  changed) computed from the two parsed YAML documents, so a reviewer reads
  'message 2 (user)' changed rather than hunting through line numbers. When either side does
  not parse as a mapping, there is one whole-file section instead.
- `TextDiff`: line pairs (left line number, right line number, kind) with intraline word
  spans for replaced lines; long unchanged stretches can be folded to N lines of context.
- `unified`: plain unified diff text, for `--unified`, patches and CI logs.

Rendering (colours, signs, side by side) belongs to the CLI and the TUI, never here.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import yaml

from workbench.core.diff_fields import TOOL_KEYS, file_sections, inline_tests, partial_sections, tool_sections
from workbench.core.line_match import LineMatcher, unified_lines
from workbench.core.yamlpos import YamlSyntaxError, load_plain


class LineKind(StrEnum):
    EQUAL = "equal"
    INSERT = "insert"
    DELETE = "delete"
    REPLACE = "replace"


Span = tuple[int, int]  # [start, end) character offsets of a changed stretch within a line


@dataclass(frozen=True)
class LinePair:
    """One row of a side-by-side diff. Line numbers are 1-based; None where a side is empty."""

    kind: LineKind
    left_no: int | None
    right_no: int | None
    left: str | None
    right: str | None
    left_spans: tuple[Span, ...] = ()
    right_spans: tuple[Span, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "left_no": self.left_no,
            "right_no": self.right_no,
            "left": self.left,
            "right": self.right,
            "left_spans": [list(s) for s in self.left_spans],
            "right_spans": [list(s) for s in self.right_spans],
        }


@dataclass(frozen=True)
class FoldedLines:
    """A run of unchanged lines hidden by `TextDiff.folded`."""

    count: int
    left_start: int
    right_start: int


@dataclass(frozen=True)
class TextDiff:
    pairs: tuple[LinePair, ...]

    @property
    def changed(self) -> bool:
        return any(p.kind is not LineKind.EQUAL for p in self.pairs)

    @property
    def added(self) -> int:
        return sum(1 for p in self.pairs if p.right is not None and p.kind is not LineKind.EQUAL)

    @property
    def removed(self) -> int:
        return sum(1 for p in self.pairs if p.left is not None and p.kind is not LineKind.EQUAL)

    def folded(self, context: int = 3) -> list[LinePair | FoldedLines]:
        """Rows with unchanged stretches longer than 2*context (+1) replaced by `FoldedLines`."""
        rows: list[LinePair | FoldedLines] = []
        pairs = self.pairs
        n = len(pairs)
        index = 0
        while index < n:
            if pairs[index].kind is not LineKind.EQUAL:
                rows.append(pairs[index])
                index += 1
                continue
            end = index
            while end < n and pairs[end].kind is LineKind.EQUAL:
                end += 1
            keep_head = 0 if index == 0 else context
            keep_tail = 0 if end == n else context
            if (end - index) - keep_head - keep_tail > 1:
                rows.extend(pairs[index : index + keep_head])
                first_hidden = pairs[index + keep_head]
                hidden = (end - index) - keep_head - keep_tail
                rows.append(FoldedLines(hidden, first_hidden.left_no or 0, first_hidden.right_no or 0))
                rows.extend(pairs[end - keep_tail : end])
            else:
                rows.extend(pairs[index:end])
            index = end
        return rows

    def change_indexes(self) -> list[int]:
        """Index of the first pair of each block of changes (for next/previous change keys)."""
        starts = []
        previous_equal = True
        for index, pair in enumerate(self.pairs):
            is_change = pair.kind is not LineKind.EQUAL
            if is_change and previous_equal:
                starts.append(index)
            previous_equal = not is_change
        return starts

    def to_dict(self) -> dict[str, Any]:
        return {"added": self.added, "removed": self.removed, "lines": [p.to_dict() for p in self.pairs]}


_TOKEN_RE = re.compile(r"\w+|\s+|[^\w\s]", re.UNICODE)


def word_spans(left: str, right: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Intraline changes: character spans of the words that differ between two lines."""
    left_tokens = _TOKEN_RE.findall(left)
    right_tokens = _TOKEN_RE.findall(right)
    matcher = difflib.SequenceMatcher(None, left_tokens, right_tokens, autojunk=False)
    left_offsets = _offsets(left_tokens)
    right_offsets = _offsets(right_tokens)
    left_spans: list[Span] = []
    right_spans: list[Span] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            left_spans.append((left_offsets[i1], left_offsets[i2]))
        if j2 > j1:
            right_spans.append((right_offsets[j1], right_offsets[j2]))
    return tuple(left_spans), tuple(right_spans)


def _offsets(tokens: Sequence[str]) -> list[int]:
    offsets = [0]
    for token in tokens:
        offsets.append(offsets[-1] + len(token))
    return offsets


def diff_lines(left: str, right: str) -> TextDiff:
    """Line pairs between two texts; replaced lines are paired one to one with word spans."""
    left_lines = left.splitlines()
    right_lines = right.splitlines()
    matcher = LineMatcher(left_lines, right_lines, autojunk=False)
    pairs: list[LinePair] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            for k in range(i2 - i1):
                pairs.append(LinePair(LineKind.EQUAL, i1 + k + 1, j1 + k + 1, left_lines[i1 + k], right_lines[j1 + k]))
        elif tag == "delete":
            for k in range(i1, i2):
                pairs.append(LinePair(LineKind.DELETE, k + 1, None, left_lines[k], None, ((0, len(left_lines[k])),)))
        elif tag == "insert":
            for k in range(j1, j2):
                pairs.append(LinePair(LineKind.INSERT, None, k + 1, None, right_lines[k], (), ((0, len(right_lines[k])),)))
        else:
            common = min(i2 - i1, j2 - j1)
            for k in range(common):
                a, b = left_lines[i1 + k], right_lines[j1 + k]
                left_spans, right_spans = word_spans(a, b)
                pairs.append(LinePair(LineKind.REPLACE, i1 + k + 1, j1 + k + 1, a, b, left_spans, right_spans))
            for k in range(i1 + common, i2):
                pairs.append(LinePair(LineKind.DELETE, k + 1, None, left_lines[k], None, ((0, len(left_lines[k])),)))
            for k in range(j1 + common, j2):
                pairs.append(LinePair(LineKind.INSERT, None, k + 1, None, right_lines[k], (), ((0, len(right_lines[k])),)))
    return TextDiff(tuple(pairs))


def unified_diff(
    left: str,
    right: str,
    left_label: str,
    right_label: str,
    context: int = 3,
    *,
    left_path: str | None = None,
    right_path: str | None = None,
) -> str:
    """Plain unified diff text (empty when the texts are equal).

    With the files' paths, the headers read `--- a/<path>\t<label>`, so the text is a patch
    that `git apply` and `patch -p1` accept (a missing side is `/dev/null`).
    """
    if left_path is not None or right_path is not None:
        fromfile = f"a/{left_path}" if left_path else "/dev/null"
        tofile = f"b/{right_path}" if right_path else "/dev/null"
        headers = {"fromfile": fromfile, "tofile": tofile, "fromfiledate": left_label, "tofiledate": right_label}
    else:
        headers = {"fromfile": left_label, "tofile": right_label}
    lines = unified_lines(
        left.splitlines(keepends=True),
        right.splitlines(keepends=True),
        n=context,
        **headers,
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


# ------------------------------------------------------------------------------ field-aware


@dataclass(frozen=True)
class DiffSection:
    """One field of a prompt: `title` like 'message 2 (user)' or 'test "refund is flagged"'."""

    key: str
    title: str
    status: str  # added | removed | changed | unchanged
    diff: TextDiff

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "status": self.status, **self.diff.to_dict()}


@dataclass(frozen=True)
class PromptDiff:
    """The diff of one prompt between two versions (either side may be missing)."""

    name: str
    left_label: str
    right_label: str
    left_text: str | None
    right_text: str | None
    sections: tuple[DiffSection, ...]
    text: TextDiff
    unified: str
    field_aware: bool = True
    notes: tuple[str, ...] = field(default=())
    # Texts of the tests file the prompt references (`tests: file://...`), when it does.
    left_tests_text: str | None = None
    right_tests_text: str | None = None
    # The partials each side includes (path -> text, None when missing), transitively.
    left_partials: Mapping[str, str | None] = field(default_factory=dict)
    right_partials: Mapping[str, str | None] = field(default_factory=dict)
    # Other files its suite reads that differ (path -> text, None where absent): `services.suite_files.changed_reads`.
    left_files: Mapping[str, str | None] = field(default_factory=dict)
    right_files: Mapping[str, str | None] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return (
            self.left_text != self.right_text
            or self.left_tests_text != self.right_tests_text
            or dict(self.left_partials) != dict(self.right_partials)
            or dict(self.left_files) != dict(self.right_files)
        )

    @property
    def changed_sections(self) -> tuple[DiffSection, ...]:
        return tuple(s for s in self.sections if s.status != "unchanged")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "left": self.left_label,
            "right": self.right_label,
            "changed": self.changed,
            "field_aware": self.field_aware,
            "left_exists": self.left_text is not None,
            "right_exists": self.right_text is not None,
            "sections": [s.to_dict() for s in self.sections],
            "unified": self.unified,
            "notes": list(self.notes),
            "partials": sorted({*self.left_partials, *self.right_partials}),
            "files": sorted({*self.left_files, *self.right_files}),
        }


_STRUCTURED_KEYS = ("model", "inputs", "messages", "template", "tests", *TOOL_KEYS)


def diff_prompt_texts(
    left_text: str | None,
    right_text: str | None,
    *,
    name: str,
    left_label: str = "a",
    right_label: str = "b",
    left_tests_text: str | None = None,
    right_tests_text: str | None = None,
    left_path: str | None = None,
    right_path: str | None = None,
    left_tests_path: str | None = None,
    right_tests_path: str | None = None,
    left_partials: Mapping[str, str | None] | None = None,
    right_partials: Mapping[str, str | None] | None = None,
    left_files: Mapping[str, str | None] | None = None,
    right_files: Mapping[str, str | None] | None = None,
) -> PromptDiff:
    """Diff two versions of a prompt file; `None` means the file does not exist on that side.

    `left_tests_text` / `right_tests_text`: the tests file a side references with
    `tests: file://...`; its cases then appear as test sections, and its patch is appended.
    `left_partials` / `right_partials`: the partials each side includes (path -> text); each
    gets its own section, and its patch is appended. `left_files` / `right_files`: the other files
    the suite reads that differ (a python check): the same, but not again for the tests file above.
    """
    left_partials, right_partials = dict(left_partials or {}), dict(right_partials or {})
    left_files, right_files = dict(left_files or {}), dict(right_files or {})
    left = left_text or ""
    right = right_text or ""
    whole = diff_lines(left, right)
    unified = unified_diff(
        left, right, left_label, right_label,
        left_path=left_path if left_text is not None else None, right_path=right_path if right_text is not None else None,
    )
    if left_tests_text is not None or right_tests_text is not None:
        unified += unified_diff(
            left_tests_text or "", right_tests_text or "", f"{left_label} (tests file)", f"{right_label} (tests file)",
            left_path=left_tests_path if left_tests_text is not None else None,
            right_path=right_tests_path if right_tests_text is not None else None,
        )
    patched = {left_tests_path, right_tests_path} if left_tests_text is not None or right_tests_text is not None else set()
    for kind, lefts, rights in (("partial", left_partials, right_partials), ("file", left_files, right_files)):
        for path in sorted({*lefts, *rights} - patched):
            old, new = lefts.get(path), rights.get(path)
            if old != new:
                unified += unified_diff(
                    old or "", new or "", f"{left_label} ({kind})", f"{right_label} ({kind})",
                    left_path=path if old is not None else None, right_path=path if new is not None else None,
                )
    left_plain, right_plain = _parse_mapping(left_text), _parse_mapping(right_text)
    left_doc, right_doc = inline_tests(left_plain, left_tests_text), inline_tests(right_plain, right_tests_text)
    cases_shown = {path for path, plain, doc in ((left_tests_path, left_plain, left_doc), (right_tests_path, right_plain, right_doc)) if doc is not plain}
    extra = [_section(*spec) for spec in [*partial_sections(left_partials, right_partials), *file_sections(left_files, right_files, cases_shown)]]
    notes: list[str] = []
    if left_text is None:
        notes.append(f"first version of {name}: every line is new")
    if right_text is None:
        notes.append(f"{name} is deleted (or renamed) here: every line is removed")
    if (left_text is not None and left_doc is None) or (right_text is not None and right_doc is None):
        side = left_label if left_text is not None and left_doc is None else right_label
        notes.append(f"the file at {side} is not a YAML mapping; showing a whole-file diff")
        section = DiffSection("file", "file", _status(left_text, right_text, whole), whole)
        return PromptDiff(
            name, left_label, right_label, left_text, right_text, (section, *extra), whole, unified, False, tuple(notes),
            left_tests_text, right_tests_text, left_partials, right_partials, left_files, right_files,
        )
    sections = _field_sections(left_doc, right_doc, left_text is not None, right_text is not None) + extra
    return PromptDiff(
        name, left_label, right_label, left_text, right_text, tuple(sections), whole, unified, True, tuple(notes),
        left_tests_text, right_tests_text, left_partials, right_partials, left_files, right_files,
    )


def _parse_mapping(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return {}
    try:
        loaded = load_plain(text)  # the same limits as validation: an alias bomb is not expanded
    except YamlSyntaxError:
        return None
    if loaded is None:
        return {}
    return loaded if isinstance(loaded, dict) else None


_Dumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def _dump(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value if value.endswith("\n") or not value else value + "\n"
    text = yaml.dump(value, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100)
    return str(text)


def _status(left: str | None, right: str | None, diff: TextDiff) -> str:
    if left is None and right is not None:
        return "added"
    if right is None and left is not None:
        return "removed"
    return "changed" if diff.changed or left != right else "unchanged"


def _section(key: str, title: str, left: Any, right: Any, present_left: bool, present_right: bool) -> DiffSection:
    left_text = _dump(left) if present_left else None
    right_text = _dump(right) if present_right else None
    diff = diff_lines(left_text or "", right_text or "")
    status = _status(left_text, right_text, diff)
    if status == "unchanged" and left != right:
        status = "changed"  # e.g. a type change that dumps identically
    return DiffSection(key, title, status, diff)


def _field_sections(
    left: dict[str, Any] | None, right: dict[str, Any] | None, left_exists: bool, right_exists: bool
) -> list[DiffSection]:
    left = left or {}
    right = right or {}
    sections: list[DiffSection] = []
    meta_left = {k: v for k, v in left.items() if k not in _STRUCTURED_KEYS}
    meta_right = {k: v for k, v in right.items() if k not in _STRUCTURED_KEYS}
    sections.append(_section("metadata", "metadata", meta_left, meta_right, left_exists, right_exists))
    if "model" in left or "model" in right:
        sections.append(_section("model", "model settings", left.get("model"), right.get("model"), "model" in left, "model" in right))
    if "inputs" in left or "inputs" in right:
        sections.append(_section("inputs", "inputs", left.get("inputs"), right.get("inputs"), "inputs" in left, "inputs" in right))
    sections.extend(_message_sections(left.get("messages"), right.get("messages"), "messages" in left, "messages" in right))
    if "template" in left or "template" in right:
        sections.append(
            _section("template", "template", left.get("template"), right.get("template"), "template" in left, "template" in right)
        )
    sections.extend(_section(*spec) for spec in tool_sections(left, right))
    sections.extend(_test_sections(left.get("tests"), right.get("tests"), "tests" in left, "tests" in right))
    return sections


def _align(left: Sequence[Any], right: Sequence[Any], key: Callable[[Any], str]) -> list[tuple[int | None, int | None]]:
    """Pair list items: equal items by content, the rest position by position within each gap."""
    matcher = LineMatcher([key(x) for x in left], [key(x) for x in right], autojunk=False)
    pairs: list[tuple[int | None, int | None]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pairs.extend((i1 + k, j1 + k) for k in range(i2 - i1))
            continue
        common = min(i2 - i1, j2 - j1) if tag == "replace" else 0
        pairs.extend((i1 + k, j1 + k) for k in range(common))
        pairs.extend((k, None) for k in range(i1 + common, i2))
        pairs.extend((None, k) for k in range(j1 + common, j2))
    return pairs


def _message_sections(left: Any, right: Any, has_left: bool, has_right: bool) -> list[DiffSection]:
    if not has_left and not has_right:
        return []
    if not (isinstance(left, list) or left is None) or not (isinstance(right, list) or right is None):
        return [_section("messages", "messages", left, right, has_left, has_right)]
    left_list = left or []
    right_list = right or []

    def role(item: Any) -> str:
        return str(item.get("role", "?")) if isinstance(item, dict) else "?"

    def content(item: Any) -> Any:
        if isinstance(item, dict) and set(item) <= {"role", "content"}:
            return item.get("content")
        return item

    sections = []
    for li, ri in _align(left_list, right_list, key=lambda m: _dump(m)):
        lm = left_list[li] if li is not None else None
        rm = right_list[ri] if ri is not None else None
        number = (ri if ri is not None else li or 0) + 1
        roles = role(rm if rm is not None else lm)
        if lm is not None and rm is not None and role(lm) != role(rm):
            roles = f"{role(lm)} → {role(rm)}"
        title = f"message {number} ({roles})"
        section = _section(f"message:{number}", title, content(lm), content(rm), li is not None, ri is not None)
        if section.status == "unchanged" and lm != rm:
            section = DiffSection(section.key, section.title, "changed", section.diff)
        sections.append(section)
    return sections


def _test_sections(left: Any, right: Any, has_left: bool, has_right: bool) -> list[DiffSection]:
    if not has_left and not has_right:
        return []
    if not (isinstance(left, list) or left is None) or not (isinstance(right, list) or right is None):
        return [_section("tests", "tests", left, right, has_left, has_right)]
    left_list = left or []
    right_list = right or []

    def test_id(item: Any, index: int) -> str:
        if isinstance(item, dict) and item.get("description"):
            return str(item["description"])
        return f"case-{index + 1}"

    left_ids = [test_id(t, i) for i, t in enumerate(left_list)]
    right_ids = [test_id(t, i) for i, t in enumerate(right_list)]
    left_by = dict(zip(left_ids, left_list, strict=False))
    right_by = dict(zip(right_ids, right_list, strict=False))
    order: list[str] = list(dict.fromkeys(right_ids + [i for i in left_ids if i not in right_by]))  # dict: not a list scan

    def body(item: Any) -> Any:
        if isinstance(item, dict):
            return {k: v for k, v in item.items() if k != "description"}
        return item

    return [
        _section(
            f"test:{case}",
            f'test "{case}"',
            body(left_by.get(case)),
            body(right_by.get(case)),
            case in left_by,
            case in right_by,
        )
        for case in order
    ]
