"""Dotprompt files (`*.prompt`: YAML front matter + a Handlebars body) <-> workbench prompts.

Read from google/dotprompt (`python/dotpromptz`: `parse.py`, `helpers.py`, `picoschema.py`,
the cross-language `spec/*.yaml`):

| Dotprompt | workbench |
| --- | --- |
| `model` (`openai/x`, `googleai/x`, `gemini-*`) | `model.name` (+ Gemini's OpenAI-compatible endpoint and `GEMINI_API_KEY` for Gemini models) |
| `config`: `temperature`, `maxOutputTokens`, `topP`, `stopSequences` | `model.parameters`: `temperature`, `max_tokens`, `top_p`, `stop` |
| `input.schema` (Picoschema or JSON Schema), `input.default` | `inputs` (types, required, defaults) |
| `output.schema` (Picoschema or JSON Schema), `output.format: json` | `response_format` (`json_schema` named after the prompt, or `json_object`) |
| `toolDefs` with `inputSchema` | `tools` (function tools); `tools` given by name only are reported |
| the body: `{{role "system"}}` splits messages (before any role: user; `model` is assistant) | `messages`, converted to Jinja by `handlebars.to_jinja` |
| `{{> name}}` with `_name.prompt` beside the file | `{% include "PREFIX/name.jinja" %}` and the partial `prompts/PREFIX/name.jinja` |
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from workbench.core.formats.base import Conversion, ExportItem, OutputFile, Source, dump_yaml
from workbench.core.formats.handlebars import from_jinja, split_roles, to_jinja
from workbench.core.formats.promptfoo_state import ConversionState
from workbench.core.formats.templating import json_type, mapping, partial_texts, slug
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import YamlSyntaxError, parse_yaml

FRONT_MATTER = re.compile(r"^(?:(?:#[^\n]*|[ \t]*)\n)*---\s*(?:\r\n|\r|\n)([\s\S]*?)(?:\r\n|\r|\n)---\s*(?:\r\n|\r|\n)([\s\S]*)$")
SCALARS = ("any", "boolean", "integer", "null", "number", "string")
CONFIG = {"temperature": "temperature", "maxOutputTokens": "max_tokens", "topP": "top_p", "stopSequences": "stop"}
GEMINI_ENDPOINT = "https://generativelanguage.googleapis.com/v1beta/openai"
ROLES = {"system": "system", "user": "user", "model": "assistant"}


class PicoschemaError(ValueError):
    pass


def picoschema(schema: Any) -> dict[str, Any] | None:
    """Picoschema -> JSON Schema, as dotpromptz's `PicoschemaParser` does (no named schemas)."""
    if not schema:
        return None
    if isinstance(schema, str):
        name, description = _description(schema)
        if name not in SCALARS:
            raise PicoschemaError(f"unsupported scalar type {name!r} (named schemas are not carried over)")
        return {"type": name, **({"description": description} if description else {})}
    if isinstance(schema, dict) and isinstance(schema.get("type"), str) and schema["type"] in (*SCALARS, "object", "array"):
        return schema
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        return {**schema, "type": "object"}
    return _pico(schema)


def _description(text: str) -> tuple[str, str | None]:
    if "," not in text:
        return text, None
    found = re.match(r"(.*?), *(.*)$", text)
    return (found.group(1), found.group(2)) if found else (text, None)


