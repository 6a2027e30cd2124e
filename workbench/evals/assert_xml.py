"""`is-xml` / `contains-xml` with promptfoo's rules.

- `is-xml`: the whole output must be one well-formed XML document with namespaces checked
  (promptfoo uses saxes in strict xmlns mode; here the standard library's expat with a
  namespace separator, which rejects the same things: unbound prefixes, undefined entities,
  text outside the root, several roots). A DOCTYPE with an internal subset is refused, as
  promptfoo refuses it.
- required elements (`value`: "a.b, c", a list, or {requiredElements: [...]}) are dotted paths
  in promptfoo's object view of the document (fast-xml-parser): element names, `@_attr` for
  attributes, `#text` for text, a number to pick one of repeated elements.
- `contains-xml`: promptfoo's scanner finds balanced tag spans (and runs of siblings) in the
  text; a span is accepted when it parses and has the required elements.
"""

from __future__ import annotations

import re
from typing import Any
from xml.parsers import expat

_NAME_START = re.compile(r"[:A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF]")
_NAME_CHAR = re.compile(r"[-.0-9\u00B7\u0300-\u036F\u203F-\u2040]")


def _read_name(text: str, start: int) -> tuple[str, int] | None:
    if start >= len(text) or not _NAME_START.match(text[start]):
        return None
    end = start + 1
    while end < len(text) and (_NAME_START.match(text[end]) or _NAME_CHAR.match(text[end])):
        end += 1
    return text[start:end], end


def _has_internal_subset(doctype: str) -> bool:
    quote = None
    for char in doctype:
        if quote:
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "[":
            return True
    return False


class _Tree:
    """fast-xml-parser's object view, enough to answer `has this dotted path`.

    An element with attributes or children is an object (`@_attr`, child names, `#text`);
    one with only text is that text; an empty one is "". Names keep their prefixes.
    """

    def __init__(self) -> None:
        self.root: dict[str, Any] = {}
        self.stack: list[tuple[dict[str, Any], dict[str, Any], str]] = []  # (node, parent, name)
        self.pending_ns: dict[str, str] = {}

    def start(self, name: str, attrs: dict[str, str]) -> None:
        node: dict[str, Any] = {f"@_{k}": v for k, v in attrs.items()}
        for prefix, uri in self.pending_ns.items():
            node[f"@_xmlns:{prefix}" if prefix else "@_xmlns"] = uri
        self.pending_ns = {}
        parent = self.stack[-1][0] if self.stack else self.root
        if name in parent:
            existing = parent[name]
            parent[name] = [*existing, node] if isinstance(existing, list) else [existing, node]
        else:
            parent[name] = node
        self.stack.append((node, parent, name))

    def end(self, name: str) -> None:
        node, parent, key = self.stack.pop()
        if set(node) <= {"#text"}:
            value: Any = node.get("#text", "")
            slot = parent[key]
            if isinstance(slot, list) and slot and slot[-1] is node:
                slot[-1] = value
            else:
                parent[key] = value

    def text(self, data: str) -> None:
        if data.strip() and self.stack:
            node = self.stack[-1][0]
            node["#text"] = node.get("#text", "") + data.strip()


def _qualified(name: str) -> str:
    """expat's `uri local prefix` (namespace_prefixes) back to `prefix:local`."""
    parts = name.split(" ")
    if len(parts) == 3:
        return f"{parts[2]}:{parts[1]}"
    return parts[-1]


_BUILTIN_ENTITY = re.compile(r"&(?!(?:amp|lt|gt|quot|apos|#\d+|#x[0-9A-Fa-f]+);)([A-Za-z_][\w.-]*);")
_START_TAG = re.compile(r"<([A-Za-z_:][^<>]*?)(/?)>")


