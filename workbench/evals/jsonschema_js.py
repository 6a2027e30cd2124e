"""JSON Schema validation with promptfoo's rules: ajv (draft-07, strict mode) plus ajv-formats.

The `jsonschema` library does the validating; what differs from its defaults is made to match
what promptfoo's `getAjv()` does:

- strict mode: an unknown keyword or an unknown `format` makes the schema itself an error
  (promptfoo then errors the test case), and a schema that is not an object or a boolean is
  refused;
- `format` is asserted (ajv-formats "full" mode, its own patterns, see `ajv_formats`);
- `pattern` is a JavaScript regular expression with the `u` flag (ajv's `unicodeRegExp`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from workbench.core.jsvalues import JsRegexError, regex_search
from workbench.evals.ajv_formats import FORMAT_PATTERNS
from workbench.evals.regex_limit import bounded_search


class SchemaCompileError(ValueError):
    """The schema is one ajv refuses to compile (promptfoo: the test case errors)."""


# Keywords ajv 8 knows in its default (draft-07) vocabulary, plus annotations it tolerates.
KNOWN_KEYWORDS = frozenset(
    ["$id", "$schema", "$ref", "$comment", "$defs", "definitions", "title", "description", "default", "examples", "deprecated", "readOnly", "writeOnly", "contentMediaType", "contentEncoding", "type", "enum", "const", "properties", "required", "additionalProperties", "patternProperties", "propertyNames", "dependencies", "dependentRequired", "dependentSchemas", "items", "additionalItems", "contains", "minContains", "maxContains", "minItems", "maxItems", "uniqueItems", "minLength", "maxLength", "pattern", "format", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minProperties", "maxProperties", "allOf", "anyOf", "oneOf", "not", "if", "then", "else", "nullable"]
)
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions", "$defs", "dependencies", "dependentSchemas")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("additionalProperties", "propertyNames", "additionalItems", "contains", "not", "if", "then", "else")


def _walk(schema: Any, where: str) -> Iterator[tuple[dict[str, Any], str]]:
    if not isinstance(schema, dict):
        return
    yield schema, where
    for key in _SCHEMA_MAPS:
        sub = schema.get(key)
        if isinstance(sub, dict):
            for name, value in sub.items():
                if key == "dependencies" and isinstance(value, list):
                    continue
                yield from _walk(value, f"{where}/{key}/{name}")
    for key in _SCHEMA_LISTS:
        sub = schema.get(key)
        if isinstance(sub, list):
            for index, value in enumerate(sub):
                yield from _walk(value, f"{where}/{key}/{index}")
    for key in _SCHEMA_ONE:
        yield from _walk(schema.get(key), f"{where}/{key}")
    items = schema.get("items")
    if isinstance(items, list):
        for index, value in enumerate(items):
            yield from _walk(value, f"{where}/items/{index}")
    else:
        yield from _walk(items, f"{where}/items")


# ------------------------------------------------------------------ formats (ajv-formats, full)
_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date(text: str) -> bool:
    import re

    match = re.fullmatch(r"(\d\d\d\d)-(\d\d)-(\d\d)", text, re.ASCII)
    if not match:
        return False
    year, month, day = (int(g) for g in match.groups())
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 and leap else _DAYS[month])


def _time(strict_zone: bool) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        import re

        match = re.fullmatch(r"(\d\d):(\d\d):(\d\d(?:\.\d+)?)(z|([+-])(\d\d)(?::?(\d\d))?)?", text, re.ASCII | re.IGNORECASE)
        if not match:
            return False
        hour, minute, second = int(match[1]), int(match[2]), float(match[3])
        zone, sign = match[4], -1 if match[5] == "-" else 1
        zone_h, zone_m = int(match[6] or 0), int(match[7] or 0)
        if zone_h > 23 or zone_m > 59 or (strict_zone and not zone):
            return False
        if hour <= 23 and minute <= 59 and second < 60:
            return True
        utc_min = minute - zone_m * sign
        utc_hour = hour - zone_h * sign - (1 if utc_min < 0 else 0)
        return utc_hour in (23, -1) and utc_min in (59, -1) and second < 61

    return check


def _date_time(strict_zone: bool) -> Callable[[str], bool]:
    time_check = _time(strict_zone)

    def check(text: str) -> bool:
        import re

        parts = re.split(r"[tT\s]", text)  # JS /t|\s/i; \s differences do not reach a valid date
        return len(parts) == 2 and _date(parts[0]) and time_check(parts[1])

    return check


def _pattern(name: str) -> Callable[[str], bool]:
    pattern, flags = FORMAT_PATTERNS[name]
    return lambda text: regex_search(pattern, text, flags)


def _uri(text: str) -> bool:
    pattern, flags = FORMAT_PATTERNS["uri"]
    return regex_search(r"\/|:", text) and regex_search(pattern, text, flags)


def _byte(text: str) -> bool:
    return regex_search(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$", text, "m")


def _regex(text: str) -> bool:
    if regex_search(r"[^\\]\\Z", text):
        return False
    try:
        regex_search(text, "")
    except JsRegexError:
        return False
    return True


def _is_integer(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, float) and value.is_integer())


STRING_FORMATS: dict[str, Callable[[str], bool]] = {
    "date": _date,
    "time": _time(True),
    "date-time": _date_time(True),
    "iso-time": _time(False),
    "iso-date-time": _date_time(False),
    "uri": _uri,
    "byte": _byte,
    "regex": _regex,
    **{name: _pattern(name) for name in FORMAT_PATTERNS if name != "uri"},
}
NUMBER_FORMATS: dict[str, Callable[[Any], bool]] = {
    "int32": lambda v: _is_integer(v) and -(2**31) <= v <= 2**31 - 1,
    "int64": _is_integer,
    "float": lambda v: True,
    "double": lambda v: True,
}
ANY_FORMATS = ("password", "binary")
KNOWN_FORMATS = frozenset((*STRING_FORMATS, *NUMBER_FORMATS, *ANY_FORMATS))


def _check_strict(schema: Any) -> None:
    if not isinstance(schema, (dict, bool)):
        raise SchemaCompileError("schema must be object or boolean")
    for node, where in _walk(schema, "#"):
        for key in node:
            if key not in KNOWN_KEYWORDS:
                raise SchemaCompileError(f'strict mode: unknown keyword: "{key}"')
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt not in KNOWN_FORMATS:
            raise SchemaCompileError(f'unknown format "{fmt}" ignored in schema at path "{where}"')
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            try:
                regex_search(pattern, "", "u")
            except JsRegexError as err:
                raise SchemaCompileError(str(err)) from None


@lru_cache(maxsize=1)
def _validator_class() -> Any:
    from jsonschema import Draft7Validator, validators
    from jsonschema.exceptions import ValidationError

    def pattern(validator: Any, patrn: str, instance: Any, schema: Any) -> Iterator[Any]:
        if validator.is_type(instance, "string") and not bounded_search(patrn, instance, "u"):
            yield ValidationError(f'must match pattern "{patrn}"')

    def format_(validator: Any, fmt: str, instance: Any, schema: Any) -> Iterator[Any]:
        if isinstance(instance, str) and fmt in STRING_FORMATS:
            if not STRING_FORMATS[fmt](instance):
                yield ValidationError(f'must match format "{fmt}"')
        elif isinstance(instance, (int, float)) and not isinstance(instance, bool) and fmt in NUMBER_FORMATS and not NUMBER_FORMATS[fmt](instance):
            yield ValidationError(f'must match format "{fmt}"')

    def is_integer(checker: Any, instance: Any) -> bool:
        return _is_integer(instance)

    type_checker = Draft7Validator.TYPE_CHECKER.redefine("integer", is_integer)
    return validators.extend(Draft7Validator, {"pattern": pattern, "format": format_}, type_checker=type_checker)


@lru_cache(maxsize=256)
def _compiled(schema_json: str) -> Any:
    import json

    schema = json.loads(schema_json)
    _check_strict(schema)
    cls = _validator_class()
    from jsonschema import Draft7Validator
    from jsonschema.exceptions import best_match

    # The metaschema's own `format: regex` would be judged by Python's `re`; ajv judges
    # patterns as JavaScript ones (already checked above), so formats are not checked here.
    error = best_match(Draft7Validator(Draft7Validator.META_SCHEMA).iter_errors(schema))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise SchemaCompileError(f"schema is invalid: data{'/' + where if where else ''} {error.message}")
    return cls(schema)


def compile_schema(schema: Any) -> Any:
    """A validator for `schema`, or SchemaCompileError where ajv (strict) refuses it."""
    import json

    if not isinstance(schema, (dict, bool)):
        raise SchemaCompileError("schema must be object or boolean")
    return _compiled(json.dumps(schema, sort_keys=True))


def schema_errors(validator: Any, value: Any) -> str | None:
    """None when `value` is valid, else ajv-style error text (`data/field must ...`)."""
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not errors:
        return None
    parts = []
    for err in errors[:5]:
        path = "".join(f"/{p}" for p in err.absolute_path)
        parts.append(f"data{path} {err.message}")
    return ", ".join(parts)