def _pico(obj: Any) -> dict[str, Any]:
    if isinstance(obj, str):
        name, description = _description(obj)
        if name not in SCALARS:
            raise PicoschemaError(f"unsupported scalar type {name!r} (named schemas are not carried over)")
        if name == "any":
            return {"description": description} if description else {}
        return {"type": name, "description": description} if description else {"type": name}
    if not isinstance(obj, dict):
        raise PicoschemaError(f"Picoschema consists of objects and strings, not {obj!r}")
    schema: dict[str, Any] = {"type": "object", "properties": {}, "required": [], "additionalProperties": False}
    for key, value in obj.items():
        if key == "(*)":
            schema["additionalProperties"] = _pico(value)
            continue
        parts = str(key).split("(")
        name = parts[0]
        type_info = parts[1][:-1] if len(parts) > 1 else None
        optional = name.endswith("?")
        prop_name = name[:-1] if optional else name
        if not optional:
            schema["required"].append(prop_name)
        if not type_info:
            prop = _pico(value)
            if optional and isinstance(prop.get("type"), str):
                prop["type"] = [prop["type"], "null"]
            schema["properties"][prop_name] = prop
            continue
        kind, description = _description(type_info)
        if kind == "array":
            schema["properties"][prop_name] = {"type": ["array", "null"] if optional else "array", "items": _pico(value)}
        elif kind == "object":
            prop = _pico(value)
            if optional:
                prop["type"] = [prop["type"], "null"]
            schema["properties"][prop_name] = prop
        elif kind == "enum":
            values = list(value)
            if optional and None not in values:
                values.append(None)
            schema["properties"][prop_name] = {"enum": values}
        else:
            raise PicoschemaError(f"parenthetical types must be object or array, not {kind!r}")
        if description:
            schema["properties"][prop_name]["description"] = description
    if not schema["required"]:
        del schema["required"]
    return schema


def schema_name(prompt_name: str) -> str:
    """A response format name from a prompt name: other characters than [A-Za-z0-9_-] become _."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", prompt_name)[:64] or "output"


def _split(text: str) -> tuple[str, str, int, int]:
    """(front matter, body, line of the front matter's first line, line of the body's first line)."""
    found = FRONT_MATTER.match(text)
    if not found:
        return "", text, 1, 1
    return found.group(1), found.group(2), text[: found.start(1)].count("\n") + 1, text[: found.start(2)].count("\n") + 1


def _model(state: ConversionState, data: dict[str, Any]) -> dict[str, Any]:
    model: dict[str, Any] = {"provider": "openai"}
    name = data.get("model")
    if isinstance(name, str):
        publisher, _, bare = name.partition("/")
        if not bare:
            publisher, bare = "", name
        if publisher in ("googleai", "") and bare.startswith("gemini"):
            model.update(name=bare, base_url=GEMINI_ENDPOINT, api_key_env="GEMINI_API_KEY")
            state.lost(("model",), f"{name} runs through Gemini's OpenAI-compatible endpoint with GEMINI_API_KEY (check model.base_url)")
        elif publisher == "openai":
            model["name"] = bare
        else:
            model["name"] = name
            state.lost(("model",), f"model {name!r}: set model.base_url to an OpenAI-compatible endpoint that serves it")
    config = mapping(data.get("config"))
    parameters: dict[str, Any] = {}
    for key, value in config.items():
        if key in CONFIG:
            parameters[CONFIG[key]] = value
        else:
            state.lost(("config", key), f"config `{key}` not carried over")
    if parameters:
        model["parameters"] = parameters
    return model if len(model) > 1 else {}


def _inputs(state: ConversionState, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(inputs from input.schema and input.default, the JSON Schema)."""
    section = mapping(data.get("input"))
    try:
        schema = picoschema(section.get("schema")) or {}
    except PicoschemaError as err:
        state.lost(("input", "schema"), f"input schema not carried over: {err}")
        schema = {}
    defaults = mapping(section.get("default"))
    required = set(schema.get("required") or [])
    inputs: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        types = prop.get("type") if isinstance(prop, dict) else None
        kind = next((t for t in types if t != "null"), "string") if isinstance(types, list) else (types or "string")
        spec: dict[str, Any] = {"type": kind if kind in ("string", "number", "integer", "boolean", "array", "object") else "string"}
        if isinstance(prop, dict) and prop.get("description"):
            spec["description"] = prop["description"]
        if isinstance(prop, dict) and isinstance(prop.get("enum"), list):
            spec["enum"] = [v for v in prop["enum"] if v is not None]
        if name in defaults:
            spec["default"] = defaults[name]
        elif name in required:
            spec["required"] = True
        elif spec["type"] == "string":
            spec["default"] = ""  # Handlebars renders a missing value as empty text
        inputs[name] = spec
    for name, value in defaults.items():
        if name not in inputs:
            inputs[name] = {"type": json_type(value), "default": value}
    for key in section:
        if key not in ("schema", "default"):
            state.lost(("input", key), f"input `{key}` not carried over")
    return inputs, schema


