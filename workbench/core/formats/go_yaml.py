"""YAML read as `gh models` reads it, for `.prompt.yml` files only.

gh-models loads a prompt file with gopkg.in/yaml.v3 (v3.0.1 in its go.mod) into typed structs
(`pkg/prompt/prompt.go`). A Go `string` field (a message's `role` and `content`, `name`,
`description`, `model`, `responseFormat`, `jsonSchema`, an evaluator's name and strings) and
a testData row's key take the scalar's own text, whatever it resolves to (decode.go, `scalar`:
`1e6` stays `1e6`, `true` stays `true`, `!!binary` is decoded); a null leaves the field empty;
an explicit tag that does not fit (`!!int abc`) is an error where gh decodes it (`gh_decode`
finds those, and the other errors of gh's loader). `GoText` reads a file so: each scalar as its text.
gh holds a `testData` value in an `interface{}` (`TestDataItem` is `map[string]interface{}`),
where the plain scalar's resolved value counts, and puts it into a message with
`fmt.Sprintf("%v")`: `go_value` gives that value from the node `GoText` composed.
The workbench reads its own files with PyYAML, which follows YAML 1.1; yaml.v3 follows YAML
1.2's core schema, plus a few old forms of its own (`resolve.go`). Where they part:

| plain scalar | PyYAML (YAML 1.1) | yaml.v3, so gh |
| --- | --- | --- |
| `1e6`, `1.5e3`, `+12e03`, `.5e3` | text (a 1.1 float has a dot and a signed exponent) | float64 |
| `yes`, `no`, `on`, `off` (and `Yes`, `YES`, ...) | boolean | text (only `true`/`True`/`TRUE` and the falses are booleans) |
| `0o17` | text | 15 |
| `08` | text | the float64 8 (not octal, so tried as a float) |
| `1:30`, `190:20:30` | 90, 685230 (base 60) | text |
| `2001-12-14`, `2001-12-14 21:59:43` | date, datetime | time.Time, printed as `2001-12-14 00:00:00 +0000 UTC` |
| `=` | cannot be read | text |

Both read `1_000` as 1000, `017` as 15 (YAML 1.2's core schema reads neither so) and `0x1F`,
`0b101`. Past int64, yaml.v3 tries uint64, then float64 (`1.2345678901234568e+29`).
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any

import yaml

from workbench.core.safe_text import clean

STR = "tag:yaml.org,2002:str"
INT = "tag:yaml.org,2002:int"
FLOAT = "tag:yaml.org,2002:float"
BOOL = "tag:yaml.org,2002:bool"
NULL = "tag:yaml.org,2002:null"
TIMESTAMP = "tag:yaml.org,2002:timestamp"
MERGE = "tag:yaml.org,2002:merge"
BINARY = "tag:yaml.org,2002:binary"

# resolve.go's resolveMap: the words it knows, each in these spellings only.
_WORDS: dict[str, tuple[str, Any]] = {
    **dict.fromkeys(("true", "True", "TRUE"), (BOOL, True)),
    **dict.fromkeys(("false", "False", "FALSE"), (BOOL, False)),
    **dict.fromkeys(("", "~", "null", "Null", "NULL"), (NULL, None)),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), (FLOAT, math.nan)),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), (FLOAT, math.inf)),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), (FLOAT, -math.inf)),
    "<<": (MERGE, "<<"),  # yaml.v3 finds merge keys by their text; PyYAML by this tag
}
_YAML_STYLE_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")  # resolve.go
_DOT_FLOAT = re.compile(r"\.[0-9][0-9_eE+-]*")  # what strconv.ParseFloat may take from a `.`-led scalar
_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
# parseTimestamp's layouts: 2006-1-2T15:4:5.999999999Z07:00 (and `t`), 2006-1-2 15:4:5.999999999,
# 2006-1-2; one or two digits where the layout has one, runs of spaces as one.
_TIMESTAMP = re.compile(r"(\d{4})-(\d\d?)-(\d\d?)(?:(?:([Tt])| +)(\d\d?):(\d\d?):(\d\d?)(?:[.,](\d+))?(Z|[-+]\d\d:\d\d)?)?")
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _parse_uint(text: str) -> int | None:
    """strconv.ParseUint(text, 0, 64): `0x`, `0o`, `0b` and a leading `0` (octal) prefixes."""
    base, digits = 10, text
    if text[:1] == "0":
        prefix = text[1:2].lower()
        base, digits = ({"b": 2, "o": 8, "x": 16}[prefix], text[2:]) if len(text) >= 3 and prefix in "box" else (8, text[1:])
    if not text or any(c not in _DIGITS[base] for c in digits):
        return None
    if len(digits.lstrip("0")) > 64:  # past 64 bits in any base; and int() refuses 4,300 digits
        return None
    value = int(digits, base) if digits else 0
    return value if value < 2**64 else None


def _parse_int(text: str) -> int | None:
    """strconv.ParseInt(text, 0, 64), then ParseUint as resolve.go tries next."""
    negative = text[:1] == "-"
    unsigned = _parse_uint(text[1:] if text[:1] in "+-" else text)
    if unsigned is not None and (unsigned < 2**63 or (negative and unsigned == 2**63)):
        return -unsigned if negative else unsigned
    return _parse_uint(text)


def _finite(text: str) -> float | None:
    """The float64 of `text`, or None where strconv.ParseFloat fails (out of range: ±Inf)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _timestamp(text: str) -> str | None:
    """The time.Time yaml.v3 makes of `text`, as `%v` prints it (Time.String), or None. A zone
    offset prints as `+0130 +0130` (Go makes up a zone with no name), 0 as `+0000 UTC`, as on a
    machine whose local time is UTC (GitHub's runners)."""
    found = _TIMESTAMP.fullmatch(text)
    if found is None:
        return None
    year, month, day, letter, hour, minute, second, fraction, zone = found.groups()
    y, mo, d = int(year), int(month), int(day)
    leap = y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)
    if not 1 <= mo <= 12 or not 1 <= d <= _DAYS[mo - 1] + (mo == 2 and leap):
        return None
    if hour is None:
        return f"{y:04d}-{mo:02d}-{d:02d} 00:00:00 +0000 UTC"
    if (letter is None) != (zone is None) or int(hour) > 23 or int(minute) > 59 or int(second) > 59:
        return None  # the T layouts need a zone, the space one takes none
    offset = 0
    if zone not in (None, "Z"):
        if int(zone[1:3]) > 24 or int(zone[4:6]) > 60:
            return None
        offset = (int(zone[1:3]) * 60 + int(zone[4:6])) * (-1 if zone[0] == "-" else 1)
    shown = (fraction or "")[:9].rstrip("0")  # nanoseconds; Go (1.20 on) drops further digits
    sign, minutes = "-" if offset < 0 else "+", abs(offset)
    name = "UTC" if offset == 0 else f"{sign}{minutes // 60:02d}{minutes % 60:02d}"
    return f"{y:04d}-{mo:02d}-{d:02d} {int(hour):02d}:{int(minute):02d}:{int(second):02d}{'.' + shown if shown else ''} {sign}{minutes // 60:02d}{minutes % 60:02d} {name}"


