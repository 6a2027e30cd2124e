"""`is-json` / `contains-json`: promptfoo's parsing, extraction and schema rules.

- `is-json` parses with JavaScript's `JSON.parse` rules (`jsvalues.json_parse`).
- `contains-json` scans for `{` only (a bare array is not found), takes the balanced brace
  span (braces inside strings count too), closes what is left open at the end of the text,
  turns `//` comments into YAML ones and parses the span as YAML (js-yaml in promptfoo), so
  a YAML flow mapping such as `{a: 1}` or `{curly}` counts as JSON. The first span that parses
  to an object wins and the scan resumes after it.
- A schema is an object, a YAML/JSON string, or `file://schema.json|yaml`; it is compiled with
  ajv's strict rules (`jsonschema_js`).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_JSON_LENGTH = 100_000


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core booleans (js-yaml: `yes`/`on` stay strings)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str) -> Any:
    """promptfoo's `loadYaml`: one document (none is undefined, several is an error)."""
    documents = list(yaml.load_all(text, Loader=_Yaml12Loader))
    if len(documents) > 1:
        raise ValueError("expected a single document in the stream, but found more")
    return documents[0] if documents else None


def _slash_comments_to_hash(text: str) -> str:
    """promptfoo's convertSlashCommentsToHash: `// x` outside strings becomes `# x`."""
    out_lines = []
    for line in text.split("\n"):
        state = "normal"
        result = ""
        converted: str | None = None
        i = 0
        while i < len(line):
            char = line[i]
            nxt = line[i + 1] if i + 1 < len(line) else ""
            prev = line[i - 1] if i > 0 else ""
            if state == "normal":
                if char == "'" and not re.match(r"[a-zA-Z]", prev or " "):
                    state = "single"
                    result += char
                elif char == '"':
                    state = "double"
                    result += char
                elif char == "/" and nxt == "/":
                    token_start = 0
                    for j in range(i - 1, -1, -1):
                        if line[j].isspace():
                            token_start = j + 1
                            break
                    if "://" in line[token_start : i + 2]:
                        result += char  # a URL, not a comment
                        i += 1
                        continue
                    slashes = 2
                    while i + slashes < len(line) and line[i + slashes] == "/":
                        slashes += 1
                    converted = result + "#" * (slashes // 2) + line[i + slashes :]
                    break
                else:
                    result += char
            elif state == "single":
                result += char
                if char == "'" and not _escaped(line, i) and not re.match(r"[a-zA-Z]", nxt or " "):
                    state = "normal"
            else:
                result += char
                if char == '"' and not _escaped(line, i):
                    state = "normal"
            i += 1
        out_lines.append(converted if converted is not None else result)
    return "\n".join(out_lines)


def _escaped(line: str, index: int) -> bool:
    count = 0
    j = index - 1
    while j >= 0 and line[j] == "\\":
        count += 1
        j -= 1
    return count % 2 == 1


def _tabs_to_spaces(text: str) -> str:
    """Tabs outside quotes as spaces: js-yaml takes a tab as flow-context whitespace, PyYAML not."""
    out = []
    quote = None
    escaped = False
    for char in text:
        if quote:
            if escaped:
                escaped = False
            elif char == "\\" and quote == '"':
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "\t":
            char = " "
        out.append(char)
    return "".join(out)


def _load_candidate(text: str) -> Any:
    try:
        return load_yaml(text)
    except yaml.YAMLError:
        if "\t" not in text:
            raise
        return load_yaml(_tabs_to_spaces(text))


def extract_json_objects(text: str) -> list[Any]:
    """promptfoo's extractJsonObjects (see the module docstring)."""
    found: list[Any] = []
    i = 0
    length = len(text)
    while i < length:
        if text[i] != "{":
            i += 1
            continue
        open_braces, close_braces = 1, 0
        j = i + 1
        next_i = i + 1
        limit = min(i + MAX_JSON_LENGTH, length)
        while j < limit and open_braces > close_braces:
            if text[j] == "{":
                open_braces += 1
            if text[j] == "}":
                close_braces += 1
            j += 1
            if open_braces == close_braces or j == length or j == i + MAX_JSON_LENGTH:
                candidate = text[i:j]
                if open_braces > close_braces:
                    candidate += "}" * (open_braces - close_braces)
                try:
                    parsed = _load_candidate(_slash_comments_to_hash(candidate))
                except Exception:
                    if open_braces == close_braces:
                        break
                    continue
                if isinstance(parsed, (dict, list)):
                    found.append(parsed)
                    next_i = j
                    break
        i = next_i
    return found
