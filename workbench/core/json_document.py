"""The JSON the workbench writes for other programs (`--json`, `--json-file`, `ci check`): what
every parser reads."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from workbench.core.safe_text import well_formed


def json_document(data: Any) -> str:
    """`data` as indented JSON text, ending in a newline. NaN and ±Infinity, which Python writes
    and JSON has not (`"score": NaN` stops `JSON.parse` and `jq`), become null, as JavaScript's
    `JSON.stringify` writes them; anything else not JSON by its `str`; text made well-formed."""
    return well_formed(json.dumps(_finite(data), indent=2, ensure_ascii=False, default=str)) + "\n"


_NOT_ASCII_RE = re.compile(r"[^\x00-\x7f]+")


def ascii_json(document: str) -> str:
    """A `json_document` with every character beyond ASCII as its `\\u` escape: the same JSON
    for a reader that cannot take those characters (only strings hold any)."""
    return _NOT_ASCII_RE.sub(lambda found: json.dumps(found.group(0))[1:-1], document)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    return value