def go_scalar(text: str) -> tuple[str, Any]:
    """The tag and value yaml.v3 gives a plain scalar decoded into an interface{} (its `resolve`
    by the scalar's first character), a time as the text gh sends."""
    if text in _WORDS:
        return _WORDS[text]
    first = text[:1]
    if first == "." and _DOT_FLOAT.fullmatch(text) and (value := _finite(text)) is not None:
        return FLOAT, value
    if first and first in "+-0123456789":
        if (stamp := _timestamp(text)) is not None:
            return TIMESTAMP, stamp
        plain = text.replace("_", "")
        if (number := _parse_int(plain)) is not None:
            return INT, number
        if _YAML_STYLE_FLOAT.fullmatch(plain) and (value := _finite(plain)) is not None:
            return FLOAT, value
    return STR, text


_RESOLVED = (INT, FLOAT, BOOL, TIMESTAMP, NULL)
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_RAW_BYTE = re.compile(r"[\udc80-\udcff]")


def go_binary(text: str) -> str:
    """The Go string yaml.v3 makes of a `!!binary` scalar, in any field: Go's
    base64.StdEncoding.DecodeString of its text (padding required, line breaks skipped), each
    byte that is not UTF-8 shown as U+FFFD, as gh's JSON request sends it. Raises ValueError
    with yaml.v3's message for data Go refuses."""
    data = text.replace("\r", "").replace("\n", "")
    if not _BASE64.fullmatch(data):
        raise ValueError("!!binary value contains invalid base64 data")
    return _RAW_BYTE.sub("\ufffd", base64.b64decode(data).decode("utf-8", "surrogateescape"))


def go_scalar_value(node: yaml.Node) -> Any:
    """What yaml.v3 decodes a scalar `GoText` composed into an interface{} (its tag is the one
    yaml.v3 resolves, or the explicit one). Raises ValueError where yaml.v3 stops decoding
    whatever the field: an explicit tag it refuses (`!!int abc`), bad `!!binary` data."""
    if node.tag == BINARY:
        return go_binary(node.value)
    if node.tag not in _RESOLVED:
        return node.value  # text: quoted, `!!str`, or plain text
    found, value = go_scalar(node.value)
    if (found, node.tag) == (INT, FLOAT):  # `!!float 1`: yaml.v3 makes the int a float
        return float(value)
    if found != node.tag:  # yaml.v3's own words
        raise ValueError(f"cannot decode !!{found.rsplit(':', 1)[-1]} `{clean(node.value)}` as a !!{node.tag.rsplit(':', 1)[-1]}")
    return value


