"""Langfuse prompts (the JSON its public API returns: one object per version) <-> workbench history.

Read from Langfuse's Python SDK (`langfuse/model.py`: `TemplateParser`, `ChatPromptClient`) and
its prompt API objects (`name`, `version`, `type`, `prompt`, `config`, `labels`, `tags`,
`commitMessage`, `createdAt`, `createdBy`):

| Langfuse | workbench |
| --- | --- |
| each version of a prompt, oldest first | one commit of that prompt, dated `createdAt`, authored by `createdBy`, message `commitMessage` (a trailer `Imported-From:` lets a re-import skip it) |
| each label but `latest` | a deployment event of the environment it maps to (`production` -> `prod` unless told otherwise) |
| `type: text` / `chat` (`prompt` a string / `{role, content}` messages) | `template` / `messages`; `{{var}}` (Langfuse trims the name) becomes `{{ var }}` |
| `config`: `model`, `temperature`, `max_tokens`, `top_p`, ... ; `tools`, `tool_choice`, `response_format` | `model`; the top-level fields |
| `tags` | `tags` |
| `@@@langfusePrompt:name=X|version=N@@@` (or `|label=L`) | `{% include "PREFIX/_langfuse/X/vN.jinja" %}`, the partial written from version N of X in the same file; reported when X is not there |
| chat placeholders `{type: placeholder}` | reported (the workbench has no message-list inputs) |
"""

from __future__ import annotations

import json
import posixpath
import re
from collections import defaultdict
from typing import Any

from workbench.core.formats.base import Conversion, ExportItem, OutputFile, Source, SourceVersion, dump_yaml
from workbench.core.formats.templating import (
    IDENTIFIER,
    distinct_names,
    escape_literal,
    jinja_to_placeholders,
    mapping,
    name_parts,
    partial_texts,
    placeholders_to_jinja,
)
from workbench.core.model import Problem, Severity

VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.S)
REFERENCE = re.compile(r"@@@langfusePrompt:(.*?)@@@")
MODEL_KEYS = ("temperature", "max_tokens", "max_completion_tokens", "top_p", "seed", "stop", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "n")
TOP_FIELDS = ("tools", "tool_choice", "response_format")
KNOWN = ("id", "name", "version", "type", "prompt", "config", "labels", "tags", "commitMessage", "createdAt", "updatedAt", "createdBy", "projectId", "isActive", "resolutionGraph")


def _line_of(text: str, needle: str) -> int:
    index = text.find(needle)
    return text.count("\n", 0, index) + 1 if index >= 0 else 1


def _objects(source: Source) -> tuple[list[dict[str, Any]], list[Problem]]:
    try:
        data = json.loads(source.text)
    except ValueError as err:
        return [], [Problem(source.path, getattr(err, "lineno", 1), getattr(err, "colno", 1), f"not JSON: {err}")]
    except RecursionError:
        return [], [Problem(source.path, 1, 1, "not JSON the importer reads: nested too deeply")]
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if isinstance(data, dict) and "name" in data:
        data = [data]
    if not isinstance(data, list):
        return [], [Problem(source.path, 1, 1, "expected a list of Langfuse prompt objects, or {\"data\": [...]}")]
    good, problems = [], []
    for i, o in enumerate(data):  # one pass: `o not in good` made 20,000 entries take 9 s
        if isinstance(o, dict) and isinstance(o.get("name"), str) and isinstance(o.get("version"), int):
            good.append(o)
        else:
            problems.append(Problem(source.path, 1, 1, f"entry {i} is not a prompt object with a name and a version: skipped", Severity.WARNING))
    return good, problems


def _template(text: str, lost: Any, refs: Any) -> str:
    """A Langfuse template as Jinja: prompt references first (they are resolved before variables)."""
    pieces: list[str] = []
    position = 0
    for match in REFERENCE.finditer(text):
        pieces.append(_variables(text[position : match.start()], lost))
        pieces.append(refs(match.group(1), match.group(0)))
        position = match.end()
    pieces.append(_variables(text[position:], lost))
    return "".join(pieces)


def _variables(text: str, lost: Any) -> str:
    converted, _, kept = placeholders_to_jinja(text, VARIABLE, accept=lambda name: IDENTIFIER.match(name.strip()) is not None)
    converted = re.sub(r"\{\{ (.*?) \}\}", lambda m: "{{ " + m.group(1).strip() + " }}", converted)
    for _, raw in kept:
        lost(f"{raw} is not a variable name the workbench accepts: kept as text")
    return converted


