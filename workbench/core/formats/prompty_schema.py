"""Prompty properties <-> JSON Schema, as the Prompty 2 runtime builds its wire format.

Prompty 2 describes inputs, outputs and tool parameters as property lists (`name`, `kind`,
`description`, `enumValues`, `items`, `properties`, `required`, `nullable`); the runtime turns
them into JSON Schema (`_property_to_json_schema`, `_tools_to_wire`, `_output_schema_to_wire`).
Import uses the same construction, and export goes back only when the property list rebuilds
exactly the same schema (anything else is reported, never approximated).
"""

from __future__ import annotations

from typing import Any

KINDS = {"string": "string", "integer": "integer", "float": "number", "number": "number", "boolean": "boolean", "array": "array", "object": "object"}


def item_kind(values: Any) -> str:
    """The `kind` of an array input's `items`, which Prompty 2 requires to load the file (a
    workbench input names no item type): its default's items' kind when they share one, else
    string (what the runtime assumes when `items` is missing)."""
    names = {bool: "boolean", int: "integer", float: "float", str: "string", dict: "object"}
    kinds = {names.get(type(value)) for value in values} if isinstance(values, list) else set()
    found = kinds.pop() if len(kinds) == 1 else None
    return found or "string"


def property_schema(prop: dict[str, Any], *, optional: bool = False, strict: bool = False) -> dict[str, Any]:
    """A Prompty property as JSON Schema, as the runtime's `_property_to_json_schema` builds it."""
    kind = KINDS.get(str(prop.get("kind", "")))
    schema: dict[str, Any] = {"type": kind} if kind else {}
    if prop.get("description"):
        schema["description"] = prop["description"]
    if prop.get("enumValues"):
        schema["enum"] = list(prop["enumValues"])
    if prop.get("kind") == "array":
        items = prop.get("items")
        schema["items"] = property_schema(items, strict=strict) if isinstance(items, dict) else {"type": "string"}
    if prop.get("kind") == "object":
        children = [p for p in prop.get("properties") or [] if isinstance(p, dict)]
        props: dict[str, Any] = {}
        required: list[str] = []
        for child in children:
            props[child["name"]] = property_schema(child, optional=strict and not child.get("required"), strict=strict)
            if strict or child.get("required"):
                required.append(child["name"])
        schema["properties"] = props
        if required:
            schema["required"] = required
        schema["additionalProperties"] = False
    if prop.get("nullable") or optional:
        if isinstance(schema.get("type"), str):
            schema["type"] = [schema["type"], "null"]
        elif schema:
            schema = {"anyOf": [schema, {"type": "null"}]}
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["enum"].append(None)
    return schema


def tool_of(tool: dict[str, Any]) -> dict[str, Any]:
    """A Prompty 2 function tool in OpenAI's shape (the runtime's `_tools_to_wire`)."""
    function: dict[str, Any] = {"name": tool["name"]}
    if tool.get("description"):
        function["description"] = tool["description"]
    strict = bool(tool.get("strict"))
    parameters = [p for p in tool.get("parameters") or [] if isinstance(p, dict)]
    if parameters:
        props = {p["name"]: property_schema(p, optional=strict and not p.get("required"), strict=strict) for p in parameters}
        required = [p["name"] for p in parameters if strict or p.get("required")]
        function["parameters"] = {"type": "object", "properties": props, **({"required": required} if required else {})}
    if strict:
        function["strict"] = True
        if "parameters" in function:
            function["parameters"]["additionalProperties"] = False
    return {"type": "function", "function": function}


