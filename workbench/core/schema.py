"""JSON Schema validation (the `jsonschema` library) mapped back onto YAML positions.

The schema files ship inside the package so that editors with the YAML language server
give completion and squiggles from the very same rules the CLI applies.
"""

from __future__ import annotations

import difflib
import json
from functools import cache
from importlib import resources
from typing import Any

from workbench.core.assertion_types import ALL_ASSERTION_TYPES, ASSERTION_TYPES, is_unsupported
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import YamlDocument


@cache
def load_schema(name: str) -> dict[str, Any]:
    """`prompt` or `workbench`: the packaged JSON Schema."""
    text = resources.files("workbench.schema").joinpath(f"{name}.schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


@cache
def _validator(name: str) -> Any:
    # jsonschema is imported on first validation only: it costs ~40 ms at start-up.
    from jsonschema import Draft202012Validator

    return Draft202012Validator(load_schema(name))


def prepare() -> None:
    """Build the prompt validator now (importing jsonschema takes 0.1-0.5 s): the app does this
    in a thread while the repository opens, so the first validation does not wait for it."""
    _validator("prompt")


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def field_path(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the prompt"


def _schema_at(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        return dict(root["$defs"][ref.split("/")[-1]])
    return schema


def schema_problems(doc: YamlDocument, path: str, schema_name: str) -> list[Problem]:
    """Every schema violation of `doc.value`, each at the position of the node it concerns."""
    validator = _validator(schema_name)
    root = load_schema(schema_name)
    problems: list[Problem] = []
    for error in validator.iter_errors(doc.value):
        problems.extend(_explain(error, doc, path, root))
    return problems


def data_problem(data: Any, schema_name: str, whole: str) -> str | None:
    """The first violation of plain JSON data (no positions: a report another job wrote) against
    a packaged schema, as `suites[0].cases: None is not of type 'array'`; None when it passes.
    `whole` names the data itself (`the report`)."""
    from jsonschema.exceptions import best_match

    error = best_match(_validator(schema_name).iter_errors(data))
    if error is None:
        return None
    where = tuple(error.absolute_path)
    return f"{field_path(where) if where else whole}: {_short(error.message)}"


def _explain(error: Any, doc: YamlDocument, path: str, root: dict[str, Any]) -> list[Problem]:
    where = tuple(error.absolute_path)
    field = field_path(where)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        schema = error.schema
        allowed = sorted((schema.get("properties") or {}).keys())
        extras = [k for k in error.instance if k not in allowed]
        out = []
        for key in extras:
            pos = doc.where((*where, key), key=True)
            guess = did_you_mean(str(key), allowed)
            hint = f"did you mean '{guess}'?" if guess else ("allowed: " + ", ".join(allowed) if allowed else None)
            out.append(Problem(path, pos.line, pos.col, f"unknown field '{key}' in {field}", Severity.ERROR, hint))
        return out
    if error.validator == "not" and error.validator_value == {}:
        # A field the schema names only to refuse it (`stream` in model.parameters: the run decides
        # streaming), said at its key, with the schema's reason as the hint.
        pos = doc.where(where, key=True)
        reason = error.schema.get("description") if isinstance(error.schema, dict) else None
        return [Problem(path, pos.line, pos.col, f"{field} is not allowed here", Severity.ERROR, reason)]
    pos = doc.where(where)
    if error.validator == "enum" and where and where[-1] == "type" and "assert" in where:
        value = str(error.instance)
        if is_unsupported(value):
            return [
                Problem(
                    path, pos.line, pos.col,
                    f"assertion type '{value}' is a promptfoo type that Prompt Workbench does not run",
                    Severity.ERROR,
                    "rewrite it with a supported type (e.g. `python` for `javascript`) or remove it; supported: " + ", ".join(ASSERTION_TYPES),
                )
            ]
        guess = did_you_mean(value, ALL_ASSERTION_TYPES)
        hint = f"did you mean '{guess}'?" if guess else "see the README for the assertion types"
        return [Problem(path, pos.line, pos.col, f"unknown assertion type '{value}'", Severity.ERROR, hint)]
    if error.validator == "enum":
        options = ", ".join(str(o) for o in error.validator_value)
        guess = did_you_mean(str(error.instance), [str(o) for o in error.validator_value])
        hint = f"did you mean '{guess}'?" if guess else f"one of: {options}"
        return [Problem(path, pos.line, pos.col, f"{field}: {error.instance!r} is not one of {options}", Severity.ERROR, hint)]
    if error.validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return [Problem(path, pos.line, pos.col, f"{field}: missing required field '{missing}'")]
    if error.validator == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else expected
        return [Problem(path, pos.line, pos.col, f"{field}: expected {expected_text}, got {_type_name(error.instance)}")]
    if error.validator == "pattern" and where and where[-1] == "provider":
        return [
            Problem(
                path,
                pos.line,
                pos.col,
                f"unknown provider {error.instance!r}",
                Severity.ERROR,
                "use openai, local, echo or python:module:function",
            )
        ]
    if error.validator == "pattern" and "tests" in where and isinstance(error.instance, str):
        return [Problem(path, pos.line, pos.col, f"{field}: a tests file reference looks like file://path.yaml", Severity.ERROR)]
    if error.validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        best = best_match(error.context)
        if best is not None:
            # Re-anchor the sub-error's relative path onto this node.
            best_path = where + tuple(best.relative_path)
            sub_pos = doc.where(best_path)
            if best.validator == "additionalProperties":
                return _explain(_Rebased(best, best_path), doc, path, root)
            return [Problem(path, sub_pos.line, sub_pos.col, f"{field_path(best_path)}: {_short(best.message)}")]
    if error.validator == "propertyNames":
        return [Problem(path, pos.line, pos.col, f"{field}: {_short(error.message)}", Severity.ERROR, "names are letters, digits and _, not starting with a digit")]
    return [Problem(path, pos.line, pos.col, f"{field}: {_short(error.message)}")]


class _Rebased:
    """A sub-error of oneOf seen from the document root."""

    def __init__(self, error: Any, path: tuple[Any, ...]) -> None:
        self.validator = error.validator
        self.validator_value = error.validator_value
        self.instance = error.instance
        self.schema = error.schema
        self.message = error.message
        self.absolute_path = path
        self.context = error.context


def _type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _short(message: str, limit: int = 160) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
