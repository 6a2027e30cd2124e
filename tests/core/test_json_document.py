"""JSON written for other programs is JSON every parser reads."""

from __future__ import annotations

import json
import math

from workbench.core.json_document import json_document


def test_numbers_json_has_not_are_written_as_null_as_javascript_does() -> None:
    text = json_document({"score": math.nan, "values": [math.inf, -math.inf, 1.5], "nested": ({"x": math.nan},)})
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text, parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name))) == {
        "score": None,
        "values": [None, None, 1.5],
        "nested": [{"x": None}],
    }
    assert text.endswith("}\n")