def convert(source: Source) -> Conversion:
    """A `.prompt` file -> one workbench prompt and the partials it includes."""
    front, body, front_line, body_line = _split(source.text)
    try:
        doc = parse_yaml("\n" * (front_line - 1) + front) if front.strip() else parse_yaml("{}")
    except YamlSyntaxError as err:
        return Conversion([], [Problem(source.path, err.line, err.col, err.message)])
    data = doc.value if isinstance(doc.value, dict) else {}
    state = ConversionState(source, doc)
    stem = posixpath.basename(source.path).removesuffix(".prompt")
    name = slug(stem)
    folder = posixpath.join("prompts", source.prefix) if source.prefix else "prompts"
    prompt_name = posixpath.join(source.prefix, name) if source.prefix else name
    document: dict[str, Any] = {}
    if isinstance(data.get("description"), str):
        document["description"] = data["description"]
    for key in ("name", "variant", "version"):
        if key in data and not (key == "name" and data[key] == stem):
            state.lost((key,), f"`{key}` not carried over: a workbench prompt is named by its path and versioned by Git")
    document["tags"] = ["imported", "dotprompt"]
    model = _model(state, data)
    if model:
        document["model"] = model
    inputs, _ = _inputs(state, data)
    files: list[OutputFile] = []
    partial_prefix = source.root_prefix if source.root_prefix is not None else source.prefix

    def partial_path(partial: str) -> str:
        return posixpath.join(partial_prefix, f"{partial}.jinja") if partial_prefix else f"{partial}.jinja"

    # The body: Handlebars to Jinja, split at role markers (the whole body is stripped first, as Dotprompt does).
    stripped = body.strip()
    lead = body[: len(body) - len(body.lstrip())].count("\n")
    converted = to_jinja(stripped, partial_path)
    for line, message in converted.problems:
        state.problems.append(Problem(source.path, body_line + lead + line - 1, 1, message, Severity.WARNING))
    messages = [{"role": ROLES.get(role, role), "content": text} for role, text in split_roles(converted.template)]
    for chat in messages:
        if chat["role"] not in ("system", "user", "assistant"):
            state.problems.append(Problem(source.path, body_line, 1, f"role {chat['role']!r} not carried over (as user)", Severity.WARNING))
            chat["role"] = "user"
    variables = list(converted.variables)
    done: set[str] = set()
    pending = list(converted.partials)
    bound = dict(converted.bound)  # a partial's names given by its includes are not inputs
    while pending:
        partial = pending.pop(0)
        if partial in done:
            continue
        done.add(partial)
        # Dotprompt names partials from the root of its prompt folder: `{{> a/b}}` is `a/_b.prompt` there.
        relative = "../" * source.depth + posixpath.join(posixpath.dirname(partial), f"_{posixpath.basename(partial)}.prompt")
        try:
            text = source.read_file(relative)
        except (OSError, KeyError, ValueError):
            state.problems.append(Problem(source.path, body_line, 1, f"partial {partial!r} ({relative}) could not be read: not carried over", Severity.WARNING))
            continue
        partial_front, partial_body, _, partial_line = _split(text)
        inner = to_jinja(partial_body if partial_front else text, partial_path)
        where = posixpath.join(posixpath.dirname(source.path), relative)
        for line, message in inner.problems:
            state.problems.append(Problem(where, partial_line + line - 1, 1, message, Severity.WARNING))
        if "\x00role:" in inner.template:
            state.problems.append(Problem(where, 1, 1, "a {{role}} inside a partial is not carried over", Severity.WARNING))
        variables.extend(v for v in inner.variables if v not in variables and v not in bound.get(partial, ()))
        pending.extend(inner.partials)
        for included, keys in inner.bound.items():
            bound[included] = bound[included] & keys if included in bound else keys
        # The workbench drops a partial's final newline when it includes it: keep the text's own.
        files.append(OutputFile(posixpath.join("prompts", partial_path(partial)), inner.template.replace("\x00role:", "") + "\n"))
    for variable in variables:
        if variable not in inputs:
            inputs[variable] = {"type": "string", "default": ""}
            state.problems.append(Problem(source.path, body_line, 1, f"`{variable}` is not in input.schema: declared with default \"\" (Handlebars renders a missing value as empty text)", Severity.WARNING))
    unused = [n for n in inputs if n not in variables]
    for variable in unused:
        del inputs[variable]
    if inputs:
        document["inputs"] = inputs
    document["messages"] = messages or [{"role": "user", "content": ""}]
    output = mapping(data.get("output"))
    try:
        out_schema = picoschema(output.get("schema"))
    except PicoschemaError as err:
        state.lost(("output", "schema"), f"output schema not carried over: {err}")
        out_schema = None
    if out_schema is not None:
        document["response_format"] = {"type": "json_schema", "json_schema": {"name": schema_name(prompt_name), "schema": out_schema}}
    elif output.get("format") == "json":
        document["response_format"] = {"type": "json_object"}
    for key in output:
        if key not in ("schema", "format"):
            state.lost(("output", key), f"output `{key}` not carried over")
    tools = _tools(state, data)
    if tools:
        document["tools"] = tools
    for key in data:
        if key not in ("name", "description", "variant", "version", "model", "config", "input", "output", "tools", "toolDefs"):
            state.lost((key,), f"`{key}` not carried over")
    state.problems.sort(key=lambda p: (p.path != source.path, p.line, p.col))
    files.insert(0, OutputFile(posixpath.join(folder, f"{name}.yaml"), dump_yaml(document)))
    return Conversion(files, state.problems)


