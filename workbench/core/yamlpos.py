"""YAML with positions: the parsed value plus the line and column of every node and key.

Validation reports `path:line:col:`, so every value must remember where it came from.
PyYAML's composer keeps marks on nodes; this module walks the node tree once, building
plain Python values and a map from document path to position, and reports duplicate keys
(which PyYAML silently resolves to the last one).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Position:
    line: int  # 1-based
    col: int  # 1-based
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"


@dataclass
class YamlDocument:
    value: Any
    positions: dict[Path, Position] = field(default_factory=dict)  # value nodes
    key_positions: dict[Path, Position] = field(default_factory=dict)  # mapping keys
    duplicates: list[tuple[Path, Position, Position]] = field(default_factory=list)

    def where(self, path: Path, *, key: bool = False) -> Position:
        """Position of `path`, falling back to the nearest ancestor that has one."""
        table = self.key_positions if key else self.positions
        probe = tuple(path)
        while probe:
            if probe in table:
                return table[probe]
            if key and probe in self.positions:
                return self.positions[probe]
            probe = probe[:-1]
        return self.positions.get((), Position(1, 1))


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def _pos(node: yaml.Node) -> Position:
    style = getattr(node, "style", None)  # plain scalars: None from PyYAML, "" from libyaml
    return Position(node.start_mark.line + 1, node.start_mark.column + 1, style if isinstance(style, str) and style else None)


# libyaml's composer is ~10x faster than PyYAML's pure-Python one (45 ms -> 4 ms for a
# 100-case file) and gives the same nodes and marks. Problems are reported by the
# pure-Python loader, whose messages say more. libyaml accepts a tab as separating
# whitespace where PyYAML refuses it, so text with tabs takes the pure-Python path.
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


def parse_yaml(text: str) -> YamlDocument:
    """Parse one YAML document keeping positions.

    Raises:
        YamlSyntaxError: the text is not YAML (with the position of the problem).
    """
    if _FAST_LOADER is not None and "\t" not in text:
        fast = _FAST_LOADER(text)
        try:
            node = fast.get_single_node()
            document = YamlDocument(None)
            if node is not None:
                document.value = _build(fast, node, (), document, depth=0)
            return document
        except (yaml.YAMLError, YamlSyntaxError, RecursionError):
            pass  # parse it again below, for PyYAML's positioned message
        finally:
            fast.dispose()
    return _parse_slow(text)


def _parse_slow(text: str) -> YamlDocument:
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)
        node = loader.get_single_node()
        document = YamlDocument(None)
        if node is not None:
            document.value = _build(loader, node, (), document, depth=0)
        return document
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = err.problem or err.context or "invalid YAML"
        return_msg = f"invalid YAML: {problem}"
        if err.context and err.problem:
            return_msg = f"invalid YAML: {problem} ({err.context})"
        raise YamlSyntaxError(return_msg, line, col) from None
    except yaml.reader.ReaderError as err:
        line = text.count("\n", 0, err.position) + 1
        col = err.position - (text.rfind("\n", 0, err.position) + 1) + 1
        raise YamlSyntaxError(f"invalid YAML: character {err.character!r} is not allowed (control characters must be escaped in a double-quoted string)", line, col) from None
    except yaml.YAMLError as err:
        raise YamlSyntaxError(f"invalid YAML: {err}", 1, 1) from None
    except RecursionError:
        raise YamlSyntaxError("invalid YAML: nested too deeply", 1, 1) from None
    finally:
        if loader is not None:
            loader.dispose()


_MAX_DEPTH = 200


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, doc: YamlDocument, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise YamlSyntaxError("invalid YAML: nested too deeply", node.start_mark.line + 1, node.start_mark.column + 1)
    doc.positions.setdefault(path, _pos(node))
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<` merge keys
        result: dict[Any, Any] = {}
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, (list, dict)):
                key = str(key)
            key_path = (*path, key if isinstance(key, (str, int)) else str(key))
            key_pos = _pos(key_node)
            if key in seen:
                doc.duplicates.append((key_path, key_pos, seen[key]))
            seen[key] = key_pos
            doc.key_positions[key_path] = key_pos
            doc.positions.pop(key_path, None)
            result[key] = _build(loader, value_node, key_path, doc, depth + 1)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, index), doc, depth + 1) for index, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
