"""Tools and structured output of a prompt: the checks the JSON Schema of the file cannot make.

A prompt carries, in OpenAI's own shapes (sent to the model as they are):

- `tools`: function tools `{type: function, function: {name, description, parameters, strict}}`,
  `parameters` a JSON Schema;
- `tool_choice`: `auto`, `none`, `required` or `{type: function, function: {name}}`;
- `response_format`: `{type: json_schema, json_schema: {name, schema, strict}}`,
  `{type: json_object}` or `{type: text}`.

`validate` checks, each at its line and column: every `parameters` and `schema` is a valid JSON
Schema (jsonschema's meta-schema check, for the draft the schema names, draft 2020-12 by
default), tool names are unique, `tool_choice` names a declared tool and is not given without
tools, and each field is declared once (top level or `model.parameters`, not both).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workbench.core.model import Problem, Severity
from workbench.core.safe_text import clean
from workbench.core.yamlpos import Path, YamlDocument

FIELDS = ("tools", "tool_choice", "response_format")


def _schema_problem(schema: Any) -> tuple[tuple[Any, ...], str] | None:
    """(path inside the schema, message) of the first reason `schema` is not a JSON Schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError
    from jsonschema.validators import validator_for

    if not isinstance(schema, (dict, bool)):
        return (), "a JSON Schema is an object"
    try:
        cls = validator_for(schema, default=Draft202012Validator)
        cls.check_schema(schema)  # type: ignore[arg-type]
    except SchemaError as err:
        message = err.message if len(err.message) <= 160 else err.message[:159] + "…"
        return tuple(err.path), message
    except Exception as err:  # an unknown $schema or the like
        return (), f"{type(err).__name__}: {err}"
    return None


def tool_problems(data: Mapping[str, Any], doc: YamlDocument, path: str) -> list[Problem]:
    """What `validate` finds wrong with a prompt's tools, tool_choice and response_format."""
    problems: list[Problem] = []

    def at(where: Path, message: str, hint: str | None = None, *, key: bool = False) -> None:
        pos = doc.where(where, key=key)
        problems.append(Problem(path, pos.line, pos.col, message, Severity.ERROR, hint))

    model = data.get("model")
    parameters = model.get("parameters") if isinstance(model, dict) else None
    if isinstance(parameters, dict):
        for field_name in FIELDS:
            if field_name in data and field_name in parameters:
                at(("model", "parameters", field_name), f"{field_name} is declared twice: at the top level and in model.parameters", "keep the top-level one", key=True)
    tools = data.get("tools")
    names: dict[str, int] = {}
    if isinstance(tools, list):
        for index, tool in enumerate(tools):
            function = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(function, dict):
                continue
            name = function.get("name")
            if isinstance(name, str):
                if name in names:
                    at(("tools", index, "function", "name"), f"two tools are named '{clean(name)}' (first at line {names[name]})", "tool names must be unique: the model calls a tool by name")
                else:
                    names[name] = doc.where(("tools", index, "function", "name")).line
            if "parameters" in function:
                found = _schema_problem(function["parameters"])
                if found is not None:
                    inner, message = found
                    label = clean(name) if isinstance(name, str) else f"#{index + 1}"
                    at(("tools", index, "function", "parameters", *inner), f"tool {label}: parameters is not a valid JSON Schema: {clean(message)}")
    choice = data.get("tool_choice")
    if "tool_choice" in data and not tools:
        at(("tool_choice",), "tool_choice is set but the prompt declares no tools", "add tools: or remove tool_choice", key=True)
    elif isinstance(choice, dict):
        function = choice.get("function")
        wanted = function.get("name") if isinstance(function, dict) else None
        if isinstance(wanted, str) and wanted not in names:
            at(("tool_choice", "function", "name"), f"tool_choice names '{clean(wanted)}', which is not one of the prompt's tools", "tools: " + (", ".join(names) or "(none)"))
    response_format = data.get("response_format")
    if isinstance(response_format, dict) and response_format.get("type") == "json_schema":
        spec = response_format.get("json_schema")
        if isinstance(spec, dict) and "schema" in spec:
            found = _schema_problem(spec["schema"])
            if found is not None:
                inner, message = found
                at(("response_format", "json_schema", "schema", *inner), f"response_format: schema is not a valid JSON Schema: {clean(message)}")
    return problems


def tool_definitions(data: Mapping[str, Any]) -> tuple[tuple[dict[str, Any], ...], Any, dict[str, Any] | None]:
    """(tools, tool_choice, response_format) of a prompt document: the top-level fields, else
    the same names in `model.parameters` (where earlier files kept them)."""
    model = data.get("model")
    found = model.get("parameters") if isinstance(model, dict) else None
    parameters: dict[str, Any] = found if isinstance(found, dict) else {}

    def pick(name: str) -> Any:
        return data[name] if name in data else parameters.get(name)

    tools = pick("tools")
    response_format = pick("response_format")
    return (
        tuple(t for t in tools if isinstance(t, dict)) if isinstance(tools, list) else (),
        pick("tool_choice"),
        response_format if isinstance(response_format, dict) else None,
    )
