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
| `template: mustache` (`{format: mustache}`): the body is mustache, rendered by Prompty with chevron | `messages`, each converted to Jinja by `mustache.convert_body`; exported back as mustache by `mustache_export.to_mustache` (`{format: {kind: mustache}}`) |
"""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from workbench.core.formats.base import Conversion, ExportItem, OutputFile, Source, dump_yaml
from workbench.core.formats.mustache import BodyResult, convert_body, uses_mustache
from workbench.core.formats.mustache_export import to_mustache
from workbench.core.formats.promptfoo_state import ConversionState
from workbench.core.formats.prompty_schema import KINDS, export_structure, item_kind, outputs_format, tool_of
from workbench.core.formats.templating import (
    inline_partials,
    jinja_variables,
    json_type,
    mapping,
    partial_texts,
    slug,
)
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import YamlSyntaxError, parse_yaml

FRONT_MATTER = re.compile(r"^\s*(?:---|\+\+\+)(.*?)(?:---|\+\+\+)\s*(.+)$", re.S | re.M)
ROLE_LINE = re.compile(r'(?i)^\s*#?\s*(system|user|assistant|developer|function|tools?)(\[(?:\w+\s*=\s*(?:"[^"]*"|[^",\]]*)\s*,?\s*)+\])?\s*:\s*$')
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


# How a name the front matter does not declare is declared, by its use in the body.
MISSING_INPUTS: dict[str, tuple[str, Any, str]] = {
    "text": ("string", "", "Prompty renders a missing variable as empty text"),
    "section": ("array", [], "Prompty renders a missing section as an empty one"),
    "object": ("object", {}, "Prompty renders a missing variable as empty text"),
}


# ------------------------------------------------------------------ import
def _template_kind(template: Any) -> Any:
    """The template engine: `template: mustache`, `{type: mustache}` (Prompty 1), `{format: mustache}`
    or `{format: {kind: mustache}}` (Prompty 2); None when the file names none."""
    if not isinstance(template, dict):
        return template
    found = template.get("format", template.get("type"))
    return found.get("kind") if isinstance(found, dict) else found


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
    config = mapping(model.get("configuration"))
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
    params = mapping(model.get("parameters"))
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
    connection = mapping(model.get("connection"))
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
    options = mapping(model.get("options"))
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
    sample = mapping(data.get("sample"))
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


TRIM_OPEN, TRIM_CLOSE = '{% filter trim("\\n") %}', "{% endfilter %}"


def trim_edges(text: str) -> str:
    """A message template that renders as Prompty sends it: newlines at both ends stripped.

    Prompty renders the whole body, then strips each message's newlines. A template that
    starts or ends with literal text is stripped already; one whose edge is a variable or a
    block (its value may start or end with a newline) is wrapped in a `trim("\\n")` filter.
    """
    stripped = text.strip("\n")
    if is_trimmed(stripped) or not (stripped.startswith("{") or stripped.endswith("}")):
        return stripped
    return TRIM_OPEN + stripped + TRIM_CLOSE


def is_trimmed(text: str) -> bool:
    return text.startswith(TRIM_OPEN) and text.endswith(TRIM_CLOSE) and text.count(TRIM_CLOSE) == 1


def untrimmed(text: str) -> str:
    """The template inside `trim_edges`'s wrapper (Prompty strips the newlines itself)."""
    return text[len(TRIM_OPEN) : -len(TRIM_CLOSE)] if is_trimmed(text) else text