def outputs_format(outputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Prompty 2 `outputs` as the response_format the runtime sends (`_output_schema_to_wire`)."""
    properties = {p["name"]: property_schema(p, optional=not p.get("required"), strict=True) for p in outputs}
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if properties:
        schema["required"] = list(properties)
    return {"type": "json_schema", "json_schema": {"name": "structured_output", "strict": True, "schema": schema}}


def schema_property(name: str, schema: dict[str, Any], *, strict: bool, required: bool) -> dict[str, Any] | None:
    """The Prompty property whose JSON Schema (as `property_schema` builds it) is `schema`; None when none is."""
    prop: dict[str, Any] = {"name": name}
    types = schema.get("type")
    nullable = isinstance(types, list) and "null" in types
    base = next((t for t in types if t != "null"), None) if isinstance(types, list) else types
    kind = {"number": "float"}.get(str(base), base)
    if kind not in KINDS:
        return None
    prop["kind"] = kind
    if schema.get("description"):
        prop["description"] = schema["description"]
    if isinstance(schema.get("enum"), list):
        prop["enumValues"] = [v for v in schema["enum"] if v is not None]
    if kind == "array" and isinstance(schema.get("items"), dict):
        item = schema_property("item", schema["items"], strict=strict, required=True)
        if item is None:
            return None
        item.pop("name")
        prop["items"] = item
    if kind == "object":
        children = []
        needed = set(schema.get("required") or [])
        for child_name, child in (schema.get("properties") or {}).items():
            made = schema_property(child_name, child, strict=strict, required=child_name in needed)
            if made is None:
                return None
            children.append(made)
        prop["properties"] = children
    if required and not strict:
        prop["required"] = True
    if strict and required and nullable:
        pass
    elif strict and not required:
        prop["required"] = False
    # Verify: the property must give back the very same schema.
    optional = strict and not required
    rebuilt = property_schema({**prop, "required": required}, optional=optional, strict=strict)
    if nullable and not optional:
        prop["nullable"] = True
        rebuilt = property_schema({**prop, "required": required}, optional=optional, strict=strict)
    return prop if rebuilt == schema else None


def export_structure(prompt: Any, front: dict[str, Any], lost: Any) -> None:
    if prompt.tools:
        tools = []
        for tool in prompt.tools:
            function = tool.get("function") or {}
            parameters = function.get("parameters") or {}
            strict = bool(function.get("strict"))
            needed = set(parameters.get("required") or [])
            props: list[dict[str, Any]] | None = []
            for name, schema in (parameters.get("properties") or {}).items():
                made = schema_property(name, schema, strict=strict, required=name in needed or strict)
                if made is None:
                    props = None
                    break
                assert props is not None
                props.append(made)
            made_tool = {"name": function.get("name"), "kind": "function", **({"description": function["description"]} if function.get("description") else {}), **({"strict": True} if strict else {}), **({"parameters": props} if props else {})}
            if props is None or tool_of(made_tool) != dict(tool):
                lost(f"tool {function.get('name')!r} not exported: its JSON Schema has no exact Prompty property list")
                continue
            tools.append(made_tool)
        if tools:
            front["tools"] = tools
    if prompt.tool_choice is not None:
        lost("tool_choice not exported: a Prompty file has no tool choice")
    if prompt.response_format is not None:
        fmt = prompt.response_format
        schema = (fmt.get("json_schema") or {}).get("schema") if fmt.get("type") == "json_schema" else None
        outputs: list[dict[str, Any]] | None = []
        if isinstance(schema, dict):
            for name, child in (schema.get("properties") or {}).items():
                # A required output is sent as it is; an optional one is made nullable.
                required = True
                made = schema_property(name, child, strict=True, required=True)
                if made is None:
                    required = False
                    made = schema_property(name, child, strict=True, required=False)
                if made is None:
                    outputs = None
                    break
                made["required"] = required
                assert outputs is not None
                outputs.append(made)
        if not outputs or outputs_format(outputs) != dict(fmt):
            lost("response_format not exported: Prompty sends outputs as a strict json_schema named structured_output, and this one differs")
        else:
            front["outputs"] = outputs


__all__ = ["KINDS", "export_structure", "item_kind", "outputs_format", "property_schema", "schema_property", "tool_of"]
