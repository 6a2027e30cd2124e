"""Text for a standard output that cannot encode every character: a latin-1 or ASCII locale,
`PYTHONIOENCODING=ascii`, a terminal set to another code page.

Python's stdout is strict there, so one `✓` or `⚠` failed the whole command ("unexpected error:
UnicodeEncodeError", exit 2), after `promote` had written its event. What the stream cannot
encode is degraded instead: a symbol to its ASCII look-alike (`⚠` `!`, `→` `->`, a box line `-`),
a control picture to caret notation (`␛` `^[`), anything else `?`. A byte of a file name that is
not UTF-8 (a lone surrogate) stays that byte when the stream escapes surrogates (a C locale).
stderr needs none of this: Python writes it with `backslashreplace`. Data another program reads (a
piped unified diff or rendered prompt) is not text for a reader: `common.emit_data` writes it as
UTF-8 bytes whatever the stream's encoding.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable

_ASCII = {
    "✓": "ok", "✔": "ok", "✗": "x", "✘": "x", "⚠": "!", "→": "->", "←": "<-", "↑": "^", "↓": "v", "⇒": "=>",
    "…": "...", "–": "-", "—": "-", "·": ".", "•": "*", "◆": "*", "◇": "o", "●": "*", "○": "o", "▶": ">", "▸": ">",
    "“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "«": '"', "»": '"', "≥": ">=", "≤": "<=", "≠": "!=", "±": "+/-",
    "×": "x", "÷": "/", "µ": "u", "°": "deg", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
}
_FALLBACK = "workbench-ascii-fallback"
_FALLBACK_SURROGATES = "workbench-ascii-fallback-surrogateescape"


def ascii_fallback(char: str) -> str:
    """The ASCII text that stands for `char` on a stream that cannot encode it."""
    found = _ASCII.get(char)
    if found is not None:
        return found
    code = ord(char)
    if 0x2400 <= code < 0x2420:  # control pictures, as `core.safe_text.clean` shows control characters
        return "^" + chr(code - 0x2400 + 0x40)
    if code == 0x2421:
        return "^?"
    if 0x2500 <= code < 0x2580:  # box drawing
        import unicodedata

        name = unicodedata.name(char, "")
        if "VERTICAL" in name and "HORIZONTAL" not in name:
            return "|"
        if "HORIZONTAL" in name and "VERTICAL" not in name:
            return "-"
        return "+"
    return "?"


def _handler(keep_surrogates: bool) -> Callable[[UnicodeError], tuple[str | bytes, int]]:
    def handle(error: UnicodeError) -> tuple[str | bytes, int]:
        if not isinstance(error, UnicodeEncodeError):
            raise error
        chunk = error.object[error.start : error.end]
        if keep_surrogates and any("\udc80" <= char <= "\udcff" for char in chunk):
            out = b"".join(
                bytes([ord(char) - 0xDC00]) if "\udc80" <= char <= "\udcff" else ascii_fallback(char).encode("ascii") for char in chunk
            )
            return out, error.end
        return "".join(ascii_fallback(char) for char in chunk), error.end

    return handle


codecs.register_error(_FALLBACK, _handler(keep_surrogates=False))
codecs.register_error(_FALLBACK_SURROGATES, _handler(keep_surrogates=True))


def encoded(text: str, encoding: str, errors: str) -> bytes:
    """`text` in the stream's `encoding`, by its own `errors` rule where that succeeds, else with
    what it cannot encode degraded (the module's rule)."""
    try:
        return text.encode(encoding, errors)
    except UnicodeEncodeError:
        return text.encode(encoding, _FALLBACK_SURROGATES if errors == "surrogateescape" else _FALLBACK)


def can_encode(text: str, encoding: str | None) -> bool:
    if text.isascii():
        return True
    try:
        text.encode(encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True