def convert(source: Source) -> Conversion:
    """A Langfuse export -> one commit per version (see the module docstring)."""
    objects, problems = _objects(source)
    out = Conversion(problems=problems)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for obj in objects:
        by_name[obj["name"]].append(obj)
    folder = posixpath.join("prompts", source.prefix) if source.prefix else "prompts"
    raws = sorted(by_name)
    names = dict(zip(raws, distinct_names([name_parts(raw) for raw in raws]), strict=True))
    for raw in raws:
        if names[raw] != name_parts(raw):
            first = next(other for other in raws if names[other] == name_parts(raw))
            out.problems.append(Problem(
                source.path, _line_of(source.text, f'"name": {json.dumps(raw)}'), 1,
                f"{raw!r} and {first!r} would both be {name_parts(raw)}: {raw!r} becomes {names[raw]}", Severity.WARNING,
            ))
    for raw_name in sorted(by_name):
        versions = sorted(by_name[raw_name], key=lambda o: o["version"])
        seen: set[int] = set()
        for obj in versions:
            if obj["version"] in seen:
                out.problems.append(Problem(source.path, _line_of(source.text, f'"version": {obj["version"]}'), 1, f"{raw_name} version {obj['version']} appears twice: the first is kept", Severity.WARNING))
                continue
            seen.add(obj["version"])
            made = _version(source, obj, folder, names, by_name, out.problems)
            if made is not None:
                out.versions.append(made)
    if out.versions:
        latest: dict[str, SourceVersion] = {}
        for version in out.versions:
            latest[version.prompt] = version
        out.files = [f for v in latest.values() for f in v.files]
    return out


def _version(source: Source, obj: dict[str, Any], folder: str, names: dict[str, str], by_name: dict[str, list[dict[str, Any]]], problems: list[Problem]) -> SourceVersion | None:
    raw_name, number = obj["name"], obj["version"]
    label = f"{raw_name} v{number}"
    line = _line_of(source.text, f'"name": {json.dumps(raw_name)}')

    def lost(message: str, hint: str | None = None) -> None:
        problems.append(Problem(source.path, line, 1, f"{label}: {message}", Severity.WARNING, hint))

    name = posixpath.join(source.prefix, names[raw_name]) if source.prefix else names[raw_name]
    partial_files: list[OutputFile] = []

    def reference(spec: str, text: str) -> str:
        fields = dict(part.split("=", 1) for part in spec.split("|") if "=" in part)
        target = fields.get("name")
        candidates = by_name.get(target or "", [])
        found = None
        if "version" in fields:
            found = next((c for c in candidates if str(c.get("version")) == fields["version"]), None)
        elif "label" in fields:
            found = next((c for c in candidates if fields["label"] in (c.get("labels") or [])), None)
        if found is None or found.get("type") != "text" or not isinstance(found.get("prompt"), str):
            lost(f"the reference {text} names a text prompt version that is not in this file: kept as text", hint="export the referenced prompt too")
            return escape_literal(text)
        partial = posixpath.join(source.prefix, "_langfuse", names[found["name"]], f"v{found['version']}.jinja") if source.prefix else posixpath.join("_langfuse", names[found["name"]], f"v{found['version']}.jinja")
        inner = _template(found["prompt"], lost, reference)
        partial_files.append(OutputFile(posixpath.join("prompts", partial), inner + "\n"))
        return '{% include "' + partial + '" %}'

    document: dict[str, Any] = {}
    tags = [str(t) for t in obj.get("tags") or []]
    document["tags"] = [*tags, "imported", "langfuse"]
    config = mapping(obj.get("config"))
    model: dict[str, Any] = {}
    parameters: dict[str, Any] = {}
    carried: dict[str, Any] = {}
    for key, value in config.items():
        if key == "model" and isinstance(value, str):
            model = {"provider": "openai", "name": value}
        elif key in MODEL_KEYS:
            parameters[key] = value
        elif key in TOP_FIELDS:
            carried[key] = value
        elif key == "description" and isinstance(value, str):
            document["description"] = value
        else:
            lost(f"config `{key}` not carried over")
    if parameters:
        model = {"provider": "openai", **model, "parameters": parameters}
    if model:
        document["model"] = model
    kind = obj.get("type", "text")
    prompt = obj.get("prompt")
    variables: list[str] = []
    if kind == "chat" and isinstance(prompt, list):
        messages = []
        for message in prompt:
            if isinstance(message, dict) and message.get("type") == "placeholder":
                lost(f"chat placeholder {message.get('name')!r} not carried over (the workbench has no message-list inputs)")
                continue
            if not isinstance(message, dict) or not isinstance(message.get("content"), str):
                lost("a chat message without text content is not carried over")
                continue
            role = message.get("role")
            if role not in ("system", "user", "assistant"):
                lost(f"message role {role!r} not carried over")
                continue
            messages.append({"role": role, "content": _template(message["content"], lost, reference)})
        body: dict[str, Any] = {"messages": messages}
    elif isinstance(prompt, str):
        body = {"template": _template(prompt, lost, reference)}
    else:
        lost(f"prompt of type {kind!r} not understood: version skipped")
        return None
    from workbench.core.formats.templating import jinja_variables

    texts = [m["content"] for m in body.get("messages", [])] + ([body["template"]] if "template" in body else [])
    texts += [f.text for f in partial_files]
    for text in texts:
        variables.extend(v for v in jinja_variables(text) if v not in variables)
    if variables:
        # Langfuse leaves a variable it is not given as it is; the workbench asks for each one.
        document["inputs"] = {v: {"type": "string", "required": True} for v in sorted(variables)}
    document.update(body)
    document.update(carried)
    for key in obj:
        if key not in KNOWN:
            lost(f"`{key}` not carried over")
    message = obj.get("commitMessage") if isinstance(obj.get("commitMessage"), str) and obj["commitMessage"].strip() else f"{raw_name}: Langfuse version {number}"
    files = (OutputFile(posixpath.join(folder, f"{names[raw_name]}.yaml"), dump_yaml(document)), *partial_files)
    return SourceVersion(
        prompt=name,
        number=number,
        files=files,
        message=str(message),
        when=obj.get("createdAt") if isinstance(obj.get("createdAt"), str) else None,
        author=obj.get("createdBy") if isinstance(obj.get("createdBy"), str) and obj["createdBy"].strip() else None,
        labels=tuple(str(label) for label in obj.get("labels") or []),
        key=f"langfuse {raw_name} v{number}",
    )