def _tools(state: ConversionState, data: dict[str, Any]) -> list[dict[str, Any]]:
    tools: list[dict[str, Any]] = []
    defined = {}
    for index, tool in enumerate(data.get("toolDefs") or []):
        if isinstance(tool, dict) and isinstance(tool.get("name"), str):
            defined[tool["name"]] = (index, tool)
    for index, name in enumerate(data.get("tools") or []):
        if name not in defined:
            state.lost(("tools", index), f"tool {name!r} is given by name only (its schema lives in the application): not carried over", hint="add it to the prompt's tools with its JSON Schema")
    for name, (index, tool) in defined.items():
        try:
            parameters = picoschema(tool.get("inputSchema")) or {"type": "object", "properties": {}}
        except PicoschemaError as err:
            state.lost(("toolDefs", index), f"tool {name!r} not carried over: {err}")
            continue
        function: dict[str, Any] = {"name": name}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = parameters
        tools.append({"type": "function", "function": function})
    return tools


# ------------------------------------------------------------------ export
def export(items: list[ExportItem]) -> Conversion:
    """What an environment runs, as `.prompt` files (partials as `_name.prompt` beside them)."""
    out = Conversion()
    written: set[str] = set()
    for item in items:
        prompt = item.current.prompt
        where = f"{prompt.path}@{item.current.version or item.current.commit[:10]}"

        def lost(message: str, item_where: str = where) -> None:
            out.problems.append(Problem(item_where, 1, 1, message, Severity.WARNING))

        partials = partial_texts(prompt)
        folder = posixpath.dirname(item.name)

        def partial_name(path: str, partials: dict[str, str] = partials, folder: str = folder) -> str | None:
            """Dotprompt names a partial from the prompt's folder (`_name.prompt` there)."""
            if path not in partials:
                return None
            name = path.removesuffix(".jinja")
            return name[len(folder) + 1 :] if folder and name.startswith(folder + "/") else name

        front: dict[str, Any] = {}
        if prompt.description:
            front["description"] = prompt.description
        if prompt.model.name:
            front["model"] = prompt.model.name if prompt.model.base_url != GEMINI_ENDPOINT else f"googleai/{prompt.model.name}"
        config = {ours_key: prompt.model.parameters[key] for ours_key, key in CONFIG.items() if key in prompt.model.parameters}
        for key in prompt.model.parameters:
            if key not in CONFIG.values():
                lost(f"model parameter `{key}` not exported (config: temperature, maxOutputTokens, topP, stopSequences)")
        if config:
            front["config"] = config
        if prompt.inputs:
            properties: dict[str, Any] = {}
            for spec in prompt.inputs:
                prop: dict[str, Any] = {"type": spec.type}
                if spec.description:
                    prop["description"] = spec.description
                if spec.enum:
                    prop["enum"] = list(spec.enum)
                properties[spec.name] = prop
            required = [s.name for s in prompt.inputs if s.required and not s.has_default]
            schema: dict[str, Any] = {"type": "object", "properties": properties, **({"required": required} if required else {})}
            front["input"] = {"schema": schema}
            defaults = {s.name: s.default for s in prompt.inputs if s.has_default}
            if defaults:
                front["input"]["default"] = defaults
        if prompt.response_format is not None:
            kind = prompt.response_format.get("type")
            if kind == "json_schema":
                front["output"] = {"format": "json", "schema": (prompt.response_format.get("json_schema") or {}).get("schema")}
            elif kind == "json_object":
                front["output"] = {"format": "json"}
        if prompt.tools:
            front["tools"] = [t["function"]["name"] for t in prompt.tools]
            front["toolDefs"] = [{"name": t["function"]["name"], **({"description": t["function"]["description"]} if t["function"].get("description") else {}), "inputSchema": t["function"].get("parameters") or {"type": "object", "properties": {}}} for t in prompt.tools]
        if prompt.tool_choice is not None:
            lost("tool_choice not exported: Dotprompt has no tool choice")
        body: list[str] = []
        ok = True
        messages = prompt.messages if prompt.template is None else ()
        if prompt.template is not None:
            from workbench.core.model import Message

            messages = (Message("user", prompt.template),)
        for index, message in enumerate(messages, 1):
            text, why = from_jinja(message.content, partial_name)
            if text is None:
                lost(f"message {index} not exported: {why}")
                ok = False
                break
            role = {"assistant": "model"}.get(message.role, message.role)
            body.append('{{role "' + role + '"}}' + text)
            if index == len(messages) and text != text.rstrip():
                lost(f"message {index}: its trailing whitespace is dropped (Dotprompt strips the body)")
        if not ok:
            continue
        if prompt.tests:
            lost("tests not exported: a Dotprompt file has no tests")
        for path, source in partials.items():
            name = path.removesuffix(".jinja")
            converted, why = from_jinja(source.removesuffix("\n"), partial_name)
            target = posixpath.join(posixpath.dirname(name), f"_{posixpath.basename(name)}.prompt")
            relative = posixpath.relpath(target, folder or ".")
            if converted is None:
                lost(f"partial {path} not exported: {why}")
                continue
            if relative.startswith(".."):
                lost(f"partial {path} is outside {folder or 'the top folder'}: Dotprompt reads partials beside the prompt")
            if target not in written:
                written.add(target)
                out.files.append(OutputFile(target, converted))
        text = "---\n" + dump_yaml(front) + "---\n" + "".join(body)
        out.files.append(OutputFile(f"{item.name}.prompt", text))
    return out


__all__ = ["convert", "export", "json", "picoschema", "schema_name"]
