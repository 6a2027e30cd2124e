"""gh-models' `prompt.LoadFromFile`: yaml.v3 (3.0.1) decoding a file into gh's typed structs.

`go_yaml` says what each scalar is; this module says what yaml.v3 does with the nodes in gh's
`prompt.File` (`pkg/prompt/prompt.go`), read from yaml.v3's decode.go: it decodes only the
nodes of known fields (an unknown key is skipped, whatever it holds); a mapping with the same
key text twice is refused (`mapping key "x" already defined at line N`; an alias key's text is
its anchor's name, and no scalar key equals it: `go_yaml.GoAlias`); a value of the wrong
kind is a type error (`cannot unmarshal !!str `12` into int`); an explicit tag that does not
fit and bad `!!binary` data stop decoding at once. gh refuses a file with any of these, so the
import does too. `maxTokens` (`*int`) and `temperature`, `topP` (`*float64`) are converted as
yaml.v3 converts them: a float64 truncated into an int (`1.5` is 1), any number into a float64.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import yaml

from workbench.core.formats.go_yaml import BINARY, MERGE, GoAlias, go_pairs, go_scalar_value
from workbench.core.safe_text import clean


class Struct(NamedTuple):
    """A Go struct: its type name (for yaml.v3's messages) and its yaml fields."""

    name: str
    fields: dict[str, Any]


class Slice(NamedTuple):
    item: Any
    name: str


STRING, GO_INT, FLOAT64, ANY = "string", "int", "float64", "interface {}"
JSON_SCHEMA = "prompt.JsonSchema"  # its own UnmarshalYAML: decodes a scalar as a string, refuses the rest
TEST_DATA_ITEM = "prompt.TestDataItem"  # map[string]interface{}

_STRING_EVALUATOR = Struct("prompt.StringEvaluator", dict.fromkeys(("endsWith", "startsWith", "contains", "equals"), STRING))
_CHOICE = Struct("prompt.Choice", {"choice": STRING, "score": FLOAT64})
_LLM = Struct("prompt.LLMEvaluator", {"modelId": STRING, "prompt": STRING, "choices": Slice(_CHOICE, "[]prompt.Choice"), "systemPrompt": STRING})
_EVALUATOR = Struct("prompt.Evaluator", {"name": STRING, "string": _STRING_EVALUATOR, "llm": _LLM, "uses": STRING})
_MESSAGE = Struct("prompt.Message", {"role": STRING, "content": STRING})
FILE = Struct(
    "prompt.File",
    {
        "name": STRING,
        "description": STRING,
        "model": STRING,
        "modelParameters": Struct("prompt.ModelParameters", {"maxTokens": GO_INT, "temperature": FLOAT64, "topP": FLOAT64}),
        "responseFormat": STRING,
        "jsonSchema": JSON_SCHEMA,
        "messages": Slice(_MESSAGE, "[]prompt.Message"),
        "testData": Slice(TEST_DATA_ITEM, "[]prompt.TestDataItem"),
        "evaluators": Slice(_EVALUATOR, "[]prompt.Evaluator"),
    },
)
_MIN_INT, _MAX_INT = -(2**63), 2**63 - 1
_MAX_REPORTED = 50  # duplicate keys reported per mapping (yaml.v3 lists every pair: quadratic)


class GoFatal(Exception):
    """yaml.v3's `failf`: decoding stops, and gh reports this one error."""

    def __init__(self, node: yaml.Node, message: str) -> None:
        super().__init__(message)
        self.node = node


@dataclass
class Decoded:
    """What gh's decode of a file gives the importer: yaml.v3's errors (node, message), in
    yaml.v3's order; the Go number decoded at each path (`("modelParameters", "topP")`),
    None for a null (a nil pointer: gh sends nothing)."""

    errors: list[tuple[yaml.Node, str]] = field(default_factory=list)
    numbers: dict[tuple[str | int, ...], int | float | None] = field(default_factory=dict)


def _short(tag: str) -> str:
    return "!!" + tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else tag


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _go_quote(text: str) -> str:
    """Go's `%#v` of a string, near enough (a JSON string), made safe to show."""
    return clean(json.dumps(text, ensure_ascii=False))


def go_int(value: Any) -> int | None:
    """The Go int yaml.v3 sets from a resolved scalar (decode.go, `scalar`), or None where it
    refuses: an int in int64's range; a float64 up to 2^63, truncated, and (amd64, GitHub's
    runners) the least int64 where Go's conversion is out of range (`-.inf`, `-1e30`, 2^63)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if _MIN_INT <= value <= _MAX_INT else None
    if isinstance(value, float):
        if not value <= 2.0**63:  # NaN and +Inf fail this too
            return None
        return int(value) if -(2.0**63) <= value < 2.0**63 else _MIN_INT
    return None


def go_float(value: Any) -> float | None:
    """The Go float64 yaml.v3 sets from a resolved scalar: any int or float64, nothing else."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


class _Decoder:
    def __init__(self) -> None:
        self.out = Decoded()

    def type_error(self, node: yaml.Node, kind_tag: str, into: str) -> None:
        """decode.go's `terror`: the node's tag, its text (cut at 7 bytes past 10), the Go type."""
        tag = node.tag if isinstance(node, yaml.ScalarNode) else kind_tag
        shown = ""
        if isinstance(node, yaml.ScalarNode):
            raw = node.value.encode("utf-8")
            shown = " `" + (raw[:7].decode("utf-8", "replace") + "..." if len(raw) > 10 else node.value) + "`"
        self.out.errors.append((node, f"line {_line(node)}: cannot unmarshal {_short(tag)}{clean(shown)} into {into}"))

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """The scalar resolved as yaml.v3's `resolve` does, which stops decoding on bad tags."""
        try:
            return go_scalar_value(node)
        except ValueError as err:
            raise GoFatal(node, str(err)) from None

    def key(self, node: yaml.ScalarNode, into_string: bool) -> Any:
        """A key as decoded into a Go string (a struct's field name, a TestDataItem's key: its
        text, `!!binary` decoded) or an interface{}; None for a null (yaml.v3 drops it)."""
        value = self.scalar(node)
        if value is None or not into_string or node.tag == BINARY:
            return value
        return str(node.value)

    def decode(self, node: yaml.Node, kind: Any, path: tuple[str | int, ...] = ()) -> None:
        """Decode `node` into a Go value of `kind`, as decode.go's `unmarshal` does."""
        into = kind if isinstance(kind, str) else kind.name
        if isinstance(node, yaml.ScalarNode):
            value = self.scalar(node)
            if kind in (GO_INT, FLOAT64):
                number = None if value is None else go_int(value) if kind == GO_INT else go_float(value)
                if value is not None and number is None:
                    self.type_error(node, "", into)
                self.out.numbers[path] = number
            elif value is not None and kind not in (STRING, ANY, JSON_SCHEMA):
                self.type_error(node, "", into)  # a null leaves a struct or a slice as it is
            return
        if kind == JSON_SCHEMA:
            return  # gh's UnmarshalYAML refuses it ("jsonSchema must be a JSON string"): the importer says so
        if isinstance(node, yaml.SequenceNode):
            if isinstance(kind, Slice) or kind == ANY:
                for index, item in enumerate(node.value):
                    self.decode(item, kind.item if isinstance(kind, Slice) else ANY, (*path, index))
            else:
                self.type_error(node, "!!seq", into)
        elif isinstance(node, yaml.MappingNode):
            self.mapping(node, kind, path, None)

    def mapping(self, node: yaml.MappingNode, kind: Any, path: tuple[str | int, ...], merged: set[Any] | None) -> None:
        """decode.go's `mapping`, `mappingStruct` and `merge`: same key text twice refuses
        the mapping; a struct decodes its known fields once each; `<<` merges what is not set."""
        pairs = go_pairs(node)
        same: dict[tuple[type, str], list[yaml.Node]] = {}
        for key, _ in pairs:  # yaml.v3 compares every two keys by kind and Value; grouped here, in its order
            same.setdefault((type(key), _text(key)), []).append(key)
        if any(len(keys) > 1 for keys in same.values()):
            for first, later in _first_equal_pairs(pairs, same):
                self.out.errors.append((later, f"line {_line(later)}: mapping key {_go_quote(_text(later))} already defined at line {_line(first)}"))
            return  # yaml.v3 decodes nothing of such a mapping
        if not (isinstance(kind, Struct) or kind in (ANY, TEST_DATA_ITEM)):
            self.type_error(node, "!!map", kind if isinstance(kind, str) else kind.name)
            return
        into_string = kind != ANY
        merge: yaml.Node | None = None
        done: set[str] = set()
        for written, value in pairs:
            if _is_merge(written):
                merge = value
                continue
            key = _named(written)  # an alias key is decoded as the node it names
            if not isinstance(key, yaml.ScalarNode):  # a collection as a key
                if into_string:
                    self.decode(key, STRING)  # a type error
                    continue
                raise GoFatal(key, "invalid map key: a " + ("sequence" if isinstance(key, yaml.SequenceNode) else "mapping"))
            name = self.key(key, into_string)
            if name is None:
                continue
            if merged is not None:
                if name in merged:
                    continue
                merged.add(name)
            if not isinstance(kind, Struct):
                self.decode(value, ANY, (*path, str(name)))
            elif (field_kind := kind.fields.get(name)) is not None:
                if name in done:
                    self.out.errors.append((written, f"line {_line(written)}: field {clean(name)} already set in type {kind.name}"))
                    continue
                done.add(name)
                self.decode(value, field_kind, (*path, name))
        if merge is not None:
            if merged is None:
                merged = {self.key(k, into_string) for k in (_named(w) for w, _ in pairs) if isinstance(k, yaml.ScalarNode)}  # `<<` too: the text "<<"
            for part in merge.value if isinstance(merge, yaml.SequenceNode) else [merge]:
                if isinstance(part, yaml.MappingNode):
                    self.mapping(part, kind, path, merged)


def _first_equal_pairs(pairs: list[tuple[yaml.Node, yaml.Node]], same: dict[tuple[type, str], list[yaml.Node]]) -> list[tuple[yaml.Node, yaml.Node]]:
    """The first `_MAX_REPORTED` pairs of equal keys in yaml.v3's order (each key, then each later
    key equal to it), built one by one: all of them are n² / 2 for n equal keys. `same` holds
    each key text's keys in the order of `pairs`."""
    found: list[tuple[yaml.Node, yaml.Node]] = []
    seen: dict[tuple[type, str], int] = {}
    for key, _ in pairs:
        text = (type(key), _text(key))
        place = seen[text] = seen.get(text, -1) + 1
        for later in itertools.islice(same[text], place + 1, None):
            found.append((key, later))
            if len(found) == _MAX_REPORTED:
                return found
    return found


def _text(node: yaml.Node) -> str:
    """A key's text as yaml.v3's Node.Value holds it (an alias's: its anchor's name; a
    collection's: empty)."""
    return node.value if isinstance(node, (yaml.ScalarNode, GoAlias)) else ""


def _named(node: yaml.Node) -> yaml.Node:
    """The node an alias key names (yaml.v3's `alias` decodes it), or the key itself."""
    return node.target if isinstance(node, GoAlias) else node


def _is_merge(node: yaml.Node) -> bool:
    """decode.go's `isMerge`: a scalar `<<` (as resolved or tagged `!!merge`), not an alias of one."""
    return isinstance(node, yaml.ScalarNode) and node.tag == MERGE


def decode_file(root: yaml.Node) -> Decoded:
    """What gh's `yaml.Unmarshal(data, &promptFile)` finds in the composed file (a `GoText`
    node tree). Raises GoFatal where yaml.v3 stops decoding."""
    decoder = _Decoder()
    decoder.decode(root, FILE)
    return decoder.out


__all__ = ["FILE", "Decoded", "GoFatal", "decode_file", "go_float", "go_int"]