# ------------------------------------------------------------------ export
def export(items: list[ExportItem]) -> Conversion:
    """The versions of what an environment runs, as Langfuse prompt objects (`{"data": [...]}`)."""
    out = Conversion()
    objects: list[dict[str, Any]] = []
    for item in items:
        number = 0
        for version in item.versions:
            prompt = version.prompt
            where = f"{prompt.path}@{version.version or version.commit[:10]}"
            partials = partial_texts(prompt)
            obj: dict[str, Any] = {"name": item.name}
            failed = ""
            if prompt.template is not None:
                text, why = jinja_to_placeholders(prompt.template, partials)
                obj["type"], obj["prompt"] = "text", text
                failed = why if text is None else ""
            else:
                messages = []
                for message in prompt.messages:
                    text, why = jinja_to_placeholders(message.content, partials)
                    if text is None:
                        failed = why
                        break
                    messages.append({"role": message.role, "content": text})
                obj["type"], obj["prompt"] = "chat", messages
            if failed:
                out.problems.append(Problem(where, 1, 1, f"not exported: Langfuse substitutes only {{{{var}}}}, and {failed}", Severity.WARNING))
                continue
            number += 1
            obj["version"] = number
            config: dict[str, Any] = {}
            if prompt.model.name:
                config["model"] = prompt.model.name
            config.update(prompt.model.parameters)
            if prompt.tools:
                config["tools"] = [dict(t) for t in prompt.tools]
            if prompt.tool_choice is not None:
                config["tool_choice"] = prompt.tool_choice
            if prompt.response_format is not None:
                config["response_format"] = dict(prompt.response_format)
            if prompt.description:
                config["description"] = prompt.description
            obj["config"] = config
            obj["labels"] = list(version.labels)
            obj["tags"] = [t for t in prompt.tags if t not in ("imported", "langfuse")]
            if version.message:
                obj["commitMessage"] = version.message.split("\n\nImported-From:", 1)[0].strip()
            if version.when:
                obj["createdAt"] = version.when
            if version.author:
                obj["createdBy"] = version.author
            if prompt.tests:
                out.problems.append(Problem(where, 1, 1, "tests not exported: a Langfuse prompt has no tests", Severity.WARNING))
            for spec in prompt.inputs:
                if spec.has_default:
                    out.problems.append(Problem(where, 1, 1, f"the default of `{spec.name}` is not exported: a Langfuse prompt's variables have none", Severity.WARNING))
            objects.append(obj)
    out.files.append(OutputFile("langfuse-prompts.json", json.dumps({"data": objects}, indent=2, ensure_ascii=False) + "\n"))
    return out
