"""promptfoo's comma-separated values (contains-any/all, CSV `__expected` cells).

Quotes keep commas; inside quotes `\\"` and `""` escape a quote; a missing closing quote or text
after a closing quote is an error. The evaluation engine and the importer share this rule.
"""

from __future__ import annotations


class CsvValueError(ValueError):
    """A value promptfoo refuses to split."""


def parse_comma_separated(value: str) -> list[str]:
    results: list[str] = []
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        if i >= n:
            break
        if value[i] == '"':
            i += 1
            field: list[str] = []
            terminated = False
            while i < n:
                if value[i] == "\\" and i + 1 < n and value[i + 1] in '"\\':
                    field.append(value[i + 1])
                    i += 2
                elif value[i] == '"' and i + 1 < n and value[i + 1] == '"':
                    field.append('"')
                    i += 2
                elif value[i] == '"':
                    i += 1
                    terminated = True
                    break
                else:
                    field.append(value[i])
                    i += 1
            if not terminated:
                raise CsvValueError("Unterminated quoted field in contains assertion value")
            results.append("".join(field))
            while i < n and value[i].isspace():
                i += 1
            if i < n and value[i] != ",":
                raise CsvValueError("Expected comma after quoted field in contains assertion value")
        else:
            start = i
            while i < n and value[i] != ",":
                i += 1
            results.append(value[start:i].strip())
    return results