def _lenient(fragment: str) -> str:
    """What fast-xml-parser tolerates and expat does not: unknown entities, valueless attributes."""
    fragment = _BUILTIN_ENTITY.sub(r"&amp;\1;", fragment)

    def fix_tag(match: re.Match[str]) -> str:
        inner, slash = match.group(1), match.group(2)
        out, i, quote = [], 0, None
        tokens: list[str] = []
        current = ""
        while i < len(inner):
            char = inner[i]
            current += char
            if quote:
                if char == quote:
                    quote = None
            elif char in "\"'":
                quote = char
            elif char.isspace():
                tokens.append(current)
                current = ""
            i += 1
        tokens.append(current)
        for index, token in enumerate(tokens):
            bare = token.strip()
            following = "".join(tokens[index + 1 :]).lstrip()
            if index > 0 and bare and "=" not in bare and not following.startswith("=") and re.fullmatch(r"[A-Za-z_:][-\w:.]*", bare):
                token = token.replace(bare, f'{bare}=""', 1)
            out.append(token)
        return "<" + "".join(out) + slash + ">"

    return _START_TAG.sub(fix_tag, fragment)


def _parse(text: str, *, strict_doctype: bool) -> dict[str, Any]:
    """Parse `text` as one XML document; raises ValueError with the parser's message."""
    tree = _Tree()
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True

    def start(name: str, attrs: dict[str, str]) -> None:
        tree.start(_qualified(name), {_qualified(k): v for k, v in attrs.items()})

    def namespace(prefix: str | None, uri: str) -> None:
        tree.pending_ns[prefix or ""] = uri

    def doctype(name: str, system_id: str | None, public_id: str | None, has_internal_subset: int) -> None:
        if strict_doctype and has_internal_subset:
            raise _Unsupported("DTD internal subsets are not supported by is-xml validation")

    def xml_decl(version: str | None, encoding: str | None, standalone: int) -> None:
        if version is not None:
            tree.root.setdefault("?xml", {"@_version": version})

    parser.StartElementHandler = start
    parser.EndElementHandler = lambda name: tree.end(_qualified(name))
    parser.CharacterDataHandler = tree.text
    parser.StartDoctypeDeclHandler = doctype
    parser.StartNamespaceDeclHandler = namespace
    parser.XmlDeclHandler = xml_decl
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(text, True)
    except expat.ExpatError as err:
        raise ValueError(f"XML parsing failed: {err}") from None
    return tree.root


class _Unsupported(Exception):
    pass


def _has_path(value: Any, path: list[str]) -> bool:
    current = value
    for key in path:
        if isinstance(current, list):
            if not key.isdigit() or str(int(key)) != key or int(key) >= len(current):
                return False
            current = current[int(key)]
            continue
        if not isinstance(current, dict) or key not in current:
            return False
        current = current[key]
    return True


def missing_elements(tree: dict[str, Any], required: list[str] | None) -> list[str]:
    return [element for element in required or [] if not _has_path(tree, element.split("."))]


