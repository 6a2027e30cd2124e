"""YAML with positions: the parsed value plus the line and column of every node and key.

Validation reports `path:line:col:`, so every value must remember where it came from.
PyYAML's composer keeps marks on nodes; this module walks the node tree once, building
plain Python values and a map from document path to position, and reports duplicate keys
(which PyYAML silently resolves to the last one).

Every YAML text the product reads goes through this module (prompt files, tests files,
`workbench.yaml`, the field-aware diff, `--var` and `--vars-file`), under one set of limits
(`YamlLimits`). An alias (`*a`) repeats its anchor's whole content, so a few hundred bytes
can stand for billions of values ("billion laughs"); the composed node graph is therefore
measured before anything is built from it: values after expansion, characters of scalars
after expansion, nesting depth (aliases included) and self-reference. Measuring visits each
distinct node once, so a bomb is refused in milliseconds, at the line and column of the
first node whose expansion passes a limit. A text without an anchor cannot expand: building
it checks its depth, and its size bounds the rest (`_may_expand`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, NoReturn

import yaml

Path = tuple[str | int, ...]


class Position(NamedTuple):
    """Where a node starts (a tuple: one is made for every node and key of every file read)."""

    line: int  # 1-based
    col: int  # 1-based
    style: str | None = None  # scalar style: None (plain), "'", '"', "|", ">"


@dataclass
class YamlDocument:
    value: Any
    positions: dict[Path, Position] = field(default_factory=dict)  # value nodes
    key_positions: dict[Path, Position] = field(default_factory=dict)  # mapping keys
    duplicates: list[tuple[Path, Position, Position]] = field(default_factory=list)
    nodes: dict[Path, yaml.Node] | None = field(default=None, repr=False)  # value nodes, if asked (`keep_nodes`)

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


class YamlLimitError(YamlSyntaxError):
    """Valid YAML that amounts to too much: past a `YamlLimits` bound, or self-referencing."""


@dataclass(frozen=True)
class YamlLimits:
    """What one YAML text may amount to. Past any of these it is refused with a position."""

    max_chars: int = 1_048_576
    """Characters of the text itself (1 MiB)."""
    max_nodes: int = 200_000
    """Values (scalars, lists, mappings, keys included) once every alias is expanded."""
    max_expanded_chars: int = 4_194_304
    """Characters of all scalars once every alias is expanded (4 MiB)."""
    max_depth: int = 100
    """Nesting levels, counting those that aliases add."""
    max_number_chars: int = 4_300
    """Digits of one number (Python's own limit for converting text to int)."""


DEFAULT_LIMITS = YamlLimits()
DATA_LIMITS = YamlLimits(max_chars=16_777_216, max_nodes=2_000_000, max_expanded_chars=67_108_864)
"""For a user's own data files (`--vars-file`): larger, still bounded."""


def _limit_error(message: str, node_or_mark: Any) -> NoReturn:
    mark = getattr(node_or_mark, "start_mark", node_or_mark)
    line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    raise YamlLimitError(message, line, col)


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader whose composer refuses nesting deeper than the limit.

    The composer recurses once per level; without this, 500 nested `[` end in a
    RecursionError with no position.
    """

    def __init__(self, text: str, limits: YamlLimits) -> None:
        super().__init__(text)
        self._limits = limits
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        try:
            if self._depth > self._limits.max_depth:
                _limit_error(f"invalid YAML: nested more than {self._limits.max_depth} levels deep (the limit)", self.peek_event())
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [child for pair in node.value for child in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def measure(root: yaml.Node, limits: YamlLimits = DEFAULT_LIMITS) -> None:
    """Refuse a composed node graph that expands past `limits` or refers to itself.

    Each distinct node is visited once (iteratively, no recursion) and its expanded size,
    characters and depth are computed from its children's, so the cost is linear in the
    size of the text however much the aliases multiply it.

    Raises:
        YamlLimitError: at the first node (bottom-up) that passes a limit.
    """
    done: dict[int, tuple[int, int, int, bool]] = {}  # id -> (values, characters, depth, uses an alias)
    used: set[int] = set()  # nodes already counted under some parent: a second use is an alias
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, leaving = stack.pop()
        key = id(node)
        if leaving:
            open_.discard(key)
            if isinstance(node, yaml.ScalarNode):
                values, chars, depth, aliased = 1, len(node.value), 1, False
            else:
                values, chars, depth, aliased = 1, 0, 0, False
                for child in _children(node):
                    c_values, c_chars, c_depth, c_aliased = done[id(child)]
                    values += c_values
                    chars += c_chars
                    depth = max(depth, c_depth)
                    aliased = aliased or c_aliased or id(child) in used
                    used.add(id(child))
                depth += 1
            what = "aliases here expand" if aliased else "this value holds"
            if values > limits.max_nodes:
                _limit_error(f"invalid YAML: {what} to more than {limits.max_nodes:,} values (the limit)", node)
            if chars > limits.max_expanded_chars:
                _limit_error(f"invalid YAML: {what} to more than {limits.max_expanded_chars:,} characters (the limit)", node)
            if depth > limits.max_depth:
                _limit_error(f"invalid YAML: nested more than {limits.max_depth} levels deep (the limit{'; aliases count' if aliased else ''})", node)
            done[key] = (values, chars, depth, aliased)
            continue
        if key in done:
            continue
        if key in open_:
            _limit_error("invalid YAML: an alias refers to itself (a value cannot contain itself)", node)
        open_.add(key)
        stack.append((node, True))
        for child in reversed(_children(node)):
            stack.append((child, False))


def _may_expand(text: str, limits: YamlLimits) -> bool:
    """Whether `text` could pass a limit other than depth (which building checks too).

    Only an alias repeats a node, and an alias needs an anchor (`&`). Without one, the scalars
    hold at most the text's own characters (escapes and folding only shrink it) and there are
    at most two values per character (an empty key and its empty value, `{:,:}`). A prompt file
    is far below both, so its node graph need not be measured first (7 ms of a 100-case file).
    """
    return "&" in text or 2 * len(text) + 2 > limits.max_nodes or len(text) > limits.max_expanded_chars


def _pos(node: yaml.Node) -> Position:
    style = getattr(node, "style", None)  # plain scalars: None from PyYAML, "" from libyaml
    return Position(node.start_mark.line + 1, node.start_mark.column + 1, style if isinstance(style, str) and style else None)


# libyaml's composer is ~10x faster than PyYAML's pure-Python one (45 ms -> 4 ms for a
# 100-case file) and gives the same nodes and marks. Problems are reported by the
# pure-Python loader, whose messages say more. libyaml accepts a tab as separating
# whitespace where PyYAML refuses it, so text with tabs takes the pure-Python path.
_FAST_LOADER: type[yaml.SafeLoader] | None = getattr(yaml, "CSafeLoader", None)


_SCHEMA_LOADERS: dict[type, tuple[Any, type[_LimitedLoader]]] = {}


def _loaders(schema: type[yaml.resolver.Resolver] | None) -> tuple[Any, type[_LimitedLoader]]:
    """The fast and the positioned loader classes, reading plain scalars by `schema` first (a
    mixin with its own `resolve` and constructors) where one is given; made once per schema."""
    if schema is None:
        return _FAST_LOADER, _LimitedLoader
    if schema not in _SCHEMA_LOADERS:
        fast = type(f"Fast{schema.__name__}", (schema, _FAST_LOADER), {}) if _FAST_LOADER is not None else None
        _SCHEMA_LOADERS[schema] = (fast, type(f"Limited{schema.__name__}", (schema, _LimitedLoader), {}))
    return _SCHEMA_LOADERS[schema]


def parse_yaml(text: str, limits: YamlLimits = DEFAULT_LIMITS, *, schema: type[yaml.resolver.Resolver] | None = None, keep_nodes: bool = False) -> YamlDocument:
    """Parse one YAML document keeping positions, within `limits`. Plain scalars are read by
    PyYAML's rules (YAML 1.1), or by `schema` for a file another tool reads its own way
    (`formats.go_yaml.GoText`: `gh`'s yaml.v3); every file of the workbench's own is read by
    PyYAML's. `keep_nodes`: `nodes` holds the composed node of each value, for a reader that
    decodes some parts of the file by other rules (`go_yaml.go_value`). A `schema` that hooks
    PyYAML's composer (`composes_in_python`) has a text that may hold an alias composed by PyYAML's.

    Raises:
        YamlSyntaxError: the text is not YAML, or passes a limit (with the position of the
            problem).
    """
    _check_size(text, limits)
    fast_loader, slow_loader = _loaders(schema)
    in_python = "&" in text and "*" in text and getattr(schema, "composes_in_python", False)  # its composer hooks: an alias and its anchor
    if fast_loader is not None and "\t" not in text and not in_python:
        fast = fast_loader(text)
        try:
            node = fast.get_single_node()
            document = YamlDocument(None, nodes={} if keep_nodes else None)
            if node is not None:
                if _may_expand(text, limits):
                    measure(node, limits)  # bombs and depth are refused before anything is built
                document.value = _build(fast, node, (), document, depth=0, limits=limits)
            return document
        except YamlLimitError:
            raise
        except (yaml.YAMLError, YamlSyntaxError, RecursionError):
            pass  # parse it again below, for PyYAML's positioned message
        finally:
            fast.dispose()
    return _parse_slow(text, limits, slow_loader, keep_nodes)


def _parse_slow(text: str, limits: YamlLimits = DEFAULT_LIMITS, loader_class: type[_LimitedLoader] = _LimitedLoader, keep_nodes: bool = False) -> YamlDocument:
    """The pure-Python path: PyYAML's own positioned messages for every problem."""
    _check_size(text, limits)
    loader: _LimitedLoader | None = None
    try:
        loader = loader_class(text, limits)
        node = loader.get_single_node()
        document = YamlDocument(None, nodes={} if keep_nodes else None)
        if node is not None:
            if _may_expand(text, limits):
                measure(node, limits)
            document.value = _build(loader, node, (), document, depth=0, limits=limits)
        return document
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(err) from None
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


def load_plain(text: str, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    """The plain value of one YAML document (no positions), within the same `limits`.

    For the field-aware diff and command-line variables: libyaml composes the node graph
    when it is installed (fast), the same measure refuses bombs, then the safe constructor
    builds the value.

    Raises:
        YamlSyntaxError: the text is not YAML, or passes a limit.
    """
    _check_size(text, limits)
    loader_class: Any = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        measure(node, limits)
        _check_numbers(node, limits)
        return loader.construct_document(node)
    except YamlSyntaxError:
        raise
    except yaml.MarkedYAMLError as err:
        raise _syntax_error(err) from None
    except yaml.YAMLError as err:
        raise YamlSyntaxError(f"invalid YAML: {err}", 1, 1) from None
    except (ValueError, OverflowError, RecursionError) as err:
        raise YamlSyntaxError(f"invalid YAML: cannot read a value ({type(err).__name__}: {err})", 1, 1) from None
    finally:
        loader.dispose()


def _check_size(text: str, limits: YamlLimits) -> None:
    if len(text) > limits.max_chars:
        raise YamlLimitError(f"the file is {len(text):,} characters long; the limit is {limits.max_chars:,}", 1, 1)


def _syntax_error(err: yaml.MarkedYAMLError) -> YamlSyntaxError:
    mark = err.problem_mark or err.context_mark
    line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    problem = err.problem or err.context or "invalid YAML"
    message = f"invalid YAML: {problem}"
    if err.context and err.problem:
        message = f"invalid YAML: {problem} ({err.context})"
    return YamlSyntaxError(message, line, col)


_NUMBER_TAGS = ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")


def _check_number(node: yaml.Node, limits: YamlLimits) -> None:
    if node.tag in _NUMBER_TAGS and len(node.value) > limits.max_number_chars:
        _limit_error(f"invalid YAML: a number with more than {limits.max_number_chars:,} characters (the limit); quote it to keep it as text", node)


def _check_numbers(root: yaml.Node, limits: YamlLimits) -> None:
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            _check_number(node, limits)
        else:
            stack.extend(_children(node))


_STR_TAG = "tag:yaml.org,2002:str"


def _construct(loader: yaml.SafeLoader, node: yaml.Node, limits: YamlLimits) -> Any:
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR_TAG:
            return node.value  # what the safe constructor returns for a string, without its dispatch
        _check_number(node, limits)
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, OverflowError) as err:
        _limit_error(f"invalid YAML: cannot read this value ({err})", node)


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path, doc: YamlDocument, depth: int, limits: YamlLimits = DEFAULT_LIMITS) -> Any:
    if depth > limits.max_depth:
        _limit_error(f"invalid YAML: nested more than {limits.max_depth} levels deep (the limit)", node)
    doc.positions.setdefault(path, _pos(node))
    if doc.nodes is not None:
        doc.nodes.setdefault(path, node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<` merge keys
        result: dict[Any, Any] = {}
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                _check_numbers(key_node, limits)
            key = _construct(loader, key_node, limits)
            if isinstance(key, (list, dict)):
                key = str(key)
            key_path = (*path, key if isinstance(key, (str, int)) else str(key))
            key_pos = _pos(key_node)
            if key in seen:
                doc.duplicates.append((key_path, key_pos, seen[key]))
            seen[key] = key_pos
            doc.key_positions[key_path] = key_pos
            doc.positions.pop(key_path, None)
            if doc.nodes is not None:
                doc.nodes.pop(key_path, None)
            result[key] = _build(loader, value_node, key_path, doc, depth + 1, limits)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, index), doc, depth + 1, limits) for index, item in enumerate(node.value)]
    return _construct(loader, node, limits)