def _text(loader: yaml.SafeLoader, node: yaml.Node) -> str | None:
    """A scalar as a Go string field takes it: its text (a null: None, where Go leaves ""),
    `!!binary` decoded. A scalar yaml.v3 would refuse is kept as text here: gh refuses it only
    where it decodes it (a known field), which `gh_decode` finds."""
    try:
        value = go_scalar_value(node)
    except ValueError:
        return str(node.value)
    return None if value is None else value if node.tag == BINARY else str(node.value)


class GoAlias(yaml.Node):
    """A key written as an alias (`*k`), as yaml.v3 keeps it: an alias node, whose Value is the
    anchor's name (`value`), at the alias's own place; PyYAML's composer gives the anchored node
    itself (`target`) instead, so `GoText` records these while composing."""

    id = "alias"

    def __init__(self, anchor: str, target: yaml.Node, start_mark: Any, end_mark: Any) -> None:
        super().__init__(target.tag, anchor, start_mark, end_mark)
        self.target = target


class _AliasedMerge(yaml.ScalarNode):
    """An alias of a `<<` key, as PyYAML is to build it: the text "<<" (`GoText.flatten_mapping`)."""


def go_pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """A mapping's (key, value) nodes as written (as yaml.v3 sees them): `<<` merge keys and
    all, though PyYAML's `flatten_mapping` has since merged them in; an alias key a `GoAlias`."""
    pairs = getattr(node, "go_pairs", None)
    aliases: dict[int, GoAlias] = getattr(node, "go_aliases", {})
    return [(aliases.get(index, key), value) for index, (key, value) in enumerate(node.value if pairs is None else pairs)]


def go_value(node: yaml.Node) -> Any:
    """What yaml.v3 decodes `node` (composed by a `GoText` loader, mappings flattened) into
    in an interface{}, a time as the text gh sends: a collection's items and keys likewise."""
    if isinstance(node, yaml.SequenceNode):
        return [go_value(item) for item in node.value]
    if isinstance(node, yaml.MappingNode):
        items: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = go_value(key_node)
            items[str(key) if isinstance(key, (list, dict)) else key] = go_value(value_node)
        return items
    return go_scalar_value(node)


class GoText(yaml.resolver.Resolver):
    """A loader mixin (`yamlpos.parse_yaml(text, schema=GoText, keep_nodes=True)`): a prompt
    file as gh's typed fields hold it. Plain scalars are resolved as yaml.v3 does, so each
    node's tag is yaml.v3's (for `go_value`); every scalar is built as its text, as a Go string
    field takes it; a null as None; collections as before."""

    yaml_constructors: dict[Any, Any] = {**yaml.SafeLoader.yaml_constructors, **dict.fromkeys((*_RESOLVED, BINARY), _text)}
    composes_in_python = True  # libyaml's composer calls no `compose_node`: `yamlpos` composes a text that may hold an alias in Python

    def compose_node(self, parent: Any, index: Any) -> Any:
        """PyYAML's, recording each key written as an alias on its mapping (`go_pairs`)."""
        if index is None and isinstance(parent, yaml.MappingNode) and self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            node = super().compose_node(parent, index)  # type: ignore[misc]
            parent.__dict__.setdefault("go_aliases", {})[len(parent.value)] = GoAlias(event.anchor, node, event.start_mark, event.end_mark)
            return node
        return super().compose_node(parent, index)  # type: ignore[misc]

    def flatten_mapping(self, node: Any) -> None:
        """PyYAML's merge, keeping the pairs as written for yaml.v3's key checks (`go_pairs`).
        A merge key is a scalar `<<` to yaml.v3 (decode.go, `isMerge`): an alias of one is an
        ordinary key "<<", and merges nothing. Merged in, that key is dropped: yaml.v3's `merge`
        skips the keys the mapping has, its `<<` among them (decoded as the text "<<")."""
        if hasattr(node, "go_pairs"):
            return  # flattened already
        node.go_pairs = list(node.value)
        for index, alias in getattr(node, "go_aliases", {}).items():
            if alias.tag == MERGE:
                node.value[index] = (_AliasedMerge(STR, alias.target.value, alias.start_mark, alias.end_mark), node.value[index][1])
        own = {id(key) for key, _ in node.value}
        super().flatten_mapping(node)  # type: ignore[misc]
        node.value = [(key, value) for key, value in node.value if id(key) in own or not isinstance(key, _AliasedMerge)]

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0]:
            return go_scalar(value)[0]
        return super().resolve(kind, value, implicit)


class GoQuoting(yaml.resolver.Resolver):
    """A dumper mixin (`dump_yaml(document, GoQuoting)`): a string is written plain only where
    yaml.v3 and PyYAML both read it back as that string (`1e6`, `0o17`, `08` and `on` quoted)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is yaml.ScalarNode and implicit[0] and (tag := go_scalar(value)[0]) != STR:
            return tag
        return super().resolve(kind, value, implicit)


__all__ = ["GoAlias", "GoQuoting", "GoText", "go_binary", "go_pairs", "go_scalar", "go_scalar_value", "go_value"]
