"""Prompty files (`*.prompty`: YAML front matter + a Jinja body with role markers) <-> workbench prompts.

Both generations of the format are read: Prompty 1 (`authors`, `model: {api, configuration,
parameters}`, `inputs` as a mapping, `sample`) and Prompty 2, the one the current runtime
(`prompty` 2.x on PyPI) loads (`metadata.authors`, `model: {id, provider, apiType, connection,
options}`, `inputs` / `outputs` as property lists, `tools`). Export writes Prompty 2.

| Prompty | workbench |
| --- | --- |
| `description`; `authors` / `metadata.authors`; `tags` / `metadata.tags` | `description`; `owner` (authors joined with ", "); `tags` |
| `model.configuration` (`type: openai`, `azure_openai`, `serverless`) / `model.connection` and `model.id` | `model.name`, `model.base_url` (a literal endpoint, or the default of `${env:VAR:default}`), `model.api_key_env` (the VAR of `${env:VAR}`: a key is never written) |
| `model.parameters` / `model.options` (`maxOutputTokens` is sent as `max_completion_tokens`, `topP` as `top_p`, `stopSequences` as `stop`) | `model.parameters` |
| `inputs` (types, defaults, descriptions); `sample` (Prompty 1 fills missing inputs from it) | `inputs` (the sample values become input defaults) |
| `outputs` | `response_format` (json_schema named `structured_output`, strict, as the runtime sends it) |
| `tools` (`kind: function`, property lists) / `model.parameters.tools` | `tools` (OpenAI's shape, as the runtime sends them) |
| the body: Jinja2 split at `system:` / `user:` / `assistant:` lines; each message's outer newlines stripped | `messages` |
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from workbench.core.formats.base import Conversion, ExportItem, OutputFile, Source, dump_yaml
from workbench.core.formats.promptfoo import slug
from workbench.core.formats.promptfoo_state import ConversionState
from workbench.core.formats.templating import inline_partials, jinja_variables, json_type, partial_texts
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import YamlSyntaxError, parse_yaml

FRONT_MATTER = re.compile(r"^\s*(?:---|\+\+\+)(.*?)(?:---|\+\+\+)\s*(.+)$", re.S | re.M)
ROLE_LINE = re.compile(r'(?i)^\s*#?\s*(system|user|assistant|developer|function|tools?)(\[(?:\w+\s*=\s*(?:"[^"]*"|[^",\]]*)\s*,?\s*)+\])?\s*:\s*$')
KINDS = {"string": "string", "integer": "integer", "float": "number", "number": "number", "boolean": "boolean", "array": "array", "object": "object"}
OPTIONS = {
    "temperature": "temperature",
    "maxOutputTokens": "max_completion_tokens",
    "topP": "top_p",
    "topK": "top_k",
    "seed": "seed",
    "stopSequences": "stop",
    "frequencyPenalty": "frequency_penalty",
    "presencePenalty": "presence_penalty",
    "allowMultipleToolCalls": "parallel_tool_calls",
}
V1_PARAMETERS = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop", "frequency_penalty", "presence_penalty", "response_format", "tools", "tool_choice", "logprobs", "top_logprobs", "n")
ENV_REF = re.compile(r"^\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::(.*))?\}$")


# ------------------------------------------------------------------ properties <-> JSON Schema
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


# ------------------------------------------------------------------ import
def _env_value(state: ConversionState, where: tuple[Any, ...], value: Any, what: str) -> tuple[str | None, str | None]:
    """(literal value, env var name) of a Prompty value that may be `${env:VAR[:default]}`."""
    if not isinstance(value, str):
        return None, None
    found = ENV_REF.match(value.strip())
    if found is None:
        return value, None
    return found.group(2) or None, found.group(1)


def _model_v1(state: ConversionState, model: dict[str, Any], parameters_out: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"provider": "openai"}
    api = model.get("api", "chat")
    if api != "chat":
        state.lost(("model", "api"), f"api {api!r} not carried over: the workbench sends chat messages (a completion prompt keeps `template`)")
    config = model.get("configuration") if isinstance(model.get("configuration"), dict) else {}
    kind = config.get("type", "openai")
    for key, value in config.items():
        where = ("model", "configuration", key)
        if key == "type":
            if value not in ("openai", "azure_openai", "azure", "serverless"):
                state.lost(where, f"configuration type {value!r} not carried over")
        elif key in ("model", "name", "azure_deployment"):
            out["name"] = value
        elif key in ("api_key", "key"):
            literal, variable = _env_value(state, where, value, "key")
            if variable:
                out["api_key_env"] = variable
            else:
                state.lost(where, "a literal API key is not carried over (keys never live in the repository)", hint="export it in a variable and set model.api_key_env")
        elif key in ("base_url", "endpoint", "azure_endpoint"):
            literal, variable = _env_value(state, where, value, "endpoint")
            if literal:
                out["base_url"] = literal.rstrip("/") + ("/openai/v1" if key == "azure_endpoint" and "/openai" not in literal else "")
            else:
                state.lost(where, f"the endpoint comes from ${{env:{variable}}}: not carried over", hint="set model.base_url (an endpoint is not a secret)")
        elif key == "api_version":
            state.lost(where, "api_version not carried over: the workbench calls Azure's OpenAI-compatible v1 endpoint")
        else:
            state.lost(where, f"configuration `{key}` not carried over")
    if kind in ("azure_openai", "azure") and "base_url" not in out and "azure_endpoint" not in config:
        state.lost(("model", "configuration"), "Azure OpenAI without azure_endpoint: set model.base_url")
    params = model.get("parameters") if isinstance(model.get("parameters"), dict) else {}
    for key, value in params.items():
        if key in V1_PARAMETERS:
            parameters_out[key] = value
        else:
            state.lost(("model", "parameters", key), f"model parameter `{key}` not carried over")
    for key in model:
        if key not in ("api", "configuration", "parameters", "response"):
            state.lost(("model", key), f"model `{key}` not carried over")
    return out


def _model_v2(state: ConversionState, model: dict[str, Any], parameters_out: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"provider": "openai"}
    if isinstance(model.get("id"), str):
        out["name"] = model["id"]
    provider = model.get("provider", "openai")
    if provider not in ("openai", "azure", "foundry"):
        state.lost(("model", "provider"), f"provider {provider!r} not carried over (the workbench calls OpenAI-compatible endpoints)")
    if model.get("apiType", "chat") != "chat":
        state.lost(("model", "apiType"), f"apiType {model.get('apiType')!r} not carried over: the workbench calls chat completions")
    connection = model.get("connection") if isinstance(model.get("connection"), dict) else {}
    for key, value in connection.items():
        where = ("model", "connection", key)
        if key == "kind":
            if value != "key":
                state.lost(where, f"connection kind {value!r} not carried over (the workbench sends an API key from a variable)")
        elif key == "endpoint":
            literal, variable = _env_value(state, where, value, "endpoint")
            if literal:
                out["base_url"] = literal.rstrip("/")
            else:
                state.lost(where, f"the endpoint comes from ${{env:{variable}}}: not carried over", hint="set model.base_url (an endpoint is not a secret)")
        elif key == "apiKey":
            literal, variable = _env_value(state, where, value, "key")
            if variable:
                out["api_key_env"] = variable
            else:
                state.lost(where, "a literal API key is not carried over (keys never live in the repository)", hint="export it in a variable and set model.api_key_env")
        else:
            state.lost(where, f"connection `{key}` not carried over")
    options = model.get("options") if isinstance(model.get("options"), dict) else {}
    for key, value in options.items():
        if key in OPTIONS:
            parameters_out[OPTIONS[key]] = value
        elif key == "additionalProperties" and isinstance(value, dict):
            parameters_out.update(value)
        else:
            state.lost(("model", "options", key), f"model option `{key}` not carried over")
    for key in model:
        if key not in ("id", "provider", "apiType", "connection", "options"):
            state.lost(("model", key), f"model `{key}` not carried over")
    return out


def _inputs(state: ConversionState, data: dict[str, Any]) -> dict[str, Any]:
    raw = data.get("inputs")
    sample = data.get("sample") if isinstance(data.get("sample"), dict) else {}
    if "sample" in data and not isinstance(data.get("sample"), dict):
        state.lost(("sample",), "a sample that is not a mapping (a file reference) is not carried over")
    inputs: dict[str, Any] = {}
    entries: list[tuple[str, dict[str, Any], tuple[Any, ...]]] = []
    if isinstance(raw, list):
        entries = [(str(p.get("name")), p, ("inputs", i)) for i, p in enumerate(raw) if isinstance(p, dict) and p.get("name")]
    elif isinstance(raw, dict):
        entries = [(str(k), v if isinstance(v, dict) else {"default": v}, ("inputs", k)) for k, v in raw.items()]
    for name, spec, where in entries:
        kind = spec.get("kind", spec.get("type", "string"))
        mapped = KINDS.get(str(kind))
        if mapped is None:
            state.lost(where, f"input kind {kind!r} not carried over (as a string)")
            mapped = "string"
        out: dict[str, Any] = {"type": mapped}
        if spec.get("description"):
            out["description"] = spec["description"]
        if "default" in spec:
            out["default"] = spec["default"]
        elif name in sample:
            out["default"] = sample[name]
        if spec.get("enumValues"):
            out["enum"] = list(spec["enumValues"])
        if "default" not in out:
            out["required"] = True
        for key in spec:
            if key not in ("name", "kind", "type", "description", "default", "required", "enumValues", "sample", "example"):
                state.lost((*where, key), f"input `{key}` not carried over")
        inputs[name] = out
    for name, value in sample.items():
        if name not in inputs:
            inputs[name] = {"type": json_type(value), "default": value}
    return inputs


def split_body(body: str) -> tuple[list[tuple[str, str, int, str]], list[tuple[int, str]]]:
    """The body's messages: (role, template, first line, marker attributes) and (line, why) problems.

    Content before the first marker is a system message; each message's lines are joined
    and stripped of newlines at both ends, as the runtime does after rendering.
    """
    messages: list[tuple[str, str, int, str]] = []
    problems: list[tuple[int, str]] = []
    role, attrs, start = "system", "", 1
    lines: list[str] = []

    def flush() -> None:
        if lines:
            messages.append((role, "\n".join(lines).strip("\n"), start, attrs))

    for number, line in enumerate(body.split("\n"), 1):
        found = ROLE_LINE.match(line.strip())
        if found:
            flush()
            lines = []
            role, attrs, start = found.group(1).lower(), found.group(2) or "", number + 1
            continue
        lines.append(line)
    flush()
    return messages, problems


def convert(source: Source) -> Conversion:
    """A `.prompty` file -> one workbench prompt (see the module docstring)."""
    match = FRONT_MATTER.search(source.text) if re.match(r"^\s*(?:---)", source.text) else None
    if match is None:
        front, body, body_line = "", source.text, 1
    else:
        front, body = match.group(1), match.group(2)
        body_line = source.text[: match.start(2)].count("\n") + 1
    offset = source.text[: match.start(1)].count("\n") if match else 0
    try:
        doc = parse_yaml("\n" * offset + front) if front.strip() else parse_yaml("{}")
    except YamlSyntaxError as err:
        return Conversion([], [Problem(source.path, err.line, err.col, err.message)])
    data = doc.value if isinstance(doc.value, dict) else {}
    state = ConversionState(source, doc)
    v2 = isinstance(data.get("inputs"), list) or "metadata" in data or ("outputs" in data and isinstance(data["outputs"], list)) or (isinstance(data.get("model"), dict) and any(k in data["model"] for k in ("id", "connection", "options", "apiType", "provider"))) or isinstance(data.get("model"), str)
    document: dict[str, Any] = {}
    if isinstance(data.get("description"), str):
        document["description"] = data["description"]
    if isinstance(data.get("name"), str):
        state.lost(("name",), f"the display name {data['name']!r} is not carried over: a workbench prompt is named by its path")
    metadata = data.get("metadata") if isinstance(data.get("metadata"), dict) else {}
    authors = data.get("authors") or metadata.get("authors")
    if isinstance(authors, list) and authors:
        document["owner"] = ", ".join(str(a) for a in authors)
    tags = data.get("tags") or metadata.get("tags") or []
    document["tags"] = [*(str(t) for t in tags if isinstance(t, (str, int))), "imported", "prompty"]
    for key in metadata:
        if key not in ("authors", "tags"):
            state.lost(("metadata", key), f"metadata `{key}` not carried over")
    parameters: dict[str, Any] = {}
    model: dict[str, Any] = {}
    raw_model = data.get("model")
    if isinstance(raw_model, str):
        model = {"provider": "openai", "name": raw_model}
    elif isinstance(raw_model, dict):
        model = _model_v2(state, raw_model, parameters) if v2 else _model_v1(state, raw_model, parameters)
    carried: dict[str, Any] = {}
    for key in ("tools", "tool_choice", "response_format"):
        if key in parameters:
            carried[key] = parameters.pop(key)
    if parameters:
        model["parameters"] = parameters
    if model:
        document["model"] = model
    inputs = _inputs(state, data)
    if isinstance(data.get("tools"), list):
        tools = []
        for index, tool in enumerate(data["tools"]):
            if isinstance(tool, dict) and tool.get("kind", "function") == "function" and tool.get("name"):
                tools.append(tool_of(tool))
                if tool.get("bindings"):
                    state.lost(("tools", index, "bindings"), "tool bindings not carried over (the bound parameters stay in the tool's parameters)")
            else:
                state.lost(("tools", index), f"tool kind {tool.get('kind') if isinstance(tool, dict) else '?'!r} not carried over (function tools only)")
        if tools:
            carried["tools"] = tools
    outputs = data.get("outputs")
    if isinstance(outputs, list) and outputs:
        carried["response_format"] = outputs_format([o for o in outputs if isinstance(o, dict) and o.get("name")])
    elif isinstance(outputs, dict) and outputs:
        carried["response_format"] = outputs_format([{"name": k, "kind": (v or {}).get("type", "string"), **({"description": v["description"]} if isinstance(v, dict) and v.get("description") else {}), "required": True} for k, v in outputs.items()])
    template = data.get("template")
    kind = template.get("format", {}).get("kind") if isinstance(template, dict) and isinstance(template.get("format"), dict) else (template.get("type") if isinstance(template, dict) else template)
    if kind not in (None, "jinja2", "jinja"):
        state.lost(("template",), f"template format {kind!r}: the body is read as Jinja2, check it renders the same")
    for key in data:
        if key not in ("name", "description", "authors", "tags", "metadata", "model", "inputs", "sample", "outputs", "tools", "template", "version"):
            state.lost((key,), f"`{key}` not carried over")
    if "version" in data:
        state.lost(("version",), "version not carried over: Git keeps the versions")
    messages: list[dict[str, str]] = []
    split, _ = split_body(body)
    for role, text, line, attrs in split:
        where_line = body_line + line - 1
        if attrs:
            state.problems.append(Problem(source.path, where_line - 1, 1, f"role attributes {attrs} not carried over", Severity.WARNING))
        if role == "developer":
            state.problems.append(Problem(source.path, max(where_line - 1, 1), 1, "a developer message becomes a system message", Severity.WARNING))
            role = "system"
        if role not in ("system", "user", "assistant"):
            state.problems.append(Problem(source.path, max(where_line - 1, 1), 1, f"a {role} message is not carried over", Severity.WARNING))
            continue
        if not text.strip():
            continue
        stripped = text.strip("\n")
        if stripped.startswith(("{%", "{#")) or stripped.endswith(("%}", "#}")):
            # Blocks at a message's edge may render newlines that Prompty strips after rendering.
            text = '{% filter trim("\\n") %}' + text + "{% endfilter %}"
        messages.append({"role": role, "content": text})
    if not messages:
        state.problems.append(Problem(source.path, body_line, 1, "the body has no messages", Severity.WARNING))
    used = sorted({name for m in messages for name in jinja_variables(m["content"])})
    for name in used:
        if name not in inputs:
            inputs[name] = {"type": "string", "default": ""}
            state.problems.append(Problem(source.path, body_line, 1, f"`{name}` is not among the inputs: declared with default \"\" (Prompty renders a missing variable as empty text)", Severity.WARNING))
    for name in list(inputs):
        if name not in used:
            state.lost(("inputs", name) if isinstance(data.get("inputs"), dict) else ("inputs",), f"input `{name}` is not used by the body: not carried over")
            del inputs[name]
    if inputs:
        document["inputs"] = inputs
    document["messages"] = messages
    document.update(carried)
    stem = posixpath.basename(source.path).removesuffix(".prompty")
    folder = posixpath.join("prompts", source.prefix) if source.prefix else "prompts"
    state.problems.sort(key=lambda p: (p.line, p.col))
    return Conversion([OutputFile(posixpath.join(folder, f"{slug(stem)}.yaml"), dump_yaml(document))], state.problems)


# ------------------------------------------------------------------ export
def export(items: list[ExportItem]) -> Conversion:
    """What an environment runs, as Prompty 2 files (`prompty.load` reads them)."""
    out = Conversion()
    for item in items:
        prompt = item.current.prompt
        where = f"{prompt.path}@{item.current.version or item.current.commit[:10]}"

        def lost(message: str, item_where: str = where) -> None:
            out.problems.append(Problem(item_where, 1, 1, message, Severity.WARNING))

        front: dict[str, Any] = {"name": item.name}
        if prompt.description:
            front["description"] = prompt.description
        metadata: dict[str, Any] = {}
        if prompt.owner:
            metadata["authors"] = [a.strip() for a in prompt.owner.split(",") if a.strip()]
        tags = [t for t in prompt.tags if t not in ("imported", "prompty")]
        if tags:
            metadata["tags"] = tags
        if metadata:
            front["metadata"] = metadata
        model: dict[str, Any] = {}
        if prompt.model.name:
            model["id"] = prompt.model.name
        if prompt.model.provider not in (None, "openai"):
            lost(f"provider {prompt.model.provider!r} not exported (Prompty calls OpenAI-compatible endpoints)")
        model["provider"] = "openai"
        model["apiType"] = "chat"
        connection: dict[str, Any] = {}
        if prompt.model.base_url or prompt.model.api_key_env:
            connection["kind"] = "key"
        if prompt.model.base_url:
            connection["endpoint"] = prompt.model.base_url
        if prompt.model.api_key_env:
            connection["apiKey"] = "${env:" + prompt.model.api_key_env + "}"
        if connection:
            model["connection"] = connection
        options: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        reverse = {v: k for k, v in OPTIONS.items()}
        for key, value in prompt.model.parameters.items():
            if key in reverse:
                options[reverse[key]] = value
            elif key == "max_tokens":
                options["maxOutputTokens"] = value
                lost("max_tokens becomes maxOutputTokens (the Prompty runtime sends it as max_completion_tokens)")
            elif key in ("tools", "tool_choice", "response_format"):
                lost(f"model.parameters.{key} not exported: move it to the top-level field")
            else:
                extra[key] = value
        if extra:
            options["additionalProperties"] = extra
        if options:
            model["options"] = options
        front["model"] = model
        if prompt.inputs:
            front["inputs"] = [
                {
                    "name": spec.name,
                    "kind": "float" if spec.type == "number" else spec.type,
                    **({"description": spec.description} if spec.description else {}),
                    **({"default": spec.default} if spec.has_default else {}),
                    **({"enumValues": list(spec.enum)} if spec.enum else {}),
                    **({"required": True} if spec.required and not spec.has_default else {}),
                }
                for spec in prompt.inputs
            ]
        _export_structure(prompt, front, lost)
        front["template"] = {"format": {"kind": "jinja2"}, "parser": {"kind": "prompty"}}
        partials = partial_texts(prompt)
        body: list[str] = []
        messages = prompt.messages if prompt.template is None else ()
        if prompt.template is not None:
            lost("a completion prompt (`template`) is exported as one user message")
            from workbench.core.model import Message

            messages = (Message("user", prompt.template),)
        ok = True
        for index, message in enumerate(messages, 1):
            text = inline_partials(message.content, partials)
            if text is None:
                lost(f"message {index}: a partial could not be read")
                ok = False
                break
            if any(ROLE_LINE.match(line.strip()) for line in text.split("\n")):
                lost(f"message {index} has a line Prompty reads as a role marker (`user:` alone on a line): not exported")
                ok = False
                break
            if text != text.strip("\n"):
                lost(f"message {index}: its leading or trailing newlines are dropped (Prompty strips them)")
            body.append(f"{message.role}:\n{text.strip(chr(10))}\n")
        if not ok:
            continue
        for test in prompt.tests:
            lost(f"test {test.description!r} not exported: a Prompty file has no tests")
            break
        text = "---\n" + dump_yaml(front) + "---\n" + "\n".join(body)
        out.files.append(OutputFile(f"{item.name}.prompty", text))
    return out


def _export_structure(prompt: Any, front: dict[str, Any], lost: Any) -> None:
    if prompt.tools:
        tools = []
        for tool in prompt.tools:
            function = tool.get("function") or {}
            parameters = function.get("parameters") or {}
            strict = bool(function.get("strict"))
            needed = set(parameters.get("required") or [])
            props = []
            for name, schema in (parameters.get("properties") or {}).items():
                made = schema_property(name, schema, strict=strict, required=name in needed or strict)
                if made is None:
                    props = None
                    break
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
        outputs = []
        if isinstance(schema, dict):
            for name, child in (schema.get("properties") or {}).items():
                made = schema_property(name, child, strict=True, required=False)
                if made is None:
                    outputs = None
                    break
                made["required"] = True
                outputs.append(made)
        if not outputs or outputs_format(outputs) != dict(fmt):
            lost("response_format not exported: Prompty sends outputs as a strict json_schema named structured_output, and this one differs")
        else:
            front["outputs"] = outputs


__all__ = ["convert", "export", "json"]
