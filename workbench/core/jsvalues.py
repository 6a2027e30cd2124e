"""JavaScript's rules for the values promptfoo assertions look at, so verdicts match promptfoo's.

promptfoo runs on Node: its regular expressions are ECMAScript ones over UTF-16 code units,
`JSON.parse` is stricter than Python's `json`, `JSON.stringify` prints numbers its own way and
string lengths count UTF-16 code units. Everything here reproduces those rules in Python:

- regular expressions: the `regress` engine (an ECMAScript regex engine, Rust, from PyPI),
  run over a string whose UTF-16 surrogates are mapped to private-use characters, so that
  `.`, `[^x]` and `\\uD83D` see code units exactly as V8 does without the `u` flag (a pattern
  the user wrote runs within a time limit: `evals.regex_limit`);
- `json_parse`: Python's decoder with NaN/Infinity refused (JavaScript rejects them);
- `stringify`: `JSON.stringify` (compact, integral floats without `.0`);
- `utf16_units`: the code units a JavaScript string is made of (levenshtein counts them).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

_SURROGATES = range(0xD800, 0xE000)
# Candidate homes for the 2,048 surrogate code units: private-use blocks of the BMP.
_PUA_BASES = (0xE000, 0xE800, 0xF000)


class JsRegexError(ValueError):
    """A pattern JavaScript's `new RegExp(pattern)` rejects."""


def utf16_units(text: str) -> list[int]:
    """The UTF-16 code units of `text` (a character outside the BMP is two units)."""
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]


def utf16_len(text: str) -> int:
    return len(utf16_units(text))


def _to_units_text(text: str, base: int) -> str:
    """`text` as one character per UTF-16 code unit, surrogates moved to `base`."""
    if all(ord(c) < 0xD800 for c in text):
        return text
    out = []
    for unit in utf16_units(text):
        out.append(chr(unit - 0xD800 + base) if unit in _SURROGATES else chr(unit))
    return "".join(out)


def _pick_base(*texts: str) -> int:
    used = {ord(c) for t in texts for c in t if 0xE000 <= ord(c) < 0xF800}
    for base in _PUA_BASES:
        if not any(base <= u < base + 0x800 for u in used):
            return base
    return _PUA_BASES[0]  # both texts use every block: vanishingly rare; accept the overlap


def _translate_pattern(pattern: str, base: int) -> str:
    """Rewrite a non-unicode-mode pattern so it means the same over the remapped subject.

    - a literal character outside the BMP becomes its two (remapped) surrogate units;
    - `\\uD8xx`-style escapes of surrogates are remapped the same way;
    - `\\u{...}` is not a code point escape without the `u` flag (it is `u` repeated), so it
      is written as such, which regress otherwise reads in Unicode mode.
    """
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "u":
                hex4 = pattern[i + 2 : i + 6]
                if len(hex4) == 4 and all(c in "0123456789abcdefABCDEF" for c in hex4):
                    unit = int(hex4, 16)
                    if unit in _SURROGATES:
                        out.append(f"\\u{unit - 0xD800 + base:04X}")
                    else:
                        out.append(pattern[i : i + 6])
                    i += 6
                    continue
                out.append("u")  # identity escape `\u` (Annex B), e.g. `\u{61}` is u{61}
                i += 2
                continue
            out.append(pattern[i : i + 2] if ord(nxt) < 0x10000 else "\\" + _to_units_text(nxt, base))
            i += 2
            continue
        if ord(char) >= 0x10000 or ord(char) in _SURROGATES:
            out.append(_to_units_text(char, base))
        else:
            out.append(char)
        i += 1
    return "".join(out)


@lru_cache(maxsize=512)
def _compile(pattern: str, flags: str, base: int) -> Any:
    import regress

    try:
        return regress.Regex(_translate_pattern(pattern, base) if "u" not in flags else pattern, flags or None)
    except Exception as err:  # regress raises RegressError for a pattern V8 rejects
        raise JsRegexError(f"Invalid regular expression: /{pattern}/: {err}") from None


def check_regex(pattern: str, flags: str = "") -> None:
    """Raise `JsRegexError` when `new RegExp(pattern, flags)` would throw."""
    _compile(pattern, flags, _PUA_BASES[0])


def regex_search(pattern: str, text: str, flags: str = "") -> bool:
    """`new RegExp(pattern, flags).test(text)`, with JavaScript's semantics and no time limit:
    for patterns of our own; a user's runs through `evals.regex_limit.bounded_search`.

    Raises:
        JsRegexError: the pattern is not valid JavaScript.
    """
    if "u" in flags:
        return _compile(pattern, flags, 0).find(text) is not None
    base = _pick_base(pattern, text)
    return _compile(pattern, flags, base).find(_to_units_text(text, base)) is not None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def json_parse(text: str) -> Any:
    """`JSON.parse(text)`: raises ValueError where JavaScript throws a SyntaxError.

    Python's decoder accepts NaN, Infinity and -Infinity; JavaScript does not. Everything else
    (whitespace, escapes, control characters, numbers, duplicate keys: last wins) agrees.
    """
    return json.loads(text, parse_constant=_no_constants)


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return "null"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" in text:
        mantissa, exponent = text.split("e")
        sign = "-" if exponent.startswith("-") else "+"
        text = f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"
    return text


def stringify(value: Any) -> str:
    """`JSON.stringify(value)` (compact), as promptfoo prints non-string outputs and values."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return _number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join("null" if callable(v) else stringify(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(str(k), ensure_ascii=False)}:{stringify(v)}" for k, v in value.items() if not callable(v)) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def to_string(value: Any) -> str:
    """JavaScript's `String(value)` for the scalars YAML produces."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return _number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return ",".join("" if v is None else to_string(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def nunjucks_text(value: Any) -> Any:
    """What Nunjucks prints for `{{ value }}` (promptfoo's templates): JavaScript's `String(value)`,
    and nothing for null. Strings and values YAML does not produce are returned as they are."""
    if value is None:
        return ""
    if isinstance(value, (bool, int, float, list, tuple, dict)):
        return to_string(value)
    return value


def coerce_output(value: Any) -> str:
    """promptfoo's `coerceString`: strings as they are, anything else through JSON.stringify."""
    return value if isinstance(value, str) else stringify(value)


_JS_WHITESPACE = frozenset("\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff")


def js_split_whitespace(text: str) -> list[str]:
    """`text.trim().split(/\\s+/)` minus empty strings: JavaScript's whitespace, not Python's."""
    words: list[str] = []
    current: list[str] = []
    for char in text:
        if char in _JS_WHITESPACE:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(char)
    if current:
        words.append("".join(current))
    return words


def js_trim(text: str) -> str:
    start, end = 0, len(text)
    while start < end and text[start] in _JS_WHITESPACE:
        start += 1
    while end > start and text[end - 1] in _JS_WHITESPACE:
        end -= 1
    return text[start:end]