def required_elements(value: Any) -> list[str] | None:
    """promptfoo's reading of the assertion value. Raises ValueError on an unusable value."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")]
    if isinstance(value, list) and value:
        return [str(v) for v in value]
    if isinstance(value, dict) and value:
        if isinstance(value.get("requiredElements"), list):
            return [str(v) for v in value["requiredElements"]]
        raise ValueError("xml assertion must contain a string, array value, or no value")
    return None


def validate_xml(text: str, required: list[str] | None) -> tuple[bool, str]:
    """`is-xml`: (valid, reason)."""
    if "<!DOCTYPE" in text:
        start = text.index("<!DOCTYPE") + len("<!DOCTYPE")
        end = text.find(">", start)
        if _has_internal_subset(text[start : end if end >= 0 else len(text)]) or "[" in text[start:]:
            head = text[start:]
            bracket = head.find("[")
            close = head.find(">")
            if bracket != -1 and (close == -1 or bracket < close):
                return False, "DTD internal subsets are not supported by is-xml validation"
    try:
        tree = _parse(text, strict_doctype=True)
    except _Unsupported as err:
        return False, str(err)
    except ValueError as err:
        return False, str(err)
    missing = missing_elements(tree, required)
    if missing:
        return False, f"XML is missing required elements: {', '.join(missing)}"
    return True, "XML is valid and contains all required elements"


# ------------------------------------------------------------------ contains-xml scanner
def _find_tag_end(text: str, start: int) -> int:
    quote = None
    for i in range(start + 1, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "<":
            return -1
        elif char == ">":
            return i
    return -1


def _delimited_end(text: str, start: int, delimiter: str) -> int:
    found = text.find(delimiter, start)
    return found + len(delimiter) - 1 if found != -1 else len(text) - 1


def _declaration_end(text: str, start: int) -> int:
    if text.startswith("<!--", start):
        return _delimited_end(text, start + 4, "-->")
    if text.startswith("<![CDATA[", start):
        return _delimited_end(text, start + 9, "]]>")
    quote = None
    depth = 0
    for i in range(start + 2, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = None
            continue
        if char in "\"'":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]" and depth > 0:
            depth -= 1
        elif char == ">" and depth == 0:
            return i
    return len(text) - 1


def _read_tag(text: str, start: int) -> dict[str, Any] | None:
    if start + 1 >= len(text):
        return None
    nxt = text[start + 1]
    if nxt == "!":
        return {"kind": "decl", "end": _declaration_end(text, start)}
    if nxt == "?":
        return {"kind": "decl", "end": _delimited_end(text, start + 2, "?>")}
    if nxt == "/":
        name = _read_name(text, start + 2)
        if not name:
            return None
        end = _find_tag_end(text, start)
        return None if end == -1 else {"kind": "close", "end": end, "name": name[0]}
    name = _read_name(text, start + 1)
    if not name:
        return None
    end = _find_tag_end(text, start)
    if end == -1:
        return None
    last = end - 1
    while last > start and text[last].isspace():
        last -= 1
    return {"kind": "open", "end": end, "name": name[0], "self_closing": text[last] == "/"}


def xml_candidates(text: str) -> list[tuple[int, int]]:
    """promptfoo's extractXmlCandidates + orderXmlCandidates: (start, end) spans to try."""
    stack: list[tuple[str, int]] = []
    candidates: list[tuple[int, int, int | None]] = []
    i = 0
    while i < len(text):
        if text[i] != "<":
            i += 1
            continue
        tag = _read_tag(text, i)
        if not tag:
            i += 1
            continue
        if tag["kind"] == "open":
            if tag["self_closing"]:
                candidates.append((i, tag["end"] + 1, stack[-1][1] if stack else None))
            else:
                stack.append((tag["name"], i))
        elif tag["kind"] == "close":
            if stack and stack[-1][0] == tag["name"]:
                _, start = stack.pop()
                candidates.append((start, tag["end"] + 1, stack[-1][1] if stack else None))
            else:
                stack.clear()
        i = tag["end"] + 1
    starts = {c[0] for c in candidates}
    ordered: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()

    def add(start: int, end: int) -> None:
        if (start, end) not in seen:
            seen.add((start, end))
            ordered.append((start, end))

    by_parent: dict[int | None, list[tuple[int, int, int | None]]] = {}
    for cand in candidates:
        by_parent.setdefault(cand[2], []).append(cand)
    for parent, siblings in by_parent.items():
        if len(siblings) <= 1 or (parent is not None and parent in starts):
            continue
        siblings.sort(key=lambda c: (c[0], c[1]))
        add(siblings[0][0], siblings[-1][1])
    maximal = sorted((c for c in candidates if c[2] is None or c[2] not in starts), key=lambda c: (c[0], -c[1]))
    for cand in maximal:
        add(cand[0], cand[1])
    return ordered


def contains_xml(text: str, required: list[str] | None) -> tuple[bool, str]:
    candidates = xml_candidates(text)
    if not candidates:
        return False, "No XML content found in the output"
    well_formed: list[tuple[int, int]] = []
    for start, end in candidates:
        if any(start >= s and end <= e for s, e in well_formed):
            continue
        fragment = text[start:end]
        try:
            # Sibling runs are several roots: parse them inside a wrapper, as the lenient
            # fast-xml-parser promptfoo uses accepts them.
            tree = _parse(f"<_wb_root>{_lenient(fragment)}</_wb_root>", strict_doctype=False).get("_wb_root", {})
        except (ValueError, _Unsupported):
            continue
        missing = missing_elements(tree if isinstance(tree, dict) else {}, required)
        if not missing:
            return True, "XML is valid and contains all required elements"
        well_formed.append((start, end))
    return False, "No valid XML content found matching the requirements"