def split_body(body: str, *, strip: bool = True) -> tuple[list[tuple[str, str, int, str]], list[tuple[int, str]]]:
    """The body's messages: (role, template, first line, marker attributes) and (line, why) problems.

    Content before the first marker is a system message; each message's lines are joined
    and (`strip`) stripped of newlines at both ends, as the runtime does after rendering.
    """
    messages: list[tuple[str, str, int, str]] = []
    problems: list[tuple[int, str]] = []
    role, attrs, start = "system", "", 1
    lines: list[str] = []

    def flush() -> None:
        if lines:
            text = "\n".join(lines)
            messages.append((role, text.strip("\n") if strip else text, start, attrs))

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
    metadata = mapping(data.get("metadata"))
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
        order = ("provider", "name", "base_url", "api_key_env", "parameters")
        document["model"] = {key: model[key] for key in order if key in model}
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
    kind = _template_kind(data.get("template"))
    if kind not in (None, "jinja2", "jinja", "mustache"):
        state.lost(("template",), f"template format {kind!r}: the body is read as Jinja2, check it renders the same")
    for key in data:
        if key not in ("name", "description", "authors", "tags", "metadata", "model", "inputs", "sample", "outputs", "tools", "template", "version"):
            state.lost((key,), f"`{key}` not carried over")
    if "version" in data:
        state.lost(("version",), "version not carried over: Git keeps the versions")
    messages: list[dict[str, str]] = []
    split, _ = split_body(body, strip=kind != "mustache")
    mustache = BodyResult()
    if kind == "mustache":  # converted to Jinja, message by message (core.formats.mustache)
        mustache = convert_body([(text, line) for _, text, line, _ in split], set(inputs))
        for line, message, error in mustache.problems:
            state.problems.append(Problem(source.path, body_line + line - 1, 1, message, Severity.ERROR if error else Severity.WARNING))
        if mustache.failed:
            return Conversion([], sorted(state.problems, key=lambda p: (p.line, p.col)))
    for index, (role, text, line, attrs) in enumerate(split):
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
        messages.append({"role": role, "content": trim_edges(mustache.templates[index] if mustache.templates else text)})
        continue
    if not messages:
        state.problems.append(Problem(source.path, body_line, 1, "the body has no messages", Severity.WARNING))
    used = sorted({name for m in messages for name in jinja_variables(m["content"])})
    for name in used:
        if name not in inputs:
            type_name, default, why = MISSING_INPUTS[mustache.kinds.get(name, "text")]
            inputs[name] = {"type": type_name, "default": default}
            state.problems.append(Problem(source.path, body_line, 1, f"`{name}` is not among the inputs: declared with default {json.dumps(default)} ({why})", Severity.WARNING))
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
                    **({"items": {"kind": item_kind(spec.default)}} if spec.type == "array" else {}),
                    **({"description": spec.description} if spec.description else {}),
                    **({"default": spec.default} if spec.has_default else {}),
                    **({"enumValues": list(spec.enum)} if spec.enum else {}),
                    **({"required": True} if spec.required and not spec.has_default else {}),
                }
                for spec in prompt.inputs
            ]
        export_structure(prompt, front, lost)
        partials = partial_texts(prompt)
        body: list[str] = []
        messages = prompt.messages if prompt.template is None else ()
        if prompt.template is not None:
            lost("a completion prompt (`template`) is exported as one user message")
            from workbench.core.model import Message

            messages = (Message("user", prompt.template),)
        texts = [inline_partials(untrimmed(message.content), partials) for message in messages]
        ok = None not in texts
        mustache = ok and any(uses_mustache(message.content) for message in messages)  # imported from a mustache file
        front["template"] = {"format": {"kind": "mustache" if mustache else "jinja2"}, "parser": {"kind": "prompty"}}
        if not ok:
            lost(f"message {texts.index(None) + 1}: a partial could not be read")
        elif mustache:
            written = to_mustache([(str(text), is_trimmed(m.content)) for text, m in zip(texts, messages, strict=True)], [spec.name for spec in prompt.inputs], ROLE_LINE)
            for warning in written.warnings if not written.problem else ():
                lost(warning)
            if written.problem:
                lost(f"{written.problem}: not exported (a prompt imported from a Prompty mustache file is exported as mustache, in the forms its import writes)")
                ok = False
            body = [f"{message.role}:\n{text}\n" for message, text in zip(messages, written.texts, strict=ok)]
        for index, (message, text) in enumerate(zip(messages, texts, strict=True) if ok and not mustache else (), 1):
            if any(ROLE_LINE.match(line.strip()) for line in str(text).split("\n")):
                lost(f"message {index} has a line Prompty reads as a role marker (`user:` alone on a line): not exported")
                ok = False
                break
            if text != str(text).strip("\n"):
                lost(f"message {index}: its leading or trailing newlines are dropped (Prompty strips them)")
            body.append(f"{message.role}:\n{str(text).strip(chr(10))}\n")
        if not ok:
            continue
        for test in prompt.tests:
            lost(f"test {test.description!r} not exported: a Prompty file has no tests")
            break
        text = "---\n" + dump_yaml(front) + "---\n" + "\n".join(body)
        out.files.append(OutputFile(f"{item.name}.prompty", text))
    return out


__all__ = ["convert", "export", "split_body"]
